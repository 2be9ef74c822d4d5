import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const KITEWATCH = join(ROOT, 'bin', 'kitewatch.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real CLI in a child process (same Node binary as the tests), optionally feeding stdin. */
export function runCli(args: readonly string[], opts: { stdin?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KITEWATCH, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

export function tempDir(prefix = 'kitewatch-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function ndjson(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Parses the `events=N normalized=N ...` summary line from stderr. */
export function summary(stderr: string): Record<string, number> {
  const line = stderr.split('\n').find((l) => l.startsWith('events='));
  if (line === undefined) throw new Error(`no summary line in stderr:\n${stderr}`);
  return Object.fromEntries(
    line.split(' ').map((kv) => {
      const [k, v] = kv.split('=');
      return [k as string, Number(v)];
    }),
  );
}
