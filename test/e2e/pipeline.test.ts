/**
 * The whole pipeline on moto in server mode. Real Buildkite payloads go onto an
 * EventBridge bus; the rules as the CDK app synthesizes them route to SQS; each Lambda, built by the
 * compose() its handler.ts calls, consumes its queue in this process with the real SDK; state lives in DynamoDB; findings are
 * published; containment runs against the local Buildkite API and Secrets Manager; forwarding goes
 * through Firehose to S3 and to a local HTTP endpoint, and findings to Security Hub.
 *
 * Conservation, in every test: each input (an EventBridge event id, or an SQS message put on the
 * queue directly) is either a normalized event delivered exactly once to S3 and exactly once to
 * the HTTP endpoint (or, when the endpoint never took it, to the stream's backup), or exactly one
 * quarantine object with a reason; never both, never neither; no queue or dead-letter queue keeps
 * anything. harness.ts says what moto does not emulate and what the harness does in its place.
 */
import { readFileSync } from 'node:fs';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDetectStage } from '../../lib/detections/stage.ts';
import { DetectorsConfig } from '../../lib/detections/config.ts';
import { uid, type Envelope } from '../../lib/detections/builders.ts';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import { LocalPipeline } from '../../lib/engine/pipeline.ts';
import { loadRules } from '../../lib/engine/rules.ts';
import { asffId } from '../../lib/forward/asff.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { FakeSiem } from '../support/fake-siem.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { ciToken, prodClusterToken } from '../fixtures/scenarios/generate.ts';
import { account, createPipeline, readScenario, repeatedUids, STAGES, synthesizeRoutes, type IngestInput, type Pipeline, type PipelineOptions, type SynthesizedRoutes } from './harness.ts';
import { docsPayloads, incident, malformedPayloads, NOT_JSON, rogue0 } from './inputs.ts';

const SCENARIO_DETECTORS = (JSON.parse(readFileSync(new URL('../fixtures/scenarios/kitewatch.config.json', import.meta.url), 'utf8')) as { detectors: unknown }).detectors;
const ORG = 'acme-inc';

let routes: SynthesizedRoutes;
let siem: FakeSiem;
let bk: FakeBuildkite;
const open: Pipeline[] = [];

beforeAll(() => {
  routes = synthesizeRoutes();
});
beforeEach(async () => {
  // Closed in afterEach; the lifetime only bounds a run that dies before it.
  siem = await FakeSiem.start({ lifetimeMs: 300_000 });
  bk = await FakeBuildkite.start({ org: ORG });
});
afterEach(async () => {
  for (const p of open.splice(0)) {
    // Logs name ids and reasons; the Buildkite token never appears in any stage's log.
    for (const stage of STAGES) expect(p.logs[stage].lines.join('\n')).not.toContain(bk.token);
    await p.close();
  }
  await siem.close();
  await bk.close();
});

async function pipeline(options: Omit<PipelineOptions, 'routes' | 'siem'>): Promise<Pipeline> {
  const p = await createPipeline({ routes, siem, detectors: SCENARIO_DETECTORS, ...options });
  open.push(p);
  return p;
}

interface Fed {
  readonly inputs: IngestInput[];
  readonly raw: string[];
  /** Inputs broken on purpose. */
  readonly malformed: number;
}

/**
 * Docs payloads, broken ones, `extra`, and one non-JSON message straight on the normalize queue,
 * put on the ingest bus `chunk` at a time with the pipeline drained in between: moto's SQS scans
 * every message of a queue on each call, so a deep queue makes every call slow.
 */
async function feed(p: Pipeline, extra: readonly Envelope[], options: { withBlocked?: boolean; chunk?: number } = {}): Promise<Fed> {
  const broken = malformedPayloads();
  const envelopes = [...docsPayloads({ withBlocked: options.withBlocked ?? false }), ...broken, ...extra];
  const chunk = options.chunk ?? envelopes.length;
  const inputs: IngestInput[] = [];
  for (let i = 0; i < envelopes.length; i += chunk) {
    inputs.push(...(await p.putIngest(envelopes.slice(i, i + chunk))));
    if (i + chunk < envelopes.length) await p.drain({ flush: false });
  }
  const raw = await p.sendToQueue('normalize', NOT_JSON);
  return { inputs, raw, malformed: broken.length + raw.length };
}

