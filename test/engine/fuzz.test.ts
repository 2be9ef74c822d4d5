/**
 * Fuzz: 10,000+ seeded mutations of real payloads (the docs' 18 EventBridge samples and the
 * detectors' audit events), as NDJSON text and as SQS records. Whatever the input, nothing
 * crashes, every input is counted once (events = normalized + quarantined), every quarantine
 * record has a reason, and every event that comes out is valid OCSF 1.8: locally (line reader,
 * normalizer, rules, detectors) and through the normalize Lambda's handler.
 *
 * The seed is printed on failure; KITEWATCH_FUZZ_SEED replays a run, KITEWATCH_FUZZ_N sizes it.
 */
import { Readable } from 'node:stream';
import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createNormalizer } from '../../lambdas/normalize/process.ts';
import { createLogger } from '../../lambdas/shared/logger.ts';
import { AUDIT_EVENT_TYPES } from '../../lib/contracts/audit-event-types.ts';
import { parseConfig } from '../../lib/config/load.ts';
import { audit, prng } from '../../lib/detections/builders.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import { readInputsFrom } from '../../lib/engine/input.ts';
import { LocalPipeline } from '../../lib/engine/pipeline.ts';
import type { QuarantineRecord } from '../../lib/engine/quarantine.ts';
import { loadRules } from '../../lib/engine/rules.ts';
import type { Sink } from '../../lib/engine/stages.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { validateOcsf } from '../../lib/ocsf/validate.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { sample, sampleSlugs } from '../support/fixtures.ts';

const N = Number(process.env['KITEWATCH_FUZZ_N'] ?? 10_000);
const SEED = Number(process.env['KITEWATCH_FUZZ_SEED'] ?? 0x6b697465);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function bases(): Json[] {
  const out: Json[] = sampleSlugs().map((s) => sample(s) as Json);
  const actor = { uuid: '0d6f4c2e-8c1b-4a7e-9f00-0000000000aa', name: 'Jane Doe' };
  for (const [i, type] of ['NOTIFICATION_SERVICE_DISABLED', 'SECRET_READ', 'ORGANIZATION_MEMBER_UPDATED', 'AGENT_TOKEN_CREATED', 'TEAM_MEMBER_CREATED', 'USER_IMPERSONATED'].entries()) {
    out.push(
      audit({
        at: 1_772_535_600_000 + i * 60_000,
        type,
        actor,
        subject: { type: 'NotificationService', uuid: `0d6f4c2e-8c1b-4a7e-9f00-00000000010${i}`, name: 'Amazon EventBridge' },
        ip: '86.1.2.3',
      }) as unknown as Json,
    );
  }
  return out;
}

function nested(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { a: v } : [v];
  return v;
}

class Mutator {
  readonly #r: () => number;
  constructor(seed: number) {
    this.#r = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.#r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T;
  }

  value(): Json {
    switch (this.int(22)) {
      case 0:
        return null;
      case 1:
        return true;
      case 2:
        return -1;
      case 3:
        return 1e308;
      case 4:
        return '';
      case 5:
        return 'x'.repeat(this.int(3000));
      case 6:
        return { $gt: '' };
      case 7:
        return [];
      case 8:
        return {};
      case 9:
        return nested(50 + this.int(100));
      case 10:
        return 'a\u2028b\u2029c\rd\n';
      case 11:
        return this.pick(['constructor', 'toString', '__proto__', 'hasOwnProperty']);
      case 12:
        return this.pick(['2026-03-03T11:00:00Z', '2026-03-03 11:00:00 UTC', '2026-02-30 11:00:00 UTC', '2026-03-03T11:00:00+01:00', 'yesterday']);
      case 13:
        return this.pick(AUDIT_EVENT_TYPES);
      case 14:
        return this.pick(['OrganizationUpdatedEvent', 'SecretReadEvent', 'organization.updated', 'QuantumTeleportedEvent']);
      case 15:
        return this.pick(['192.0.2.1', '::1', '999.1.1.1', '10.0.0.1/8', 'not-an-ip']);
      case 16:
        return JSON.stringify({ requestIpAddress: '198.51.100.7', sessionUser: { uuid: 'u' }, __typename: 'AuditWebContext' });
      case 17:
        return { type: 'WebContext', request_ip: '192.0.2.9', request_user_agent: 'curl' };
      case 18:
        return this.pick(['Build Started', 'Agent Blocked', 'Audit Event Logged', 'Cluster Token Registration Blocked', 'Something New']);
      case 19:
        return 12345678901234567890;
      case 20:
        return '\uFEFF\u0000\u202e';
      default:
        return [this.value(), this.value()];
    }
  }

  /** A copy of `v` with one to three mutations at random paths. */
  mutate(v: Json): Json {
    const copy = structuredClone(v);
    for (let k = 1 + this.int(3); k > 0; k--) this.#mutateOnce(copy);
    return copy;
  }

