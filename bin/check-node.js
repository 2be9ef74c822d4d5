#!/usr/bin/env node
// Plain JavaScript, so that any Node runs it far enough to say what is wrong: Kitewatch itself is
// TypeScript, run by Node's type stripping (Node >= 22.18). `node bin/check-node.js` exits 1 with
// the explanation when this Node cannot run it; the CLI and the npm scripts call it first.

/** Why this Node cannot run Kitewatch, or undefined when it can. */
export function nodeProblem() {
  if (process.features.typescript) return undefined;
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  const where = `Node ${process.version} (${process.execPath})`;
  if (major > 22 || (major === 22 && minor >= 18)) {
    return `kitewatch: ${where} has type stripping turned off (--no-experimental-strip-types, in NODE_OPTIONS?); Kitewatch is TypeScript run by Node directly: remove that option.\n`;
  }
  return [
    `kitewatch: ${where} cannot run TypeScript; Kitewatch needs Node 22.18 or later (24 recommended).`,
    '`npm ci` installs Node 24 for npx and the npm scripts (the "node" dev package), through an install script;',
    'with `npm ci --ignore-scripts` that script did not run. Either run `npm rebuild node` once (or `npm ci`',
    'without --ignore-scripts) and use `npx kitewatch ...` / `npm test`, or put Node 24 first on your PATH.',
    '',
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problem = nodeProblem();
  if (problem !== undefined) {
    process.stderr.write(problem);
    process.exit(1);
  }
}
