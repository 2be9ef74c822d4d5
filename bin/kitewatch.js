#!/usr/bin/env node
// The kitewatch command. It checks the Node first (bin/check-node.js), so an old Node gets an
// explanation rather than ERR_UNKNOWN_FILE_EXTENSION, then runs the CLI (bin/kitewatch.ts).
import { nodeProblem } from './check-node.js';

const problem = nodeProblem();
if (problem === undefined) {
  await import('./kitewatch.ts');
} else {
  process.stderr.write(problem);
  process.exitCode = 1;
}
