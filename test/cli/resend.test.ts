import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, runCli, summary, tempDir, type CliResult } from '../support/cli.ts';
import { EVENTBRIDGE_DIR } from '../support/fixtures.ts';
import { FakeSiem } from '../support/fake-siem.ts';
import { manyEvents, uids } from '../forward/helpers.ts';

const FAST = { KITEWATCH_SINK_MAX_ATTEMPTS: '3', KITEWATCH_SINK_BACKOFF_MS: '1', KITEWATCH_SINK_MAX_BACKOFF_MS: '5' };

let siem: FakeSiem;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  siem = await FakeSiem.start();
  dir = tempDir('kitewatch-resend-');
  env = { ...FAST, SPLUNK_HEC_TOKEN: siem.hecToken };
});
afterEach(async () => {
  await siem.close();
});

function replayArgs(...rest: string[]): string[] {
  return ['replay', EVENTBRIDGE_DIR, '--quarantine', join(dir, 'q.ndjson'), '--state', join(dir, 'state.db'), '--containment', 'off', ...rest];
}

/** Everything replay emits: normalized events, findings and remediation activities. */
function emitted(stderr: string): number {
  const s = summary(stderr);
  return (s['normalized'] ?? 0) + (s['findings'] ?? 0) + (s['actions'] ?? 0);
}

function spillLine(stderr: string): { count: number; path: string } {
  const m = /kitewatch: (\d+) event\(s\) could not be delivered.*spilled to (\S+) \(kitewatch resend/.exec(stderr);
  if (m === null) throw new Error(`no spill line in:\n${stderr}`);
  return { count: Number(m[1]), path: m[2] as string };
}

function writeSpill(events: readonly OcsfEvent[]): string {
  const path = join(dir, 'spill.ndjson');
  writeFileSync(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''));
  return path;
}

function expectNoSecret(r: CliResult): void {
  expect(r.stdout + r.stderr).not.toContain(siem.hecToken);
}