/** What the incident's containment acts on, in the local Buildkite organization. */
function seedBuildkite(): { clusterId: string } {
  const clusterId = bk.addCluster('Default');
  bk.addClusterToken(clusterId, { id: prodClusterToken.uuid, description: prodClusterToken.description, allowed_ip_addresses: prodClusterToken.allowedIps });
  bk.addLegacyToken({ uuid: ciToken.uuid, description: ciToken.description });
  bk.addAgent({ id: rogue0.uuid, name: rogue0.name });
  return { clusterId };
}

/**
 * The incident's calls in enforce mode: revoke-agent-token on the prod cluster token (list
 * clusters, list the cluster's tokens, delete it) and on the legacy ci-linux token (it is in no
 * cluster's list, so GraphQL finds and revokes it), and stop-agent on rogue-0.
 */
function incidentCalls(clusterId: string): string[] {
  const org = `/v2/organizations/${ORG}`;
  return [
    `GET ${org}/clusters`,
    `GET ${org}/clusters/${clusterId}/tokens`,
    `DELETE ${org}/clusters/${clusterId}/tokens/${prodClusterToken.uuid}`,
    `GET ${org}/clusters`,
    `GET ${org}/clusters/${clusterId}/tokens`,
    'POST /graphql KitewatchFindAgentToken',
    'POST /graphql KitewatchRevokeAgentToken',
    `PUT ${org}/agents/${rogue0.uuid}/stop`,
  ].sort();
}

/** Every call authorized and answered 2xx, each mutation once, and each action's calls in order. */
function expectIncidentCalls(clusterId: string): void {
  const ok = bk.calls.filter((c) => c.status < 300);
  expect(ok.map((c) => `${c.method} ${c.path}${c.operation !== undefined ? ` ${c.operation}` : ''}`).sort()).toEqual(incidentCalls(clusterId));
  expect(bk.calls.every((c) => c.authorized)).toBe(true);
  const at = (line: string) => bk.callLines().indexOf(line);
  const lastAt = (line: string) => bk.callLines().lastIndexOf(line);
  expect(at(`GET /v2/organizations/${ORG}/clusters/${clusterId}/tokens`)).toBeLessThan(lastAt(`DELETE /v2/organizations/${ORG}/clusters/${clusterId}/tokens/${prodClusterToken.uuid}`));
  expect(at('POST /graphql KitewatchFindAgentToken')).toBeLessThan(at('POST /graphql KitewatchRevokeAgentToken'));
  // What the calls did.
  expect(bk.clusters.get(clusterId)?.tokens.has(prodClusterToken.uuid)).toBe(false);
  expect(bk.legacyTokens.get(ciToken.uuid)?.revokedAt).not.toBeNull();
  expect(bk.agents.get(rogue0.uuid)).toMatchObject({ connected: false, stopped: { force: true } });
}

const findingsOf = (events: readonly OcsfEvent[]) => events.filter((e) => e.class_uid === 2004);
const activitiesOf = (events: readonly OcsfEvent[]) => events.filter((e) => e.class_uid === 7001);
const info = (f: OcsfEvent) => f['finding_info'] as { uid: string; title: string; analytic: { uid: string } };
const targetOf = (a: OcsfEvent) => (a['unmapped'] as { kitewatch: { target: { uid: string } } }).kitewatch.target.uid;
/** A finding by what it says: its uid depends on the event ids EventBridge assigned. */
const describeFinding = (f: OcsfEvent) => `${info(f).analytic.uid} | ${info(f).title}`;
/**
 * New findings only: the Updates of an open incident come one per incident per batch, and SQS
 * batches are not replay batches. Every Update must update a finding that was raised.
 */
