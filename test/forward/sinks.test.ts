import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sink } from '../../lib/engine/stages.ts';
import { SinkSetupError } from '../../lib/forward/errors.ts';
import { hecEventProblems, sourcetypeFor } from '../../lib/forward/hec.ts';
import type { RemoteSinkReport } from '../../lib/forward/remote-sink.ts';
import { createSink, type CreateSinkOptions } from '../../lib/forward/sinks.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, tempDir } from '../support/cli.ts';
import { FakeSiem } from '../support/fake-siem.ts';
import { QUICK_RETRY, manyEvents, uids } from './helpers.ts';

let siem: FakeSiem;
let dir: string;

beforeEach(async () => {
  siem = await FakeSiem.start();
  dir = tempDir('kitewatch-forward-');
});
afterEach(async () => {
  await siem.close();
});

function hec(opts: CreateSinkOptions = {}): Sink {
  const sink = createSink(`splunk-hec:${siem.baseUrl}`, {
    env: { SPLUNK_HEC_TOKEN: siem.hecToken },
    retry: QUICK_RETRY,
    spillDir: join(dir, 'spill'),
    ...opts,
  });
  if (sink === undefined) throw new Error('splunk-hec: not recognized');
  return sink;
}

function http(opts: CreateSinkOptions = {}): Sink {
  const sink = createSink(`http:${siem.ingestUrl}`, { env: {}, retry: QUICK_RETRY, spillDir: join(dir, 'spill'), ...opts });
  if (sink === undefined) throw new Error('http: not recognized');
  return sink;
}

async function run(sink: Sink, events: readonly OcsfEvent[]): Promise<RemoteSinkReport> {
  for (const e of events) await sink.write(e);
  return (await sink.close()) as RemoteSinkReport;
}

function spilledUids(report: RemoteSinkReport): string[] {
  if (report.spillPath === undefined) return [];
  return uids(ndjson(readFileSync(report.spillPath, 'utf8')));
}

function hecUids(): string[] {
  return uids(siem.hecEvents);
}

