/**
 * Limits on hostile input, shared by the local pipeline and the Lambdas: an input past one of
 * them is quarantined with a reason that names the limit, and costs only itself.
 */

/**
 * Deepest JSON nesting accepted. Buildkite's payloads nest about 5 levels; recursive code
 * downstream (JSON.stringify, schema validators, SIEM parsers) overflows its stack in the
 * thousands, so 64 keeps a wide margin on both sides.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * True when `value` nests deeper than `max` objects/arrays. Recursion is bounded by `max`, so
 * this never overflows the stack itself, and it stops at the first branch too deep.
 */
export function nestedDeeperThan(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (max === 0) return true;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (nestedDeeperThan(value[i], max - 1)) return true;
    return false;
  }
  for (const k in value) {
    if (nestedDeeperThan((value as Record<string, unknown>)[k], max - 1)) return true;
  }
  return false;
}

export function tooDeepReason(max: number = MAX_JSON_DEPTH): string {
  return `JSON nested deeper than ${max} levels`;
}