function created(findings: readonly OcsfEvent[]): OcsfEvent[] {
  const news = findings.filter((f) => f.activity_id !== 2);
  const uids = new Set(news.map((f) => info(f).uid));
  for (const u of findings.filter((f) => f.activity_id === 2)) expect(uids.has(info(u).uid), `Update of an unknown finding ${info(u).uid}`).toBe(true);
  return news;
}
const sorted = <T>(xs: readonly T[]): T[] => [...xs].sort();
const uidsOf = (events: readonly OcsfEvent[]) => sorted(events.map((e) => e.metadata.uid));

/** The conservation proof shared by every test; returns the delivered events (the S3 copy). */
async function expectConserved(p: Pipeline, fed: Fed): Promise<OcsfEvent[]> {
  const down = await p.downstream();
  const quarantine = await p.quarantined();
  for (const [key, record] of quarantine) {
    expect(record.reason, key).toMatch(/\S/);
    expect(record.input !== undefined || record.raw !== undefined, `${key} keeps the original`).toBe(true);
  }
  const total = fed.inputs.length + fed.raw.length;
  for (const [where, events] of [
    ['S3', down.s3],
    ['HTTP endpoint + its backup', [...down.http, ...down.httpBackup]],
  ] as const) {
    const ledger = account(fed.inputs, fed.raw, events, quarantine);
    expect(ledger.missing, `${where}: inputs neither delivered nor quarantined`).toEqual([]);
    expect(ledger.doubleCounted, `${where}: inputs counted twice`).toEqual([]);
    expect(ledger.strays, `${where}: outputs of no input`).toEqual([]);
    expect(ledger.delivered.size + ledger.quarantined.size, where).toBe(total);
    expect(ledger.quarantined.size, `${where}: quarantined`).toBe(fed.malformed);
    expect(repeatedUids(events), `${where}: a metadata.uid delivered more than once`).toEqual([]);
  }
  // Both destinations got the very same events.
  const http = new Map([...down.http, ...down.httpBackup].map((e) => [e.metadata.uid, e]));
  expect(uidsOf(down.s3)).toEqual(sorted([...http.keys()]));
  for (const e of down.s3) expect(http.get(e.metadata.uid)).toEqual(e);
  expect(down.processingFailed, 'records the transform failed').toBe(0);
  expect(await p.deadLettered()).toEqual(Object.fromEntries(STAGES.map((s) => [s, 0])));
  for (const e of down.s3) expectValidOcsf(e);
  return down.s3;
}

/** Findings `kitewatch replay` raises on the same envelopes (the local engine, SQLite state). */
async function replayFindings(envelopes: readonly Envelope[]): Promise<string[]> {
  const findings: OcsfEvent[] = [];
  const state = new SqliteState({ path: ':memory:' });
  const local = new LocalPipeline({
    rules: loadRules(),
    sinks: [{ name: 'findings', write: async (e) => void (e.class_uid === 2004 && findings.push(e)), close: async () => ({ delivered: findings.length, spilled: 0 }) }],
    quarantine: async () => undefined,
    detect: createDetectStage({ detectors: DetectorsConfig.parse(SCENARIO_DETECTORS) }, state),
  });
  for (const [i, value] of envelopes.entries()) await local.process({ kind: 'json', origin: `e2e:${i}`, value, sizeBytes: Buffer.byteLength(JSON.stringify(value)) });
  await local.finish();
  await state.close();
  return sorted(created(findings).map(describeFinding));
}

let incidentFindings: Promise<string[]> | undefined;
/** The incident's findings per the local replay, computed once. */
function expectedIncidentFindings(): Promise<string[]> {
  incidentFindings ??= replayFindings([...docsPayloads({ withBlocked: false }), ...malformedPayloads(), ...incident()]);
  return incidentFindings;
}

