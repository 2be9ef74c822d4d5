/**
 * lambdas/normalize/process.ts in process, against moto: real SDK clients, real Powertools
 * batch processing, the docs' Buildkite payloads. Faults moto cannot produce (a rejected
 * PutEvents entry, a failed call) are injected as SDK middleware on the real client.
 */
import type { SQSRecord } from 'aws-lambda';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { NormalizeEnv, parseNormalizeEnv } from '../../lambdas/normalize/env.ts';
import { createNormalizer, PUT_EVENTS_MAX_BYTES, quarantineKey, type NormalizerDeps } from '../../lambdas/normalize/process.ts';
import { createLogger } from '../../lambdas/shared/logger.ts';
import { createMetrics } from '../../lambdas/shared/metrics.ts';
import { REDACTED } from '../../lambdas/shared/redact.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { clone, sample, sampleSlugs } from '../support/fixtures.ts';
import { instrumentedEventBridge } from '../support/moto.ts';
import { createIngestHarness, type IngestHarness } from './support/ingest-harness.ts';
import { sqsEvent, sqsRecord } from './support/sqs-event.ts';
import { logicalId, PARTNER_BUS, synthKitewatch, TEST_CONFIG } from './support/synth.ts';

let h: IngestHarness;
beforeAll(async () => {
  h = await createIngestHarness();
});

/** Captures what the Powertools logger writes (stdout and, for warn/error, stderr) and EMF metrics. */
function captureOutput(): { lines: () => string[]; restore: () => void } {
  const chunks: string[] = [];
  const write = (chunk: string | Uint8Array): boolean => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [vi.spyOn(process.stdout, 'write').mockImplementation(write), vi.spyOn(process.stderr, 'write').mockImplementation(write)];
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l.trim() !== ''),
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}

function deps(overrides: Partial<NormalizerDeps> = {}): NormalizerDeps {
  return {
    eventBridge: h.eventBridge,
    s3: h.s3,
    eventBusName: h.eventBusName,
    quarantineBucket: h.quarantineBucket,
    logger: createLogger({ serviceName: 'normalize-test', logLevel: 'SILENT' }),
    metrics: createMetrics({ serviceName: 'normalize-test' }),
    ...overrides,
  };
}

function debugLogger(): NormalizerDeps['logger'] {
  return createLogger({ serviceName: 'normalize-test', logLevel: 'DEBUG' });
}

afterEach(() => {
  vi.restoreAllMocks();
});

const goodSlugs = sampleSlugs().filter((slug) => slug !== 'build-blocked');

