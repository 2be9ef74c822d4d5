// `npm test`: the whole suite, exactly what CI runs. Installs what tests need (Python tools
// in .venv, idempotent), type-checks, lints and checks formatting (uncached: a type change elsewhere can change a
// file's findings), then runs vitest. Exit code is the first failure's.
import { spawnSync } from 'node:child_process';

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env });
  if (r.status !== 0) {
    process.stderr.write(`npm test: "${cmd} ${args.join(' ')}" failed (exit ${r.status ?? r.signal})\n`);
    process.exit(r.status ?? 1);
  }
}

run('bash', ['scripts/setup-python.sh']);
run('npx', ['tsc', '-p', 'tsconfig.json']);
run('npx', ['eslint', '.']);
run('npx', ['prettier', '--check', '--log-level', 'warn', '**/*.{ts,js}']);
run('npx', ['vitest', 'run', ...process.argv.slice(2)]);
