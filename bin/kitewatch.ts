#!/usr/bin/env node
// The kitewatch CLI. Runs on Node >= 22.18 (type stripping); `npm ci` installs Node 24 for npm/npx.
import { main } from '../lib/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