describe('publishing normalized events', () => {
  it('publishes every docs payload as an OCSF event on the Kitewatch bus and quarantines none', async () => {
    const records = goodSlugs.map((slug) => sqsRecord(JSON.stringify(sample(slug))));
    const out = captureOutput();
    let response;
    try {
      response = await createNormalizer(deps({ logger: debugLogger() })).processBatch(sqsEvent(records));
    } finally {
      out.restore();
    }
    expect(response).toEqual({ batchItemFailures: [] });
    const published = await h.drainPublished(records.length);
    expect(published).toHaveLength(records.length);
    for (const envelope of published) {
      expect(envelope).toMatchObject({ source: 'kitewatch', 'detail-type': 'OCSF Event' });
      const detail = envelope['detail'] as { metadata: { uid: string; version: string }; class_uid: number };
      expect(detail.metadata.version).toBe('1.8.0');
      expect(typeof detail.class_uid).toBe('number');
    }
    // The debug line names the event by uid, never by payload.
    expect(out.lines().some((l) => l.includes('"event published"'))).toBe(true);
    expect(out.lines().join('\n')).not.toContain('my-agent-1');
  });

  it('sends at most 10 entries per PutEvents call', async () => {
    const { client, calls } = instrumentedEventBridge();
    const records = Array.from({ length: 23 }, (_, i) => {
      const event = sample('agent-connected');
      event['id'] = `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
      return sqsRecord(JSON.stringify(event));
    });
    const response = await createNormalizer(deps({ eventBridge: client })).processBatch(sqsEvent(records));
    expect(response.batchItemFailures).toEqual([]);
    expect(calls()).toBe(3);
    await h.drainPublished(23);
  });

  it('fails exactly the records whose entries PutEvents rejected (FailedEntryCount)', async () => {
    // A final code: a retryable one (InternalFailure, ThrottlingException) is sent again first (test/engine/bus.test.ts).
    const { client } = instrumentedEventBridge({
      tamper: (output) => ({
        ...output,
        FailedEntryCount: 1,
        Entries: (output.Entries ?? []).map((e, i) => (i === 1 ? { ErrorCode: 'InvalidArgument', ErrorMessage: 'injected by the test' } : e)),
      }),
    });
    const records = ['agent-connected', 'agent-lost', 'job-started'].map((slug) => sqsRecord(JSON.stringify(sample(slug))));
    const response = await createNormalizer(deps({ eventBridge: client })).processBatch(sqsEvent(records));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: (records[1] as SQSRecord).messageId }]);
    await h.drainPublished(3);
  });

  it('fails only the records of a chunk whose PutEvents call failed', async () => {
    const { client } = instrumentedEventBridge({ throwOnCall: 2 });
    const records = Array.from({ length: 12 }, (_, i) => {
      const event = sample('job-finished');
      event['id'] = `11111111-0000-4000-8000-${i.toString().padStart(12, '0')}`;
      return sqsRecord(JSON.stringify(event));
    });
    const response = await createNormalizer(deps({ eventBridge: client })).processBatch(sqsEvent(records));
    // Chunks keep record order: the first ten went out, the last two share the failed call.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.slice(10).map((r) => r.messageId));
    await h.drainPublished(10);
  });
});

describe('partner source on AWS', () => {
  it('quarantines an event from another partner source, with the configured source taken from the synthesized template', async () => {
    const synth = synthKitewatch(TEST_CONFIG, { bundle: false });
    let variables: Record<string, unknown>;
    try {
      const fn = (synth.pipeline.toJSON()['Resources'] as Record<string, unknown>)[logicalId(synth.stacks.pipeline.normalizer.fn)] as {
        Properties: { Environment: { Variables: Record<string, unknown> } };
      };
      variables = fn.Properties.Environment.Variables;
    } finally {
      synth.cleanup();
    }
    const expected = variables[NormalizeEnv.expectedSource];
    expect(expected).toBe(PARTNER_BUS);
    // The deployed values, with the bus and bucket of this moto run in place of the stack imports.
    const settings = parseNormalizeEnv({ [NormalizeEnv.eventBusName]: h.eventBusName, [NormalizeEnv.quarantineBucket]: h.quarantineBucket, [NormalizeEnv.expectedSource]: expected as string });

    const ours = sample('agent-connected');
    ours['source'] = PARTNER_BUS;
    ours['id'] = '00000000-0000-4000-8000-00000000a001';
    const foreign = clone(ours);
    foreign['source'] = 'aws.partner/buildkite.com/other-org/0106-187c-12cd4fe';
    foreign['id'] = '00000000-0000-4000-8000-00000000a002';
    const [good, bad] = [sqsRecord(JSON.stringify(ours)), sqsRecord(JSON.stringify(foreign))];
    const response = await createNormalizer(deps({ expectedSource: settings.expectedSource })).processBatch(sqsEvent([good, bad]));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await h.drainPublished(1)).toHaveLength(1);
    const record = (await h.quarantined()).get(quarantineKey(bad.body, new Date(Number(bad.attributes.SentTimestamp))));
    expect(record?.reason).toBe(`source "aws.partner/buildkite.com/other-org/0106-187c-12cd4fe" is not the configured partner event source "${PARTNER_BUS}"`);
  }, 120_000);
});

describe('quarantine', () => {
  it('writes a QuarantineRecord with the reason for non-JSON and invalid envelopes, and counts them as processed', async () => {
    const notJson = sqsRecord('{"version":"0", truncated', Date.UTC(2026, 0, 2, 3, 4, 5));
    const invalid = sqsRecord(JSON.stringify(sample('build-blocked')), Date.UTC(2026, 0, 2, 3, 4, 5));
    const response = await createNormalizer(deps()).processBatch(sqsEvent([notJson, invalid]));
    expect(response).toEqual({ batchItemFailures: [] });

    const objects = await h.quarantined();
    const notJsonKey = quarantineKey(notJson.body, new Date(Date.UTC(2026, 0, 2)));
    expect(notJsonKey).toMatch(/^quarantine\/2026\/01\/02\/[0-9a-f]{64}\.json$/);
    expect(objects.get(notJsonKey)).toEqual({
      reason: 'SQS message body is not valid JSON',
      origin: `sqs:${notJson.messageId}`,
      raw: notJson.body,
    });
    const invalidRecord = objects.get(quarantineKey(invalid.body, new Date(Date.UTC(2026, 0, 2))));
    expect(invalidRecord?.reason).toMatch(/not a Buildkite partner event source/);
    expect(invalidRecord?.input).toEqual(sample('build-blocked'));
  });

  it('quarantines a body nested 5,000 levels deep with a reason and its raw text, instead of failing into the DLQ', async () => {
    const base = sample('audit-event-logged') as { detail: { event: { data: unknown } } };
    base.detail.event.data = '__DEEP__';
    const body = JSON.stringify(base).replace('"__DEEP__"', `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`);
    const deep = sqsRecord(body);
    const response = await createNormalizer(deps()).processBatch(sqsEvent([deep, sqsRecord(JSON.stringify(sample('agent-lost')))]));
    expect(response.batchItemFailures).toEqual([]);
    const record = (await h.quarantined()).get(quarantineKey(body, new Date(Number(deep.attributes.SentTimestamp))));
    expect(record).toEqual({ reason: 'JSON nested deeper than 64 levels', origin: `sqs:${deep.messageId}`, raw: body });
    await h.drainPublished(1);
  });

  it('quarantines a normalized event too large for PutEvents instead of failing forever', async () => {
    const huge = sqsRecord(JSON.stringify(sample('agent-connected')));
    // A normalizer that inflates a real event past the limit (real events are far below it).
    const normalize: NormalizerDeps['normalize'] = (input, options) => {
      const result = normalizeEnvelope(input, options);
      return result.ok ? { ok: true, event: { ...result.event, unmapped: { padding: 'x'.repeat(PUT_EVENTS_MAX_BYTES) } } } : result;
    };
    const response = await createNormalizer(deps({ normalize })).processBatch(sqsEvent([huge]));
    expect(response.batchItemFailures).toEqual([]);
    const record = (await h.quarantined()).get(quarantineKey(huge.body, new Date(Number(huge.attributes.SentTimestamp))));
    expect(record?.reason).toMatch(/over the 262144-byte PutEvents limit/);
  });

  it('fails the record (for redelivery) when the quarantine write fails', async () => {
    const record = sqsRecord('not json at all');
    const response = await createNormalizer(deps({ quarantineBucket: 'kitewatch-no-such-bucket' })).processBatch(sqsEvent([record, sqsRecord(JSON.stringify(sample('agent-stopped')))]));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.messageId }]);
    await h.drainPublished(1);
  });

  it('writes the same key on redelivery, so a message is quarantined once', async () => {
    const record = sqsRecord('<html>not an event</html>');
    const normalizer = createNormalizer(deps());
    await normalizer.processBatch(sqsEvent([record]));
    await normalizer.processBatch(sqsEvent([{ ...record, attributes: { ...record.attributes, ApproximateReceiveCount: '2' } }]));
    const keys = [...(await h.quarantined()).keys()].filter((k) => k.endsWith(`${quarantineKey(record.body, new Date()).split('/').at(-1)}`));
    expect(keys).toHaveLength(1);
  });
});

describe('logs and metrics', () => {
  const TOKEN = `bkua_${'a1B2c3D4e5'.repeat(4)}`;

  it('never writes a planted token to the log, even at DEBUG', async () => {
    const withToken = clone(sample('agent-connected'));
    (withToken['detail'] as { agent: { meta_data: string[] } }).agent.meta_data.push(`secret=${TOKEN}`);
    const badSource = clone(sample('agent-lost'));
    badSource['source'] = TOKEN;
    const records = [sqsRecord(JSON.stringify(withToken)), sqsRecord(JSON.stringify(badSource)), sqsRecord(`token=${TOKEN} and not JSON`)];
    const out = captureOutput();
    try {
      const response = await createNormalizer(deps({ logger: debugLogger() })).processBatch(sqsEvent(records));
      expect(response.batchItemFailures).toEqual([]);
    } finally {
      out.restore();
    }
    const log = out.lines().join('\n');
    expect(log).toContain('event quarantined');
    expect(log).not.toContain(TOKEN);
    await h.drainPublished(1);
  });

  it('redacts secret-named fields and token-shaped values in structured log attributes', () => {
    const out = captureOutput();
    try {
      createLogger({ serviceName: 'redaction-test' }).info('planted', {
        authorization: 'Bearer abc.def',
        nested: { api_key: 'plain-value', note: `uses ${TOKEN}`, jwt: 'x' },
        error: new Error(`failed with ${TOKEN}`),
      });
    } finally {
      out.restore();
    }
    const line = JSON.parse(out.lines().at(-1) ?? '{}') as Record<string, unknown>;
    expect(JSON.stringify(line)).not.toContain(TOKEN);
    expect(line['authorization']).toBe(REDACTED);
    expect(line['nested']).toMatchObject({ api_key: REDACTED, note: `uses ${REDACTED}` });
  });

  it('emits EventsPublished and EventsQuarantined as embedded metrics', async () => {
    const metrics = createMetrics({ serviceName: 'normalize-test' });
    await createNormalizer(deps({ metrics })).processBatch(sqsEvent([sqsRecord(JSON.stringify(sample('build-started'))), sqsRecord('nope')]));
    const out = captureOutput();
    try {
      metrics.publishStoredMetrics();
    } finally {
      out.restore();
    }
    const emf = out
      .lines()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => '_aws' in l);
    expect(emf).toMatchObject({ EventsPublished: 1, EventsQuarantined: 1, service: 'normalize-test' });
    await h.drainPublished(1);
  });

  it('counts FormatDrift for an audit event in the REST shape, normalized and published all the same', async () => {
    const metrics = createMetrics({ serviceName: 'normalize-test' });
    const drifted = sample('audit-event-logged') as { detail: { event: Record<string, unknown> } };
    drifted.detail.event['occurred_at'] = '2023-03-25T23:14:43.000Z';
    drifted.detail.event['type'] = 'OrganizationUpdatedEvent';
    const response = await createNormalizer(deps({ metrics })).processBatch(sqsEvent([sqsRecord(JSON.stringify(drifted)), sqsRecord(JSON.stringify(sample('audit-event-logged')))]));
    expect(response.batchItemFailures).toEqual([]);
    const out = captureOutput();
    try {
      metrics.publishStoredMetrics();
    } finally {
      out.restore();
    }
    const emf = out
      .lines()
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => '_aws' in l);
    expect(emf).toMatchObject({ EventsPublished: [1, 1], FormatDrift: 1, service: 'normalize-test' });
    await h.drainPublished(2);
  });
});