describe('kitewatch replay --sink (remote sinks)', () => {
  it('delivers every event to Splunk HEC and says so in the summary', async () => {
    const r = await runCli(replayArgs('--sink', `splunk-hec:${siem.baseUrl}`), { env, cwd: dir });
    expect(r.code).toBe(0);
    const n = emitted(r.stderr);
    expect(n).toBeGreaterThanOrEqual(17);
    expect(summary(r.stderr)).toMatchObject({ normalized: 17, delivered: n, spilled: 0 });
    expect(siem.hecEvents).toHaveLength(n);
    expect(new Set(uids(siem.hecEvents as { event: unknown }[])).size).toBe(n);
    expect(r.stdout).toBe('');
    expectNoSecret(r);
  });

  it('several sinks at once: HEC, http and a file each get every event', async () => {
    const file = join(dir, 'out.ndjson');
    const r = await runCli(replayArgs('--sink', `splunk-hec:${siem.baseUrl}`, '--sink', `http:${siem.ingestUrl}`, '--sink', `file:${file}`), { env, cwd: dir });
    expect(r.code).toBe(0);
    const n = emitted(r.stderr);
    expect(summary(r.stderr)).toMatchObject({ delivered: 3 * n, spilled: 0 });
    expect(siem.hecEvents).toHaveLength(n);
    expect(siem.httpEvents).toHaveLength(n);
    expect(ndjson(readFileSync(file, 'utf8'))).toHaveLength(n);
  });

  it('a destination that stays down: exit 1, the count and the spill file, which holds exactly the events; resend delivers them', async () => {
    siem.failAlways({ kind: 'status', status: 503 });
    const r = await runCli(replayArgs('--sink', `splunk-hec:${siem.baseUrl}`), { env, cwd: dir });
    expect(r.code).toBe(1);
    const n = emitted(r.stderr);
    expect(summary(r.stderr)).toMatchObject({ delivered: 0, spilled: n });
    const spilled = spillLine(r.stderr);
    expect(spilled.count).toBe(n);
    // Default: a new file under .kitewatch/spill/ of the working directory.
    expect(spilled.path).toMatch(/^\.kitewatch\/spill\/splunk-hec-\d{8}T\d{9}Z(-\d+)?\.ndjson$/);
    const path = join(dir, spilled.path);
    const events = ndjson(readFileSync(path, 'utf8')) as OcsfEvent[];
    expect(events).toHaveLength(n);
    expect(events.every((e) => e.class_uid > 0 && typeof e.metadata.uid === 'string')).toBe(true);

    siem.recover();
    const again = await runCli(['resend', path, '--sink', `splunk-hec:${siem.baseUrl}`], { env, cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).toContain(`events=${n} delivered=${n} spilled=0`);
    expect(uids(siem.hecEvents as { event: unknown }[])).toEqual(uids(events));
    expectNoSecret(again);
  });

  it('--spill PATH is where the undelivered events go', async () => {
    siem.failAlways({ kind: 'reset' });
    const path = join(dir, 'left', 'over.ndjson');
    const r = await runCli(replayArgs('--sink', `http:${siem.ingestUrl}`, '--spill', path), { env, cwd: dir });
    expect(r.code).toBe(1);
    const n = emitted(r.stderr);
    expect(spillLine(r.stderr)).toEqual({ count: n, path });
    expect(ndjson(readFileSync(path, 'utf8'))).toHaveLength(n);
  });
});

describe('kitewatch resend', () => {
  it('delivers a spill file once per metadata.uid and exits 0', async () => {
    const events = manyEvents(40);
    const path = writeSpill([...events, ...events.slice(0, 5)]);
    const r = await runCli(['resend', path, '--sink', `http:${siem.ingestUrl}`], { env, cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe('events=45 delivered=40 spilled=0');
    expect(uids(siem.httpEvents)).toEqual(uids(events));
    // The spill file is kept until the user deletes it.
    expect(existsSync(path)).toBe(true);
  });

  it('spills again what still cannot be delivered: exit 1, how many, where; exactly those events', async () => {
    const events = manyEvents(30);
    const path = writeSpill(events);
    siem.failNext(1, { kind: 'hec-invalid', eventNumber: 7 });
    const next = join(dir, 'next.ndjson');
    const r = await runCli(['resend', path, '--sink', `splunk-hec:${siem.baseUrl}`, '--spill', next], { env, cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('events=30 delivered=29 spilled=1');
    expect(r.stderr).toMatch(/1 event\(s\) could not be delivered to splunk-hec:http:\/\/127\.0\.0\.1:\d+\/ \(1: HTTP 400: Invalid data format \(HEC code 6\)\); spilled to /);
    expect(spillLine(r.stderr)).toEqual({ count: 1, path: next });
    expect(uids(ndjson(readFileSync(next, 'utf8')) as unknown as OcsfEvent[])).toEqual([events[7]?.metadata.uid]);
  });

  it('writes to stdout and file sinks too', async () => {
    const events = manyEvents(3);
    const path = writeSpill(events);
    const r = await runCli(['resend', path, '--sink', 'stdout'], { env, cwd: dir });
    expect(r.code).toBe(0);
    expect(ndjson(r.stdout)).toEqual(events);
  });

  it.each([
    [['resend'], /PATH of the spill file is required/],
    [['resend', 'missing.ndjson', '--sink', 'stdout'], /spill file not found: missing.ndjson/],
    [['resend', '{spill}'], /--sink SPEC is required/],
    [['resend', '{spill}', 'other.ndjson', '--sink', 'stdout'], /one spill file at a time/],
    [['resend', '{spill}', '--sink', 'http:127.0.0.1:9/x'], /write http:https:\/\/127\.0\.0\.1:9\/x/],
    [['resend', '{spill}', '--sink', 'kafka:x'], /unknown --sink "kafka:x"/],
    [['resend', '{spill}', '--sink', 'stdout', '--spill', '{spill}'], /--spill must be a new file/],
    [['resend', '{spill}', '--sink', 'file:{spill}'], /would overwrite the file being resent/],
    [['resend', '{spill}', '--sink', 'stdout', '--bogus'], /Unknown option '--bogus'/],
  ])('usage error %j -> exit 2', async (argv, message) => {
    const path = writeSpill(manyEvents(2));
    const r = await runCli(
      argv.map((a) => a.replace('{spill}', path)),
      { env, cwd: dir },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('(see kitewatch resend --help)');
  });

  it('splunk-hec without SPLUNK_HEC_TOKEN is a usage error that names the variable', async () => {
    const path = writeSpill(manyEvents(2));
    const r = await runCli(['resend', path, '--sink', `splunk-hec:${siem.baseUrl}`], { env: { ...FAST, SPLUNK_HEC_TOKEN: '' }, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('set SPLUNK_HEC_TOKEN');
    expect(siem.requests).toHaveLength(0);
  });

  it('a corrupt spill file is refused whole, with line numbers, before anything is sent', async () => {
    const events = manyEvents(3);
    const path = join(dir, 'bad.ndjson');
    writeFileSync(path, `${JSON.stringify(events[0])}\n{broken\n\n${JSON.stringify({ hello: 'world' })}\n`);
    const r = await runCli(['resend', path, '--sink', `http:${siem.ingestUrl}`], { env, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${path}:2: not valid JSON`);
    expect(r.stderr).toContain(`${path}:4: not an OCSF event`);
    expect(siem.requests).toHaveLength(0);
  });

  it('an existing --spill file is never overwritten', async () => {
    const path = writeSpill(manyEvents(2));
    const taken = join(dir, 'taken.ndjson');
    writeFileSync(taken, 'precious\n');
    const r = await runCli(['resend', path, '--sink', `http:${siem.ingestUrl}`, '--spill', taken], { env, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('already exists');
    expect(readFileSync(taken, 'utf8')).toBe('precious\n');
    expect(readdirSync(dir)).not.toContain('.kitewatch');
  });

  it('--help', async () => {
    const r = await runCli(['resend', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: kitewatch resend PATH --sink SPEC');
  });
});