  #mutateOnce(root: Json): void {
    // Walk a random path down to an object or array.
    let cur: Json = root;
    for (let steps = this.int(6); steps > 0; steps--) {
      if (cur === null || typeof cur !== 'object') break;
      const keys: string[] = Array.isArray(cur) ? cur.map((_, i) => String(i)) : Object.keys(cur);
      if (keys.length === 0) break;
      const next: Json = (cur as Record<string, Json>)[this.pick(keys)] as Json;
      if (next === null || typeof next !== 'object') break;
      cur = next;
    }
    if (cur === null || typeof cur !== 'object') return;
    if (Array.isArray(cur)) {
      if (cur.length > 0 && this.int(2) === 0) cur.splice(this.int(cur.length), 1);
      else cur.push(this.value());
      return;
    }
    const keys = Object.keys(cur);
    const op = this.int(4);
    if (op === 0 && keys.length > 0) delete cur[this.pick(keys)];
    else if (op === 1) cur[this.pick(['__proto__', 'constructor', 'extra', 'agent', 'context', 'subject', 'actor'])] = this.value();
    else if (keys.length > 0) cur[this.pick(keys)] = this.value();
    else cur['k'] = this.value();
  }

  /** NDJSON text of a mutated input, sometimes damaged as text (cut, BOM, CRLF, stray bytes). */
  line(v: Json): string {
    let text = JSON.stringify(v);
    switch (this.int(12)) {
      case 0:
        text = text.slice(0, this.int(text.length));
        break;
      case 1:
        text = `${text}\r`;
        break;
      case 2:
        text = text.replace(/"([^"]*)"/, '"$1\u2028"');
        break;
      case 3:
        text = `{"a":${text}`;
        break;
      default:
        break;
    }
    return text.includes('\n') ? text.replaceAll('\n', '\\n') : text;
  }
}

function inputs(seed: number, n: number): string[] {
  const m = new Mutator(seed);
  const base = bases();
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const b = m.pick(base);
    // Unmutated inputs too: a run must also normalize the clean cases among the broken ones.
    lines.push(m.line(m.int(10) === 0 ? b : m.mutate(b)));
  }
  return lines;
}

function invalidOf(events: readonly OcsfEvent[]): string[] {
  const bad: string[] = [];
  for (const e of events) {
    const v = validateOcsf(e);
    if (!v.valid) bad.push(`${e.metadata?.uid}: ${v.errors.slice(0, 2).join('; ')}`);
  }
  return bad;
}

describe(`fuzz (seed ${SEED}, ${N} inputs)`, () => {
  const lines = inputs(SEED, N);

  it('locally: no crash, events = normalized + quarantined, every output valid OCSF, every quarantine record with a reason', async () => {
    const emitted: OcsfEvent[] = [];
    const sink: Sink = { name: 'fuzz', write: (e) => void emitted.push(e), close: async () => ({ delivered: emitted.length, spilled: 0 }) };
    const quarantined: QuarantineRecord[] = [];
    const state = new SqliteState({ path: ':memory:' });
    const pipeline = new LocalPipeline({
      rules: loadRules(),
      sinks: [sink],
      detect: createDetectStage(parseConfig({}), state),
      quarantine: async (r) => {
        quarantined.push(r);
        // What the quarantine file does with it: it must serialize.
        JSON.stringify(r);
      },
    });
    const stream = Readable.from([Buffer.from(`\uFEFF${lines.join('\n')}\n`, 'utf8')]);
    for await (const item of readInputsFrom(stream, 'fuzz')) await pipeline.process(item);
    await pipeline.finish();
    await state.close();

    const c = pipeline.counts;
    expect(c.events, `seed ${SEED}`).toBe(N);
    expect(c.normalized + c.quarantined, `seed ${SEED}`).toBe(c.events);
    expect(quarantined).toHaveLength(c.quarantined);
    for (const r of quarantined) expect(typeof r.reason === 'string' && r.reason.length > 0).toBe(true);
    expect(emitted.length).toBe(c.normalized + c.findings + c.actions);
    expect(invalidOf(emitted), `seed ${SEED}`).toEqual([]);
    // The mix is meaningful: plenty of both outcomes.
    expect(c.normalized).toBeGreaterThan(N * 0.2);
    expect(c.quarantined).toBeGreaterThan(N * 0.2);
  });

  it('through the normalize Lambda handler: no record fails, published + quarantined = records, every published event valid OCSF', async () => {
    const published: PutEventsRequestEntry[] = [];
    const stored: string[] = [];
    const normalizer = createNormalizer({
      // In-process clients: the handler's logic is under test here, moto covers the SDK calls in normalizer.test.ts.
      eventBridge: {
        send: async (command: { input: { Entries?: PutEventsRequestEntry[] } }) => {
          const entries = command.input.Entries ?? [];
          published.push(...entries);
          return { FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `e-${published.length}-${i}` })) };
        },
      } as never,
      s3: {
        send: async (command: { input: { Body?: string } }) => {
          stored.push(command.input.Body ?? '');
          return {};
        },
      } as never,
      eventBusName: 'kitewatch',
      quarantineBucket: 'quarantine',
      logger: createLogger({ serviceName: 'fuzz', logLevel: 'SILENT' }),
      metrics: { addMetric: () => undefined } as never,
    });
    let failures = 0;
    for (let start = 0; start < lines.length; start += 25) {
      const records = lines.slice(start, start + 25).map((body, i): SQSRecord => ({
        messageId: `m-${start + i}`,
        receiptHandle: 'r',
        body,
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.UTC(2026, 2, 3)), SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:ingest',
        awsRegion: 'us-east-1',
      }));
      const response = await normalizer.processBatch({ Records: records });
      failures += response.batchItemFailures.length;
    }
    expect(failures, `seed ${SEED}`).toBe(0);
    expect(published.length + stored.length, `seed ${SEED}`).toBe(N);
    for (const body of stored) expect((JSON.parse(body) as QuarantineRecord).reason.length).toBeGreaterThan(0);
    expect(invalidOf(published.map((e) => JSON.parse(e.Detail as string) as OcsfEvent)), `seed ${SEED}`).toEqual([]);
  });
});