describe('remote sinks deliver every event exactly once when the destination recovers', () => {
  it('HEC: 503 for the first requests, then all 1200 events arrive once, in batches within the HEC limits', async () => {
    const events = manyEvents(1200);
    siem.failNext(2, { kind: 'status', status: 503 });
    const report = await run(hec(), events);
    expect(report).toMatchObject({ delivered: 1200, spilled: 0, duplicates: 0 });
    expect(report.spillPath).toBeUndefined();
    expect(hecUids()).toEqual(uids(events));
    const accepted = siem.requests.filter((r) => r.outcome === 200);
    expect(accepted.reduce((n, r) => n + r.events, 0)).toBe(1200);
    for (const r of accepted) {
      expect(r.events).toBeLessThanOrEqual(500);
      expect(r.bytes).toBeLessThanOrEqual(1_000_000);
    }
    // Full batches: bytes, not the count, are the binding limit for ~3 KB events.
    expect(accepted[0]?.bytes).toBeGreaterThan(900_000);
    expect(siem.requests.filter((r) => r.outcome === 503)).toHaveLength(2);
  });

  it('HEC: 503 for a while (a time window) is ridden out with backoff', async () => {
    const events = manyEvents(300);
    siem.failFor(150, { kind: 'status', status: 503 });
    const report = await run(hec({ retry: { maxAttempts: 30, baseDelayMs: 10, maxDelayMs: 40, timeoutMs: 2_000 } }), events);
    expect(report).toMatchObject({ delivered: 300, spilled: 0 });
    expect(hecUids()).toEqual(uids(events));
  });

  it('http: a reset connection is retried and nothing is duplicated', async () => {
    const events = manyEvents(50);
    siem.failNext(2, { kind: 'reset' });
    const report = await run(http(), events);
    expect(report).toMatchObject({ delivered: 50, spilled: 0 });
    expect(uids(siem.httpEvents)).toEqual(uids(events));
    expect(siem.requests.map((r) => r.outcome)).toEqual(['reset', 'reset', 200]);
  });

  it('http: a slow answer within the timeout is waited for, not retried', async () => {
    const events = manyEvents(10);
    siem.failNext(1, { kind: 'slow', delayMs: 200 });
    const report = await run(http(), events);
    expect(report).toMatchObject({ delivered: 10, spilled: 0 });
    expect(siem.requests).toHaveLength(1);
    expect(uids(siem.httpEvents)).toEqual(uids(events));
  });

  it('http: an answer slower than the timeout is retried with the same request id, so the receiver can drop the copy', async () => {
    const events = manyEvents(10);
    siem.failNext(1, { kind: 'slow', delayMs: 1_500 });
    const report = await run(http({ retry: { ...QUICK_RETRY, timeoutMs: 300 } }), events);
    expect(report).toMatchObject({ delivered: 10, spilled: 0 });
    // The server processed the timed-out request too: the copy carries the same request id.
    const ids = siem.requests.map((r) => r.requestId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(1);
    expect(siem.httpEvents).toHaveLength(20);
    const deduped = [...new Map(siem.httpEvents.map((a) => [`${a.requestId}/${uids([a])[0]}`, a])).values()];
    expect(uids(deduped)).toEqual(uids(events));
  });

  it('HEC: a 429 with Retry-After waits as long as the server asks (up to the cap)', async () => {
    const waits: number[] = [];
    siem.failNext(1, { kind: 'status', status: 429, retryAfter: '1', body: '{"text":"Too many requests","code":9}' });
    const report = await run(hec({ retry: { ...QUICK_RETRY, maxDelayMs: 5_000, sleep: async (ms) => void waits.push(ms) } }), manyEvents(5));
    expect(report).toMatchObject({ delivered: 5, spilled: 0 });
    expect(waits).toEqual([1000]);
  });

  it('HEC: a body over the server limit (413) is split until it fits', async () => {
    await siem.close();
    siem = await FakeSiem.start({ maxContentLength: 40_000 });
    const events = manyEvents(200);
    const report = await run(hec(), events);
    expect(report).toMatchObject({ delivered: 200, spilled: 0 });
    expect(hecUids()).toEqual(uids(events));
    expect(siem.requests.some((r) => r.outcome === 413)).toBe(true);
  });
});

describe('the spill file holds exactly the events that did not arrive', () => {
  it('HEC never recovers: every event is spilled, and a dead endpoint costs one request per later batch', async () => {
    const events = manyEvents(1200);
    siem.failAlways({ kind: 'status', status: 503 });
    const report = await run(hec({ batch: { maxEvents: 100 } }), events);
    expect(report).toMatchObject({ delivered: 0, spilled: 1200 });
    expect(spilledUids(report)).toEqual(uids(events));
    expect(siem.hecEvents).toHaveLength(0);
    // 4 attempts for the first batch, then one each for the 11 others.
    expect(siem.requests).toHaveLength(QUICK_RETRY.maxAttempts! + 11);
    expect(report.failures.map((f) => f.reason)).toEqual(['HTTP 503: Server is busy (HEC code 9) (after 4 attempts)', 'HTTP 503: Server is busy (HEC code 9) (after 1 attempt)']);
  });

  it('the destination goes down mid-run: what arrived is not spilled, what did not is', async () => {
    const events = manyEvents(1000);
    const sink = hec({ batch: { maxEvents: 100 } });
    for (const e of events.slice(0, 500)) await sink.write(e);
    siem.failAlways({ kind: 'reset' });
    for (const e of events.slice(500)) await sink.write(e);
    const report = (await sink.close()) as RemoteSinkReport;
    expect(report).toMatchObject({ delivered: 500, spilled: 500 });
    expect(hecUids()).toEqual(uids(events.slice(0, 500)));
    expect(spilledUids(report)).toEqual(uids(events.slice(500)));
  });

  it('HEC rejects one event of a batch: the ones before it are indexed, it is spilled, the rest are sent again', async () => {
    const events = manyEvents(20);
    siem.failNext(1, { kind: 'hec-invalid', eventNumber: 3 });
    const report = await run(hec(), events);
    expect(report).toMatchObject({ delivered: 19, spilled: 1 });
    expect(spilledUids(report)).toEqual([events[3]?.metadata.uid]);
    expect(hecUids()).toEqual(uids([...events.slice(0, 3), ...events.slice(4)]));
    expect(report.failures).toEqual([{ reason: 'HTTP 400: Invalid data format (HEC code 6)', events: 1 }]);
  });

  it('a wrong token is not retried; the spill file and the report never contain the token', async () => {
    const secret = 'not-the-token-5f2d9c';
    const events = manyEvents(30);
    const report = await run(hec({ env: { SPLUNK_HEC_TOKEN: secret } }), events);
    expect(report).toMatchObject({ delivered: 0, spilled: 30 });
    expect(siem.requests).toHaveLength(1);
    expect(report.failures[0]?.reason).toBe('HTTP 403: Invalid token (HEC code 4)');
    expect(readFileSync(report.spillPath as string, 'utf8')).not.toContain(secret);
    expect(JSON.stringify(report)).not.toContain(secret);
  });

  it('each run spills to a new default file under the spill directory', async () => {
    siem.failAlways({ kind: 'status', status: 500 });
    const first = await run(hec(), manyEvents(3));
    const second = await run(hec(), manyEvents(3));
    expect(first.spillPath).not.toBe(second.spillPath);
    expect(first.spillPath).toMatch(/splunk-hec-\d{8}T\d{9}Z(-\d+)?\.ndjson$/);
    expect(readdirSync(join(dir, 'spill'))).toHaveLength(2);
  });

  it('--spill PATH is used as given, created only when something spills, and never overwritten', async () => {
    const path = join(dir, 'out', 'left.ndjson');
    const clean = await run(hec({ spill: path }), manyEvents(3));
    expect(clean.spilled).toBe(0);
    expect(existsSync(path)).toBe(false);
    siem.failAlways({ kind: 'status', status: 502 });
    const report = await run(hec({ spill: path }), manyEvents(3));
    expect(report.spillPath).toBe(path);
    expect(() => hec({ spill: path })).toThrow(/already exists/);
  });

  it('two sinks cannot share one --spill file', async () => {
    const path = join(dir, 'shared.ndjson');
    const a = hec({ spill: path });
    expect(() => http({ spill: path })).toThrow(SinkSetupError);
    await a.close();
    // Released at close: a later run may use the path (it was never created).
    await http({ spill: path }).close();
  });
});

describe('remote sink behavior', () => {
  it('sends each metadata.uid once per run', async () => {
    const events = manyEvents(40);
    const sink = http();
    for (const e of [...events, ...events.slice(0, 10)]) await sink.write(e);
    const report = (await sink.close()) as RemoteSinkReport;
    expect(report).toMatchObject({ delivered: 40, duplicates: 10, spilled: 0 });
    expect(uids(siem.httpEvents)).toEqual(uids(events));
  });

  it('HEC batches arrive in the format Splunk accepts, one sourcetype per class', async () => {
    const events = manyEvents(30);
    await run(hec(), events);
    expect(siem.hecEvents).toHaveLength(30);
    for (const [i, e] of siem.hecEvents.entries()) {
      expect(hecEventProblems(e)).toEqual([]);
      const source = events[i] as OcsfEvent;
      expect(e['sourcetype']).toBe(sourcetypeFor(source.class_uid));
      expect(e['time']).toBe(source.time / 1000);
    }
  });

  it('a partial batch is sent after the linger time, before close', async () => {
    const sink = http({ batch: { lingerMs: 30 } });
    for (const e of manyEvents(3)) await sink.write(e);
    await new Promise((r) => setTimeout(r, 300));
    expect(siem.httpEvents).toHaveLength(3);
    await sink.close();
  });

  it('http: sends KITEWATCH_HTTP_AUTHORIZATION as the Authorization header', async () => {
    await siem.close();
    siem = await FakeSiem.start({ httpAuthorization: 'Bearer abc123' });
    const report = await run(http({ env: { KITEWATCH_HTTP_AUTHORIZATION: 'Bearer abc123' } }), manyEvents(2));
    expect(report).toMatchObject({ delivered: 2, spilled: 0 });
  });
});

describe('redirects', () => {
  it('are not followed: a POST must not silently become a GET', async () => {
    siem.failAlways({ kind: 'status', status: 301, body: '' });
    const report = await run(http(), manyEvents(3));
    expect(report).toMatchObject({ delivered: 0, spilled: 3 });
    expect(report.failures[0]?.reason).toBe('HTTP 301 redirect (not followed; give the final URL)');
    expect(siem.requests).toHaveLength(1);
  });
});

describe('createSink refuses what it cannot use, with a message for the user', () => {
  it('returns undefined for specs that are not remote sinks', () => {
    for (const spec of ['stdout', 'file:x.ndjson', 'kafka:broker:9092', 's3:bucket']) expect(createSink(spec, { env: {} })).toBeUndefined();
  });

  it('splunk-hec without SPLUNK_HEC_TOKEN', () => {
    expect(() => createSink('splunk-hec:https://splunk.example:8088', { env: {} })).toThrow(/set SPLUNK_HEC_TOKEN/);
    expect(() => createSink('splunk-hec:https://splunk.example:8088', { env: { SPLUNK_HEC_TOKEN: '  ' } })).toThrow(SinkSetupError);
  });

  it('a secret over plain http to another host', () => {
    expect(() => createSink('splunk-hec:http://splunk.example:8088', { env: { SPLUNK_HEC_TOKEN: 't' } })).toThrow(/unencrypted/);
    expect(() => createSink('http:http://siem.example/x', { env: { KITEWATCH_HTTP_AUTHORIZATION: 'Bearer t' } })).toThrow(/unencrypted/);
    expect(createSink('http:http://siem.example/x', { env: {} })).toBeDefined();
  });

  it('a bad retry setting names the variable', () => {
    expect(() => createSink('http:https://siem.example/x', { env: { KITEWATCH_SINK_MAX_ATTEMPTS: 'lots' } })).toThrow(/KITEWATCH_SINK_MAX_ATTEMPTS/);
  });
});
