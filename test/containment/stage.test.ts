import { randomUUID } from 'node:crypto';
import { CreateRoleCommand, GetRolePolicyCommand, IAMClient, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { SdkLoadError } from '../../lib/aws/lazy.ts';
import { createContainStage } from '../../lib/containment/stage.ts';
import type { ContainStage } from '../../lib/engine/stages.ts';
import { secretRead, uid } from '../../lib/detections/builders.ts';
import { errorFinding } from '../../lib/detections/finding.ts';
import { detectorById } from '../../lib/detections/index.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding, recording, replayOptions, textOf, type ResourceSpec } from './helpers.ts';

let bk: FakeBuildkite;
let sm: SecretsManagerClient;
let iam: IAMClient;
let state: SqliteState;
let logs: string[];
let now: number;

function stage(mode: 'dry-run' | 'enforce', config: KitewatchConfigInput = {}, env: NodeJS.ProcessEnv = { BUILDKITE_API_TOKEN: bk.token }): ContainStage {
  return createContainStage(replayOptions({ mode, apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, config }), state, {
    env,
    secretsManager: sm,
    iam,
    log: (line) => void logs.push(line),
    now: () => now,
  });
}

function detailOf(e: OcsfEvent): string | undefined {
  return e.status_detail;
}

function target(e: OcsfEvent): { type: string; uid: string; name?: string } {
  return (e.unmapped as { kitewatch: { target: { type: string; uid: string; name?: string } } }).kitewatch.target;
}

/** A leaked cluster token, two agents that used it from the new network, one bystander. */
function tokenScenario(): { clusterId: string; tokenId: string; implicated: string[]; bystander: string; resources: ResourceSpec[] } {
  const other = bk.addCluster('Other');
  bk.addClusterToken(other, { description: 'unrelated' });
  const clusterId = bk.addCluster('Main');
  const token = bk.addClusterToken(clusterId, { description: 'Linux agents', allowed_ip_addresses: '10.0.0.0/8' });
  const a1 = bk.addAgent({ name: 'evil-1' });
  const a2 = bk.addAgent({ name: 'evil-2' });
  const by = bk.addAgent({ name: 'good-1' });
  return {
    clusterId,
    tokenId: token.id,
    implicated: [a1.id, a2.id],
    bystander: by.id,
    resources: [
      { uid: token.id, name: 'Linux agents', type: 'ClusterToken', role: 'target' },
      { uid: a1.id, name: 'evil-1', type: 'Agent', role: 'implicated' },
      { uid: a2.id, name: 'evil-2', type: 'Agent', role: 'implicated' },
      { uid: by.id, name: 'good-1', type: 'Agent', role: 'related' },
    ],
  };
}

beforeAll(async () => {
  sm = new SecretsManagerClient(awsClientConfig());
  iam = new IAMClient(awsClientConfig());
});
afterAll(() => {
  sm.destroy();
  iam.destroy();
});
beforeEach(async () => {
  bk = await FakeBuildkite.start();
  state = new SqliteState({ path: ':memory:' });
  logs = [];
  now = Date.parse('2026-11-23T10:15:00Z');
});
afterEach(async () => {
  // No log line ever carries the API token or an agent token value.
  const secrets = [bk.token, ...[...bk.clusters.values()].flatMap((c) => [...c.tokens.values()].map((t) => t.token))];
  for (const s of secrets) expect(logs.join('\n')).not.toContain(s);
  await bk.close();
  await state.close();
});

describe('createContainStage: default policy on an agent-token finding', () => {
  it('dry-run reports what it would do, calls nothing and writes no state', async () => {
    const s = tokenScenario();
    const f = finding({ detector: 'unusual-ip', resources: s.resources });
    const events = await stage('dry-run').contain(f);
    expect(events.map((e) => [e.command_uid, detailOf(e), target(e).uid])).toEqual([
      ['revoke-agent-token', 'dry-run', s.tokenId],
      ['stop-agent', 'dry-run', s.implicated[0]],
      ['stop-agent', 'dry-run', s.implicated[1]],
    ]);
    for (const e of events) {
      expectValidOcsf(e);
      expect(e.status_id).toBe(99);
      expect(e.metadata.correlation_uid).toBe((f['finding_info'] as { uid: string }).uid);
      expect(e.class_uid).toBe(7001);
      expect(e.activity_id).toBe(2);
    }
    expect(bk.calls).toEqual([]);
    expect(state.writeCount).toBe(0);
    expect(bk.clusters.get(s.clusterId)?.tokens.has(s.tokenId)).toBe(true);
  });

  it('enforce revokes the token, stops the implicated agents only, with the exact calls', async () => {
    const s = tokenScenario();
    const f = finding({ detector: 'unusual-ip', resources: s.resources });
    const events = await stage('enforce').contain(f);
    events.forEach(expectValidOcsf);
    expect(events.map((e) => [e.command_uid, e.status, detailOf(e)])).toEqual([
      ['revoke-agent-token', 'Success', 'done'],
      ['stop-agent', 'Success', 'done'],
      ['stop-agent', 'Success', 'done'],
    ]);
    const [other, main] = [...bk.clusters.keys()];
    expect(bk.callLines()).toEqual([
      'GET /v2/organizations/acme/clusters',
      `GET /v2/organizations/acme/clusters/${other}/tokens`,
      `GET /v2/organizations/acme/clusters/${main}/tokens`,
      `DELETE /v2/organizations/acme/clusters/${main}/tokens/${s.tokenId}`,
      `PUT /v2/organizations/acme/agents/${s.implicated[0]}/stop`,
      `PUT /v2/organizations/acme/agents/${s.implicated[1]}/stop`,
    ]);
    expect(bk.calls.filter((c) => c.method === 'PUT').map((c) => c.body)).toEqual([{ force: true }, { force: true }]);
    expect(bk.calls.every((c) => c.authorized)).toBe(true);
    expect(bk.agents.get(s.bystander)?.connected).toBe(true);
    const revoke = events[0] as OcsfEvent;
    expect(revoke.unmapped).toMatchObject({ kitewatch: { cluster_id: main, related_agents_not_stopped: [{ uid: s.bystander, name: 'good-1' }] } });
    expect(revoke.observables).toContainEqual({ name: 'unmapped.kitewatch.target.uid', type_id: 10, type: 'Resource UID', value: s.tokenId });
  });

  it('redelivery of the same finding re-emits the same events and calls nothing', async () => {
    const s = tokenScenario();
    const f = finding({ detector: 'token-spike', resources: s.resources });
    const first = await stage('enforce').contain(f);
    const calls = bk.calls.length;
    const again = await stage('enforce').contain(structuredClone(f));
    expect(again).toEqual(first);
    expect(bk.calls.length).toBe(calls);
  });

  it('another finding about a token already revoked says "already done" without calling', async () => {
    const s = tokenScenario();
    await stage('enforce').contain(finding({ detector: 'unusual-ip', uid: 'f-1', resources: s.resources }));
    bk.clearCalls();
    const events = await stage('enforce').contain(finding({ detector: 'token-spike', uid: 'f-2', resources: s.resources }));
    expect(events.map(detailOf)).toEqual(['already done', 'already done', 'already done']);
    expect(events.map((e) => e.metadata.correlation_uid)).toEqual(['f-2', 'f-2', 'f-2']);
    events.forEach(expectValidOcsf);
    expect(bk.calls).toEqual([]);
  });

  it('revokes a legacy unclustered token through GraphQL agentTokenRevoke with a reason', async () => {
    bk.addCluster('Main');
    const legacy = bk.addLegacyToken({ description: 'old' });
    const f = finding({ detector: 'unusual-ip', uid: 'f-legacy', resources: [{ uid: legacy.uuid, name: 'old', type: 'AgentToken', role: 'target' }] });
    const [event] = await stage('enforce').contain(f);
    expect(event).toMatchObject({ status: 'Success', status_detail: 'done', command_uid: 'revoke-agent-token' });
    expect(bk.callLines().slice(-2)).toEqual(['POST /graphql KitewatchFindAgentToken', 'POST /graphql KitewatchRevokeAgentToken']);
    expect(bk.calls.at(-1)?.body).toMatchObject({ variables: { id: legacy.id, reason: 'Kitewatch containment: unusual-ip f-legacy' } });
    expect(legacy.revokedAt).not.toBeNull();
  });

  it('a token already gone counts as done: 404 on DELETE, or found nowhere', async () => {
    const s = tokenScenario();
    bk.failNext({ method: 'DELETE', status: 404, body: { message: 'Not Found' } });
    const [gone404] = await stage('enforce').contain(finding({ detector: 'unusual-ip', uid: 'f-a', resources: s.resources.slice(0, 1) }));
    expect(gone404).toMatchObject({ status: 'Success', status_detail: 'already gone (404)' });

    const [nowhere] = await stage('enforce').contain(finding({ detector: 'unusual-ip', uid: 'f-b', resources: [{ uid: randomUUID(), type: 'AgentToken', role: 'target' }] }));
    expect(nowhere).toMatchObject({ status: 'Success', status_detail: 'already gone (not found)' });
    expectValidOcsf(nowhere as OcsfEvent);
  });

  it('an agent that already disconnected (400) counts as done; one the finding marks disconnected is not called', async () => {
    const s = tokenScenario();
    const a = bk.agents.get(s.implicated[0] ?? '');
    if (a) a.connected = false;
    const gone = bk.addAgent({ name: 'gone' });
    const resources: ResourceSpec[] = [...s.resources, { uid: gone.id, name: 'gone', type: 'Agent', role: 'implicated', data: { connection_state: 'disconnected' } }];
    const events = await stage('enforce').contain(finding({ detector: 'unusual-ip', resources }));
    expect(events.map(detailOf)).toEqual(['done', 'already disconnected (400)', 'done']);
    expect(bk.callLines().filter((l) => l.includes(gone.id))).toEqual([]);
  });

  it('notify-only detectors and findings below the threshold do nothing', async () => {
    const s = tokenScenario();
    const st = stage('enforce', {
      containment: {
        policy: [
          { detector: 'unusual-ip', minSeverity: 'critical', actions: ['revoke-agent-token'] },
          { detector: 'break-glass-edit', actions: [] },
        ],
      },
    });
    expect(await st.contain(finding({ detector: 'break-glass-edit', resources: [{ uid: randomUUID(), type: 'Pipeline', role: 'target' }] }))).toEqual([]);
    expect(await st.contain(finding({ detector: 'unusual-ip', severityId: 4, resources: s.resources }))).toEqual([]);
    expect(await st.contain(finding({ detector: 'monitoring-disabled', resources: [] }))).toEqual([]);
    // An unusual-ip finding about something other than an agent token: the default rule does not apply.
    expect(await stage('enforce').contain(finding({ detector: 'unusual-ip', resources: [{ uid: randomUUID(), type: 'Actor', role: 'target' }] }))).toEqual([]);
    expect(bk.calls).toEqual([]);
  });

  it('ignores events that are not findings, without throwing', async () => {
    const st = stage('enforce');
    const notAFinding = { ...finding({ detector: 'unusual-ip', resources: [] }), class_uid: 3002 };
    expect(await st.contain(notAFinding)).toEqual([]);
    expect(logs.some((l) => l.includes('not a Detection Finding'))).toBe(true);
  });
});

describe('protected entities', () => {
  it('are never acted on: protected token by uid, agents by uid', async () => {
    const s = tokenScenario();
    const config: KitewatchConfigInput = {
      containment: {
        protected: [{ type: 'AgentToken', uid: s.tokenId, reason: 'production deploy token' }, ...s.implicated.map((uid) => ({ type: 'Agent' as const, uid }))],
      },
    };
    const events = await stage('enforce', config).contain(finding({ detector: 'unusual-ip', resources: s.resources }));
    expect(events.map((e) => [e.command_uid, e.status, detailOf(e)])).toEqual([
      ['revoke-agent-token', 'Other', 'skipped: protected'],
      ['stop-agent', 'Other', 'skipped: protected'],
      ['stop-agent', 'Other', 'skipped: protected'],
    ]);
    expect(events[0]?.message).toContain('production deploy token');
    events.forEach(expectValidOcsf);
    expect(bk.calls).toEqual([]);
    expect(bk.clusters.get(s.clusterId)?.tokens.has(s.tokenId)).toBe(true);
    expect(s.implicated.map((id) => bk.agents.get(id)?.connected)).toEqual([true, true]);
  });
});

describe('blast-radius limit', () => {
  it('holds: past N per hour, actions wait for approval instead of running', async () => {
    const s = tokenScenario();
    const more = [bk.addAgent({ name: 'evil-3' }), bk.addAgent({ name: 'evil-4' })];
    const resources: ResourceSpec[] = [...s.resources, ...more.map((a) => ({ uid: a.id, name: a.name, type: 'Agent' as const, role: 'implicated' as const }))];
    const config: KitewatchConfigInput = { containment: { blastRadius: { 'stop-agent': 2 } } };
    const events = await stage('enforce', config).contain(finding({ detector: 'unusual-ip', resources }));
    expect(events.map(detailOf)).toEqual(['done', 'done', 'done', 'pending approval: blast-radius limit', 'pending approval: blast-radius limit']);
    events.forEach(expectValidOcsf);
    expect(bk.callLines().filter((l) => l.endsWith('/stop'))).toHaveLength(2);
    expect(more.map((a) => bk.agents.get(a.id)?.connected)).toEqual([true, true]);
    expect(events[3]?.message).toContain('2 per hour');

    // A redelivery does not run them either, and the next finding in the same hour still waits.
    bk.clearCalls();
    const third = bk.addAgent({ name: 'evil-5' });
    const next = await stage('enforce', config).contain(
      finding({ detector: 'token-spike', uid: 'f-next', resources: [{ uid: third.id, name: 'evil-5', type: 'Agent', role: 'implicated' }, s.resources[0] as ResourceSpec] }),
    );
    expect(next.map(detailOf)).toEqual(['already done', 'pending approval: blast-radius limit']);
    expect(bk.calls).toEqual([]);

    // The next hour has a fresh budget.
    now += 3_600_000;
    const later = bk.addAgent({ name: 'evil-6' });
    const [, stopped] = await stage('enforce', config).contain(
      finding({ detector: 'token-spike', uid: 'f-later', resources: [s.resources[0] as ResourceSpec, { uid: later.id, name: 'evil-6', type: 'Agent', role: 'implicated' }] }),
    );
    expect(stopped && detailOf(stopped)).toBe('done');
  });

  it('dry-run reports which actions would wait for approval, still calling nothing', async () => {
    const s = tokenScenario();
    const events = await stage('dry-run', { containment: { blastRadius: { 'stop-agent': 1 } } }).contain(finding({ detector: 'unusual-ip', resources: s.resources }));
    expect(events.map(detailOf)).toEqual(['dry-run', 'dry-run', 'dry-run']);
    expect(events[2]?.message).toMatch(/would wait for approval \(blast-radius limit\)/);
    expect(bk.calls).toEqual([]);
  });

  it('actions configured to need approval wait (pending approval) and are not run locally', async () => {
    const s = tokenScenario();
    const config: KitewatchConfigInput = { containment: { approval: { required: ['revoke-agent-token'] } } };
    const events = await stage('enforce', config).contain(finding({ detector: 'unusual-ip', resources: s.resources }));
    expect(events.map(detailOf)).toEqual(['pending approval: approval required', 'done', 'done']);
    expect(bk.callLines().some((l) => l.startsWith('DELETE'))).toBe(false);
    expect(events[0]?.status).toBe('Other');
  });
});

describe('failures', () => {
  it('enforce without BUILDKITE_API_TOKEN emits Failure activities naming the missing token, and retries once it is set', async () => {
    const s = tokenScenario();
    const env: NodeJS.ProcessEnv = {};
    const f = finding({ detector: 'unusual-ip', resources: s.resources });
    const events = await stage('enforce', {}, env).contain(f);
    expect(events.map((e) => [e.status_id, detailOf(e)])).toEqual([
      [2, 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set'],
      [2, 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set'],
      [2, 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set'],
    ]);
    events.forEach(expectValidOcsf);
    expect(bk.calls).toEqual([]);
    // The failure released the claim and the budget: the same finding with a token now acts.
    env['BUILDKITE_API_TOKEN'] = bk.token;
    const retried = await stage('enforce', {}, env).contain(f);
    expect(retried.map(detailOf)).toEqual(['done', 'done', 'done']);
  });

  it('retries a 429 honouring RateLimit-Reset, then succeeds', async () => {
    const s = tokenScenario();
    bk.failNext({ method: 'DELETE', status: 429, headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '0', 'RateLimit-Scope': 'rest' } });
    const [revoke] = await stage('enforce').contain(finding({ detector: 'unusual-ip', resources: s.resources.slice(0, 1) }));
    expect(revoke).toMatchObject({ status_detail: 'done' });
    expect(bk.calls.filter((c) => c.method === 'DELETE').map((c) => c.status)).toEqual([429, 204]);
  });

  it('an API error becomes a Failure naming the call and status', async () => {
    const s = tokenScenario();
    bk.failNext({ method: 'DELETE', status: 422, body: { message: "Reason the token couldn't be revoked" } });
    const [revoke] = await stage('enforce').contain(finding({ detector: 'unusual-ip', resources: s.resources.slice(0, 1) }));
    expect(revoke).toMatchObject({ status: 'Failure', status_detail: "failed: revokeClusterToken HTTP 422 (Reason the token couldn't be revoked)" });
    expectValidOcsf(revoke as OcsfEvent);
  });
});

describe('other actions through policy', () => {
  it('archive-pipeline and pause-queue, when configured without approval', async () => {
    const cluster = bk.addCluster();
    const queue = bk.addQueue(cluster, 'deploy');
    const pipeline = bk.addPipeline('deploy-prod');
    const config: KitewatchConfigInput = {
      containment: { policy: [{ detector: 'break-glass-edit', actions: ['pause-queue', 'archive-pipeline'] }], approval: { required: [] } },
    };
    const f = finding({
      detector: 'break-glass-edit',
      resources: [
        { uid: pipeline, name: 'Deploy (prod)', type: 'Pipeline', role: 'target' },
        { uid: queue.id, name: 'deploy', type: 'Queue', role: 'implicated', data: { cluster_id: cluster } },
      ],
    });
    const events = await stage('enforce', config).contain(f);
    events.forEach(expectValidOcsf);
    expect(events.map((e) => [e.command_uid, e.activity_name, detailOf(e)])).toEqual([
      ['pause-queue', 'Isolate', 'done'],
      ['archive-pipeline', 'Isolate', 'done'],
    ]);
    // The slug comes from Buildkite for the pipeline's uuid, not from the finding's name.
    expect(bk.callLines()).toEqual([
      `POST /v2/organizations/acme/clusters/${cluster}/queues/${queue.id}/pause_dispatch`,
      'POST /graphql KitewatchPipelineByUuid',
      'POST /v2/organizations/acme/pipelines/deploy-prod/archive',
    ]);
    expect(bk.calls[0]?.body).toEqual({ dispatch_paused_note: `Kitewatch containment: break-glass-edit ${(f['finding_info'] as { uid: string }).uid}` });
    expect(bk.pipelines.get('deploy-prod')?.archived).toBe(true);
  });

  it('by default pause-queue and archive-pipeline wait for approval', async () => {
    bk.addPipeline('deploy-prod');
    const config: KitewatchConfigInput = { containment: { policy: [{ detector: 'break-glass-edit', actions: ['archive-pipeline'] }] } };
    const [e] = await stage('enforce', config).contain(finding({ detector: 'break-glass-edit', resources: [{ uid: randomUUID(), name: 'deploy-prod', type: 'Pipeline', role: 'target' }] }));
    expect(e && detailOf(e)).toBe('pending approval: approval required');
    expect(bk.calls).toEqual([]);
  });

  it('no secret value reaches events or logs when rotation fails on a JSON secret without a key', async () => {
    const { client: smRec } = recording(sm);
    const st = createContainStage(
      replayOptions({
        mode: 'enforce',
        apiUrl: bk.url,
        graphqlUrl: bk.graphqlUrl,
        config: { containment: { secretMappings: [{ buildkite: { name: 'NOPE' }, secretsManager: ['does-not-exist-' + randomUUID()] }] } },
      }),
      state,
      { env: { BUILDKITE_API_TOKEN: bk.token }, secretsManager: smRec, iam, log: (l) => void logs.push(l), now: () => now },
    );
    const events = await st.contain(finding({ detector: 'secret-access', resources: [{ uid: randomUUID(), name: 'NOPE', type: 'Secret', role: 'target' }] }));
    expect(events.map((e) => e.status)).toEqual(['Failure']);
    expect(detailOf(events[0] as OcsfEvent)).toMatch(/^failed: ResourceNotFoundException/);
    expect(textOf(events)).not.toContain(bk.token);
  });
});

describe('revoke-role-sessions through policy', () => {
  async function role(): Promise<{ name: string; arn: string }> {
    const name = uniqueName('bk-oidc');
    const out = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [] }) }));
    return { name, arn: out.Role?.Arn as string };
  }

  it("an AWS SDK that does not load is the function's failure, not the action's: no Failure activity, the claim released for the retry", async () => {
    const r = await role();
    const config: KitewatchConfigInput = {
      containment: { policy: [{ detector: 'secret-access', actions: ['revoke-role-sessions'] }], approval: { required: [] }, oidcRoles: [{ role: r.arn, pipelines: ['deploy-prod'] }] },
    };
    const f = finding({ detector: 'secret-access', resources: [{ uid: bk.addPipeline('deploy-prod'), name: 'deploy-prod', type: 'Pipeline', role: 'related' }] });
    const broken = { send: async () => Promise.reject(new SdkLoadError('could not load @aws-sdk/client-iam: EMFILE: too many open files')) };
    const withBrokenSdk = createContainStage(replayOptions({ mode: 'enforce', apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, config }), state, {
      env: { BUILDKITE_API_TOKEN: bk.token },
      secretsManager: sm,
      iam: broken,
      log: (line) => void logs.push(line),
      now: () => now,
    });
    // The engine throws (the contain Lambda fails the record, and SQS delivers it again); the local
    // stage, which must not throw, logs it and reports no activity rather than a false "failed".
    expect(await withBrokenSdk.contain(f)).toEqual([]);
    expect(logs.some((l) => l.includes('SdkLoadError: could not load @aws-sdk/client-iam'))).toBe(true);
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: r.name }))).PolicyNames).toEqual([]);
    // The redelivery, with the SDK back, acts: nothing was left claimed or counted.
    const events = await stage('enforce', config).contain(f);
    expect(events.map(detailOf)).toEqual(['done']);
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: r.name }))).PolicyNames).toEqual(['KitewatchRevokeOlderSessions']);
  });

  it('denies older sessions of the OIDC roles of the pipelines the finding names, and only those', async () => {
    const deploy = await role();
    const other = await role();
    const config: KitewatchConfigInput = {
      containment: {
        policy: [{ detector: 'secret-access', actions: ['revoke-role-sessions'] }],
        approval: { required: [] },
        oidcRoles: [
          { role: deploy.arn, pipelines: ['deploy-prod'] },
          { role: other.name, pipelines: ['docs'] },
        ],
      },
    };
    // The finding shows the pipeline's display name; the role is chosen by the slug Buildkite has for its uuid.
    const f = finding({ detector: 'secret-access', resources: [{ uid: bk.addPipeline('deploy-prod'), name: 'docs', type: 'Pipeline', role: 'related' }] });
    const events = await stage('enforce', config).contain(f);
    expect(events.map((e) => [e.command_uid, target(e).uid, detailOf(e)])).toEqual([['revoke-role-sessions', deploy.arn, 'done']]);
    events.forEach(expectValidOcsf);
    const policy = await iam.send(new GetRolePolicyCommand({ RoleName: deploy.name, PolicyName: 'KitewatchRevokeOlderSessions' }));
    expect(decodeURIComponent(policy.PolicyDocument ?? '')).toContain(`"aws:TokenIssueTime":"${new Date(now).toISOString()}"`);
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: other.name }))).PolicyNames).toEqual([]);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchPipelineByUuid']);
  });

  it('by default waits for approval', async () => {
    const r = await role();
    const config: KitewatchConfigInput = { containment: { policy: [{ detector: 'secret-access', actions: ['revoke-role-sessions'] }], oidcRoles: [{ role: r.name }] } };
    const [e] = await stage('enforce', config).contain(finding({ detector: 'secret-access', resources: [] }));
    expect(e && detailOf(e)).toBe('pending approval: approval required');
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: r.name }))).PolicyNames).toEqual([]);
  });

  it('never acts on a detector error finding, even with a rule that needs no target', async () => {
    const r = await role();
    const config: KitewatchConfigInput = { containment: { policy: [{ detector: 'secret-access', actions: ['revoke-role-sessions'] }], approval: { required: [] }, oidcRoles: [{ role: r.name }] } };
    // The error finding exactly as the detect stage raises it, so both sides share the contract.
    const n = normalizeEnvelope(secretRead({ at: '2026-03-10T10:00:00Z', secret: { uuid: uid('secret', 'K'), key: 'K' } }));
    if (!n.ok) throw new Error(n.reason);
    const f = errorFinding(detectorById('secret-access')!.meta, new TypeError('boom'), n.event, { uid: n.event.metadata.tenant_uid ?? '', name: 'acme' });
    expect(await stage('enforce', config).contain(f)).toEqual([]);
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: r.name }))).PolicyNames).toEqual([]);
  });
});
