/** README sections rendered by the stages' own modules (detector catalog, runbooks). */
export function generatedSections(): Record<string, string> {
  return {};
}
