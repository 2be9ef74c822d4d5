/**
 * Trust-boundary tests drive the real CLI: `kitewatch replay` in a child process, with
 * the production detectors and containment, against the local Buildkite API (test/support/fake-buildkite.ts).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Envelope } from '../../lib/detections/builders.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, runCli, type CliResult, tempDir } from '../support/cli.ts';
import type { FakeBuildkite } from '../support/fake-buildkite.ts';

export interface Replayed extends CliResult {
  readonly dir: string;
  readonly events: OcsfEvent[];
  readonly findings: OcsfEvent[];
  readonly activities: OcsfEvent[];
  readonly quarantine: Record<string, unknown>[];
}

/** Writes the envelopes and config to a fresh folder and replays them with the real CLI. */
export async function replayCli(opts: {
  readonly envelopes: readonly (Envelope | Record<string, unknown>)[];
  readonly config?: Record<string, unknown>;
  readonly bk?: FakeBuildkite;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}): Promise<Replayed> {
  const dir = tempDir('kitewatch-trust-');
  const input = join(dir, 'in.ndjson');
  writeFileSync(input, opts.envelopes.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const config = join(dir, 'kitewatch.config.json');
  writeFileSync(config, JSON.stringify(opts.config ?? {}));
  const out = join(dir, 'out.ndjson');
  const q = join(dir, 'q.ndjson');
  const args = ['replay', input, '--config', config, '--state', join(dir, 'state.db'), '--quarantine', q, '--out', out];
  if (opts.bk !== undefined) args.push('--buildkite-api-url', opts.bk.url, '--buildkite-graphql-url', opts.bk.graphqlUrl);
  const r = await runCli([...args, ...(opts.args ?? [])], { env: { BUILDKITE_API_TOKEN: opts.bk?.token ?? '', ...opts.env } });
  const events = existsSync(out) ? (ndjson(readFileSync(out, 'utf8')) as OcsfEvent[]) : [];
  return {
    ...r,
    dir,
    events,
    findings: events.filter((e) => e.class_uid === 2004),
    activities: events.filter((e) => e.class_uid === 7001),
    quarantine: existsSync(q) ? ndjson(readFileSync(q, 'utf8')) : [],
  };
}

export const statusOf = (e: OcsfEvent): [unknown, unknown, unknown] => [e['command_uid'], e.status, e['status_detail']];
