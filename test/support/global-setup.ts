/**
 * vitest globalSetup: starts ONE moto_server (from .venv, see scripts/setup-python.sh) for
 * the whole run and hands its endpoint to tests as inject('motoEndpoint').
 * Set MOTO_ENDPOINT to reuse a moto server that is already running instead.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    motoEndpoint: string;
  }
}

const MOTO_SERVER = fileURLToPath(new URL('../../.venv/bin/moto_server', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STDERR_KEEP = 8_192;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not pick a free port'));
      });
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}

interface Started {
  child: ChildProcess;
  url: string;
}

/** Resolves once moto answers; rejects if it exits first (e.g. port taken) or times out. */
async function startMoto(): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // moto logs every request on stderr: keep only the tail, for start-up errors.
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_KEEP);
  });
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? `code ${code}`}`;
  });
  child.once('error', (err) => {
    exited = `failed to start: ${err.message}`;
  });

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`moto_server ${exited}\n${stderr}`);
    if (await answers(url)) return { child, url };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`moto_server did not answer on ${url} within ${START_TIMEOUT_MS} ms\n${stderr}`);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await gone;
  clearTimeout(timer);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env['MOTO_ENDPOINT'];
  if (external) {
    project.provide('motoEndpoint', external.replace(/\/+$/, ''));
    return async () => {};
  }
  if (!existsSync(MOTO_SERVER)) {
    throw new Error(`${MOTO_SERVER} not found: the Python test tools are not installed. ` + 'Run `npm test` (it runs scripts/setup-python.sh first), or `npm run setup:python` once.');
  }

  // Retry only for the small race between picking a free port and moto binding it.
  let started: Started | undefined;
  let lastError: unknown;
  const t0 = performance.now();
  for (let attempt = 0; attempt < 3 && !started; attempt++) {
    try {
      started = await startMoto();
    } catch (err) {
      lastError = err;
    }
  }
  if (!started) throw lastError;
  const { child, url } = started;
  if (process.env['KITEWATCH_DEBUG_MOTO']) {
    console.log(`moto_server ready on ${url} in ${Math.round(performance.now() - t0)} ms`);
  }

  // If vitest dies without running teardown, don't leave moto behind.
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  project.provide('motoEndpoint', url);

  return async () => {
    process.off('exit', onExit);
    await stop(child);
  };
}
