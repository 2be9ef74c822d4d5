import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/load.ts';
import { ACTION_IDS } from '../../lib/containment/actions.ts';
import { buildActivity, type OutcomeCode, type Target } from '../../lib/containment/activity.ts';
import { actionKey } from '../../lib/containment/engine.ts';
import { actionsFor, entitiesFor, matchingRules, parseFinding, protectionFor, rolesFor } from '../../lib/containment/policy.ts';
import type { SeverityId, StatusId } from '../../lib/ocsf/types.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding, type ResourceSpec } from './helpers.ts';

const config = parseConfig({}).containment;

function facts(f: ReturnType<typeof finding>) {
  const p = parseFinding(f);
  if (!p.ok) throw new Error(p.reason);
  return p.finding;
}

describe('policy (pure)', () => {
  it('matches by detector, minimum severity and target type', () => {
    const token = facts(finding({ detector: 'token-spike', severityId: 2, resources: [{ uid: 't', type: 'AgentToken', role: 'target' }] }));
    expect(actionsFor(matchingRules(token, config.policy))).toEqual(['revoke-agent-token', 'stop-agent']);
    const info = facts(finding({ detector: 'token-spike', severityId: 1, resources: [{ uid: 't', type: 'AgentToken', role: 'target' }] }));
    expect(matchingRules(info, config.policy)).toEqual([]);
    const apiToken = facts(finding({ detector: 'token-spike', resources: [{ uid: 't', type: 'ApiToken', role: 'target' }] }));
    expect(matchingRules(apiToken, config.policy)).toEqual([]);
    expect(facts(finding({ detector: 'x', resources: [] })).org).toBe('acme');
  });

  it('stop-agent takes implicated agents only, and skips those the finding says are gone', () => {
    const f = facts(
      finding({
        detector: 'unusual-ip',
        resources: [
          { uid: 't', type: 'ClusterToken', role: 'target', data: { cluster_id: 'c1' } },
          { uid: 'a1', type: 'Agent', role: 'implicated' },
          { uid: 'a2', type: 'Agent', role: 'implicated', data: { connection_state: 'lost' } },
          { uid: 'a3', type: 'Agent', role: 'related' },
        ],
      }),
    );
    expect(entitiesFor('stop-agent', f).targets.map((t) => t.uid)).toEqual(['a1']);
    expect(entitiesFor('revoke-agent-token', f).targets).toEqual([{ type: 'ClusterToken', uid: 't', org: 'acme', attrs: { cluster_id: 'c1' } }]);
  });

  it('stop-agent asks approval for burst agents that look like the fleet, once per incident update that names them', () => {
    const resources: ResourceSpec[] = [
      { uid: 't', type: 'AgentToken', role: 'target' as const },
      { uid: 'a1', type: 'Agent', role: 'implicated' as const },
      { uid: 'look', type: 'Agent', role: 'related' as const, data: { like_fleet: true } },
      { uid: 'gone', type: 'Agent', role: 'related' as const, data: { like_fleet: true, connected: false } },
      { uid: 'old', type: 'Agent', role: 'related' as const },
    ];
    const first = entitiesFor('stop-agent', facts(finding({ detector: 'token-spike', resources })));
    expect(first.targets.map((t) => t.uid)).toEqual(['a1']);
    expect(first.approvalFirst?.map((t) => t.uid)).toEqual(['look']);
    // An Update acts only on what it names for the first time, look-alikes included.
    const update = (since: number) => {
      const f = finding({ detector: 'token-spike', resources: resources.map((r) => (r.uid === 'look' ? { ...r, data: { ...r.data, since_update: since } } : r)) });
      return facts({ ...f, activity_id: 2, unmapped: { kitewatch: { incident: { update: 3 } } } });
    };
    expect(entitiesFor('stop-agent', update(3)).approvalFirst?.map((t) => t.uid)).toEqual(['look']);
    expect(entitiesFor('stop-agent', update(2)).approvalFirst).toBeUndefined();
  });

  it('selects OIDC roles by the uuid of a pipeline the finding names, or by the slug Buildkite reports for it; never by its name', () => {
    const uuid = '0190e6b6-3c3d-4a5b-9d1e-2f4a6b8c0d1e';
    const c = parseConfig({
      containment: { oidcRoles: [{ role: 'arn:aws:iam::1:role/ci/deploy', pipelines: ['deploy'] }, { role: 'by-uuid', pipelines: [uuid.toUpperCase()] }, { role: 'all' }] },
    }).containment;
    const f = facts(finding({ detector: 'x', resources: [{ uid: 'p', name: 'docs', type: 'Pipeline', role: 'related' }] }));
    expect(rolesFor(f, c).map((r) => [r.uid, r.name])).toEqual([['all', 'all']]);
    const g = facts(finding({ detector: 'x', resources: [{ uid: uuid, name: 'deploy', type: 'Pipeline', role: 'related' }] }));
    expect(rolesFor(g, c).map((r) => r.name)).toEqual(['by-uuid', 'all']);
    expect(rolesFor(g, c, new Map([[uuid, 'deploy']])).map((r) => r.name)).toEqual(['deploy', 'by-uuid', 'all']);
  });

  it('protection matches type, uid, name patterns (admin-named types) and agent placement; a token protection covers both token kinds', () => {
    const cluster = '0190e6b6-3c3d-4a5b-9d1e-2f4a6b8c0d1e';
    const list = parseConfig({
      containment: {
        protected: [
          { type: 'AgentToken', uid: 'tok' },
          { type: 'Queue', name: 'prod-*-deploy' },
          { type: 'Agent', cluster, queue: 'deploy' },
        ],
      },
    }).containment.protected;
    expect(protectionFor({ type: 'ClusterToken', uid: 'tok' }, list)).toBeDefined();
    expect(protectionFor({ type: 'Agent', uid: 'tok' }, list)).toBeUndefined();
    expect(protectionFor({ type: 'Queue', uid: 'x', name: 'prod-eu-deploy' }, list)).toBeDefined();
    expect(protectionFor({ type: 'Queue', uid: 'x', name: 'prod-eu-deploy-2' }, list)).toBeUndefined();
    expect(protectionFor({ type: 'Queue', uid: 'x', name: 'prod.(eu)-deploy' }, [{ type: 'Queue', name: 'prod.(eu)-deploy' }])).toBeDefined();
    // Placement protections decide only with Buildkite's answer, never on the agent's name.
    expect(protectionFor({ type: 'Agent', uid: 'a', name: 'deploy' }, list)).toBeUndefined();
    expect(protectionFor({ type: 'Agent', uid: 'a' }, list, { clusterId: cluster, queueKey: 'deploy' })).toBeDefined();
    expect(protectionFor({ type: 'Agent', uid: 'a' }, list, { clusterId: cluster, queueKey: 'default' })).toBeUndefined();
  });

  it('idempotency keys: per target for revocations, per finding for repeatable actions', () => {
    const t: Target = { type: 'Agent', uid: 'a' };
    expect(actionKey('stop-agent', t, 'f1')).toBe(actionKey('stop-agent', t, 'f2'));
    expect(actionKey('rotate-secret', t, 'f1')).not.toBe(actionKey('rotate-secret', t, 'f2'));
  });
});

