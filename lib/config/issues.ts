// No imports beyond zod's types: Lambda bundles use this without the whole config schema.
/** Formats zod issues as `path.to.key: message` lines, naming unknown keys. */
export function describeIssues(error: { issues: ReadonlyArray<import('zod').core.$ZodIssue> }): string {
  return error.issues
    .map((issue) => {
      const where = issue.path.length > 0 ? issue.path.join('.') : '(root)';
      if (issue.code === 'unrecognized_keys') {
        const keys = issue.keys.map((k) => (where === '(root)' ? k : `${where}.${k}`));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `${where}: ${issue.message}`;
    })
    .join('; ');
}