/** Every finding once in Security Hub, under its stable ASFF Id. */
async function expectInSecurityHub(p: Pipeline, findings: readonly OcsfEvent[]): Promise<void> {
  const ids = sorted([...new Set(findings.map((f) => asffId(info(f).uid)))]);
  expect(sorted((await p.securityHubFindings(ids)).map((f) => f.Id ?? ''))).toEqual(ids);
}

describe('routes', () => {
  it('are the rules the synthesized CDK app deploys, read from its templates', () => {
    for (const file of loadRules()) {
      expect(routes.rules.filter((r) => r.name === file.name && r.from === 'template').length, `rules/${file.name}.json deployed`).toBeGreaterThan(0);
    }
    // One Firehose rule per delivery stream of the forwarding config.
    expect(sorted(routes.rules.filter((r) => r.name === 'ocsf-to-forwarding').map((r) => r.stream ?? ''))).toEqual(['kitewatch-fwd-http-siem', 'kitewatch-fwd-s3']);
    expect(routes.rules.find((r) => r.name === 'buildkite-ingest')?.eventPattern).toEqual({ source: [{ prefix: 'aws.partner/buildkite.com/' }] });
  });
});

describe('the attack scenario end to end (containment dry-run)', () => {
  it('delivers every input once to S3 and to the HTTP endpoint or quarantines it; raises the findings kitewatch replay raises; reports what containment would do; imports the findings into Security Hub', async () => {
    const p = await pipeline({
      buildkite: bk,
      containment: {
        mode: 'dry-run',
        secretMappings: [{ buildkite: { name: 'PROD_DB_PASSWORD' }, secretsManager: ['$MAPPED_SECRET'], rotation: 'random', jsonKey: 'password' }],
      },
    });
    const attack = readScenario('attack.ndjson');
    const fed = await feed(p, attack, { withBlocked: true, chunk: 20 });
    await p.drain();

    const events = await expectConserved(p, fed);
    expect(fed.inputs.length).toBeGreaterThan(1_100);
    const findings = findingsOf(events);
    expect(sorted(created(findings).map(describeFinding))).toEqual(await replayFindings([...docsPayloads({ withBlocked: true }), ...malformedPayloads(), ...attack]));
    expect(new Set(findings.map((f) => info(f).analytic.uid))).toEqual(new Set(['unusual-ip', 'token-spike', 'secret-access', 'break-glass-edit', 'monitoring-disabled', 'privilege-grant']));

    // Dry-run: every remediation activity answers a finding and says what would be done; nothing is called.
    const activities = activitiesOf(events);
    const findingUids = new Set(findings.map((f) => info(f).uid));
    expect(activities.length).toBeGreaterThan(0);
    // The docs' Cluster Token Registration Blocked sample carries a malformed token uuid
    // (c1164b28-bace-436-...): that target is refused before any call, never planned.
    const malformedDocsToken = 'c1164b28-bace-436-ac44-4133e1d18ca5';
    for (const a of activities) {
      expect(findingUids.has(String(a.metadata['correlation_uid']))).toBe(true);
      if (targetOf(a) === malformedDocsToken) expect(a.status_detail).toMatch(/^failed: invalid id: /);
      else expect(a.status_detail).toBe('dry-run');
    }
    const planned = new Set(activities.map((a) => `${String(a['command_uid'])} ${targetOf(a)}`));
    for (const step of [
      `revoke-agent-token ${ciToken.uuid}`,
      `revoke-agent-token ${prodClusterToken.uuid}`,
      `stop-agent ${rogue0.uuid}`,
      `rotate-secret ${p.names.mappedSecret}`,
      `revoke-grant ${uid('invite', 'attacker')}`,
    ]) {
      expect(planned).toContain(step);
    }
    expect(bk.calls).toEqual([]);
    await expectInSecurityHub(p, findings);
    expect(p.fired).toEqual([]);
  }, 300_000);
});