describe('Remediation Activity', () => {
  const outcomes: [OutcomeCode, StatusId][] = [
    ['done', 1],
    ['already-gone', 1],
    ['already-done', 1],
    ['dry-run', 99],
    ['protected', 99],
    ['pending-approval', 99],
    ['in-progress', 99],
    ['not-applicable', 99],
    ['failed', 2],
    ['approved', 99],
    ['denied', 99],
    ['expired', 99],
  ];

  it('is valid OCSF 1.8 for every action, outcome, target and severity, with a deterministic uid', () => {
    const text = fc.string({ minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTION_IDS),
        fc.constantFrom(...outcomes),
        fc.record({ uid: text, name: fc.option(text, { nil: undefined }), org: fc.option(fc.constantFrom('acme', 'my-org'), { nil: undefined }) }),
        fc.constantFrom<SeverityId>(1, 2, 3, 4, 5),
        fc.option(text, { nil: undefined }),
        (action, [code, statusId], t, severityId, correlationUid) => {
          const target: Target = { type: 'Agent', uid: t.uid, ...(t.name !== undefined ? { name: t.name } : {}), ...(t.org !== undefined ? { org: t.org } : {}) };
          const ctx = { severityId, origin: 'automatic' as const, mode: 'enforce' as const, time: 1_763_900_000_000, ...(correlationUid !== undefined ? { correlationUid } : {}) };
          const e = buildActivity(action, target, { code, statusId, detail: code, message: 'm' }, ctx);
          expectValidOcsf(e);
          expect(e.command_uid).toBe(action);
          expect(e.metadata.correlation_uid).toBe(correlationUid);
          expect(buildActivity(action, target, { code, statusId, detail: code, message: 'other text' }, { ...ctx, time: 1 }).metadata.uid).toBe(e.metadata.uid);
        },
      ),
      { numRuns: 200 },
    );
  });
});