describe('containment in enforce mode', () => {
  it('acts through the local Buildkite API with exactly the calls each action needs, once', async () => {
    const { clusterId } = seedBuildkite();
    const p = await pipeline({ buildkite: bk, containment: { mode: 'enforce' } });
    const fed = await feed(p, incident());
    await p.drain();

    const events = await expectConserved(p, fed);
    expect(sorted(created(findingsOf(events)).map(describeFinding))).toEqual(await expectedIncidentFindings());
    expectIncidentCalls(clusterId);
    expect(sorted(activitiesOf(events).map((a) => `${String(a['command_uid'])} ${targetOf(a)} ${a.status_detail}`))).toEqual(
      sorted([`revoke-agent-token ${prodClusterToken.uuid} done`, `revoke-agent-token ${ciToken.uuid} done`, `stop-agent ${rogue0.uuid} done`]),
    );
    await expectInSecurityHub(p, findingsOf(events));
  }, 60_000);
});

describe('failure modes', () => {
  it('redelivery of a whole batch: every batch of every stage handled twice; nothing arrives twice, nothing is called twice', async () => {
    const { clusterId } = seedBuildkite();
    const p = await pipeline({ buildkite: bk, containment: { mode: 'enforce' } });
    const fed = await feed(p, incident());
    await p.drain({ duplicate: STAGES });

    for (const stage of STAGES) expect(p.stats[stage].invocations, stage).toBeGreaterThanOrEqual(2);
    // The copies did reach forwarding (the normalizer republished its batches) ...
    expect([...p.busCopies.values()].some((n) => n > 1)).toBe(true);
    // ... and each stream's transform dropped them by metadata.uid, within one buffer.
    expect(p.transformCalls.reduce((n, c) => n + c.dropped, 0)).toBeGreaterThan(0);
    const events = await expectConserved(p, fed);
    expect(sorted(created(findingsOf(events)).map(describeFinding))).toEqual(await expectedIncidentFindings());
    // Idempotent containment: the second delivery of each finding re-emitted the recorded activity.
    expectIncidentCalls(clusterId);
    expect(activitiesOf(events).map((a) => a.status_detail)).toEqual(['done', 'done', 'done']);
    await expectInSecurityHub(p, findingsOf(events));
  }, 60_000);

  it('a handler crashing mid-batch: failed records (or the whole batch) are redelivered and everything arrives exactly once', async () => {
    const { clusterId } = seedBuildkite();
    const p = await pipeline({
      buildkite: bk,
      containment: { mode: 'enforce' },
      faults: {
        // Published, then the answer is lost (a timeout, the Lambda dying): its records fail and are published again.
        normalize: [
          { command: 'PutEventsCommand', call: 2, when: 'after' },
          { command: 'PutObjectCommand', call: 1, when: 'before' },
        ],
        // A state read fails before anything is published; a write of the flush fails after the batch's findings were.
        detect: [
          { command: 'GetItemCommand', call: 12, when: 'before' },
          { command: 'UpdateItemCommand', call: 20, when: 'before' },
        ],
        // The actions were taken, their activities not published: the redelivery must not act again.
        contain: [{ command: 'PutEventsCommand', call: 1, when: 'before' }],
        securityhub: [{ command: 'BatchImportFindingsCommand', call: 1, when: 'before' }],
        // A Firehose service error: Firehose's own retry delivers the batch.
        forward: [{ command: 'PutRecordBatchCommand', call: 1, when: 'before' }],
      },
    });
    const fed = await feed(p, incident());
    await p.drain();

    expect(p.fired.map((f) => `${f.stage} ${f.command}`)).toEqual(
      expect.arrayContaining([
        'normalize PutEventsCommand',
        'normalize PutObjectCommand',
        'detect GetItemCommand',
        'detect UpdateItemCommand',
        'contain PutEventsCommand',
        'securityhub BatchImportFindingsCommand',
        'forward PutRecordBatchCommand',
      ]),
    );
    for (const stage of ['normalize', 'detect', 'contain', 'securityhub'] as const) {
      expect(p.stats[stage].itemFailures + p.stats[stage].crashes, `${stage} failed something`).toBeGreaterThan(0);
      expect(p.stats[stage].redelivered, `${stage} got it again`).toBeGreaterThan(0);
    }
    expect(p.firehoseAttempts.filter((a) => !a.ok)).toHaveLength(1);
    const events = await expectConserved(p, fed);
    expect(sorted(created(findingsOf(events)).map(describeFinding))).toEqual(await expectedIncidentFindings());
    expectIncidentCalls(clusterId);
    expect(activitiesOf(events).map((a) => a.status_detail)).toEqual(['done', 'done', 'done']);
    await expectInSecurityHub(p, findingsOf(events));
  }, 60_000);

  it('the containment state store failing after the claim: the claim is released, the record retried, and no action is lost', async () => {
    const { clusterId } = seedBuildkite();
    const p = await pipeline({
      buildkite: bk,
      containment: { mode: 'enforce' },
      // The third state write of the contain stage fails: a claim must not outlive the failed delivery.
      faults: { contain: [{ command: 'UpdateItemCommand', call: 3, when: 'before' }] },
    });
    const fed = await feed(p, incident());
    await p.drain();

    expect(p.fired.map((f) => `${f.stage} ${f.command}`)).toContain('contain UpdateItemCommand');
    expect(p.stats.contain.redelivered).toBeGreaterThan(0);
    const events = await expectConserved(p, fed);
    const activities = activitiesOf(events);
    expect(activities.some((a) => a.status_detail === 'skipped: in progress')).toBe(false);
    // Each target ends done (a retry after the call went through finds it already gone: also done).
    for (const target of [prodClusterToken.uuid, ciToken.uuid, rogue0.uuid]) {
      expect(
        activities.filter((a) => targetOf(a) === target).map((a) => a.status_id),
        target,
      ).toContain(1);
    }
    expect(bk.clusters.get(clusterId)?.tokens.has(prodClusterToken.uuid)).toBe(false);
    expect(bk.legacyTokens.get(ciToken.uuid)?.revokedAt).not.toBeNull();
    expect(bk.agents.get(rogue0.uuid)).toMatchObject({ stopped: { force: true } });
  }, 60_000);

  it('a Buildkite API that rate-limits: the client waits for RateLimit-Reset, retries, and every action completes once', async () => {
    const { clusterId } = seedBuildkite();
    const limited = { 'RateLimit-Scope': 'rest', 'RateLimit-Limit': '200', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '1' };
    bk.failNext({ method: 'DELETE', status: 429, headers: limited });
    bk.failNext({ method: 'PUT', path: /\/agents\/[^/]+\/stop$/, status: 429, headers: limited });
    const p = await pipeline({ buildkite: bk, containment: { mode: 'enforce' } });
    const fed = await feed(p, incident());
    const started = performance.now();
    await p.drain();

    // The call log shows each rate-limited call, then its retry.
    const lines = bk.calls.map((c) => `${c.method} ${c.path} ${c.status}`);
    const del = `DELETE /v2/organizations/${ORG}/clusters/${clusterId}/tokens/${prodClusterToken.uuid}`;
    const stop = `PUT /v2/organizations/${ORG}/agents/${rogue0.uuid}/stop`;
    expect(lines.filter((l) => l.startsWith(del))).toEqual([`${del} 429`, `${del} 204`]);
    expect(lines.filter((l) => l.startsWith(stop))).toEqual([`${stop} 429`, `${stop} 204`]);
    expect(p.logs.contain.lines.filter((l) => / -> 429 /.test(l))).toHaveLength(2);
    expect(p.logs.contain.lines.filter((l) => /(DELETE|PUT) .* -> 204 .*\(attempt 2\)/.test(l))).toHaveLength(2);
    // It waited for the reset (1 s) instead of hammering the API.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_000);

    const events = await expectConserved(p, fed);
    expectIncidentCalls(clusterId);
    expect(activitiesOf(events).map((a) => a.status_detail)).toEqual(['done', 'done', 'done']);
  }, 60_000);

  /*
   * moto's Firehose posts each PutRecordBatch to the endpoint once and reports success whatever
   * the endpoint answers: no retry, no backup, no buffering. The harness plays Firehose's part: it
   * reads the endpoint's answer from the local server's log, retries the batch (Firehose retries
   * for RetryOptions.DurationInSeconds; here 5 attempts 20 ms apart), and after the last attempt
   * writes the batch to the backup bucket under the stream's prefix (S3BackupMode FailedDataOnly).
   * What is real: the transform, PutRecordBatch, moto's delivery to S3 and its POST to the endpoint.
   */
  it('a SIEM endpoint down for a while: retried batches arrive exactly once; a batch the endpoint never took is in the backup, not lost', async () => {
    const p = await pipeline({ buildkite: bk, containment: { mode: 'dry-run' }, httpRetry: { attempts: 5, delayMs: 20 } });
    const events = incident();
    const attack = events.slice(-3);

    // Down for 3 requests, shorter than the retry window.
    siem.failNext(3, { kind: 'status', status: 503 });
    const fed = await feed(p, events.slice(0, -3));
    await p.drain();
    const http = p.firehoseAttempts.filter((a) => a.stream.includes('-fwd-http-'));
    expect(http.map((a) => a.answers)).toEqual([[503], [503], [503], [200]]);
    expect((await p.downstream()).httpBackup).toEqual([]);

    // Then down for longer than the retry window: that batch goes to the backup.
    siem.failNext(5, { kind: 'status', status: 503 });
    fed.inputs.push(...(await p.putIngest(attack)));
    await p.drain();
    const later = p.firehoseAttempts.filter((a) => a.stream.includes('-fwd-http-')).slice(http.length);
    expect(later.map((a) => a.answers)).toEqual([[503], [503], [503], [503], [503]]);

    const delivered = await expectConserved(p, fed);
    const down = await p.downstream();
    expect(down.httpBackup.length).toBeGreaterThan(0);
    // What the endpoint took and what is in the backup do not overlap, and together are everything.
    const atEndpoint = new Set(down.http.map((e) => e.metadata.uid));
    expect(down.httpBackup.filter((e) => atEndpoint.has(e.metadata.uid))).toEqual([]);
    expect(down.http.length + down.httpBackup.length).toBe(delivered.length);
    // The endpoint recorded nothing of the requests it refused.
    expect(siem.requests.filter((r) => r.outcome !== 200).length).toBe(8);
    expect(siem.firehose.length).toBe(down.http.length);
  }, 60_000);

  it('a copy EventBridge delivers after its Firehose buffer went out is dropped: each destination gets each metadata.uid once', async () => {
    const p = await pipeline({ buildkite: bk, containment: { mode: 'dry-run' } });
    const fed = await feed(p, incident());
    await p.drain();
    const delivered = await expectConserved(p, fed);

    // The in-invocation check cannot see it (another buffer); the transform's claim on the uid in
    // the state table, made when the first buffer went out, drops it (new recordId, same uid).
    const finding = findingsOf(delivered)[0] as OcsfEvent;
    const before = await p.downstream();
    const calls = p.transformCalls.length;
    await p.sendToQueue(
      'forward',
      JSON.stringify({ version: '0', id: 'redelivered', account: '123456789012', region: 'us-east-1', resources: [], ...toBusEnvelope(finding), time: new Date(finding.time).toISOString() }),
    );
    await p.drain();
    const down = await p.downstream();
    expect(repeatedUids(down.s3)).toEqual([]);
    expect(repeatedUids(down.http)).toEqual([]);
    expect(down.s3.filter((e) => e.metadata.uid === finding.metadata.uid)).toHaveLength(1);
    expect(down.s3.length).toBe(before.s3.length);
    expect(down.http.length).toBe(before.http.length);
    // It reached the transform and was dropped there, not lost on the way.
    const late = p.transformCalls.slice(calls);
    expect(late.reduce((n, c) => n + c.dropped, 0)).toBeGreaterThan(0);
    expect(late.reduce((n, c) => n + c.ok, 0)).toBe(0);
  }, 60_000);
});
