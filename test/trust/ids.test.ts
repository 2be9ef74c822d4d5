import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentConnected, registrationBlocked, uid, type AgentRef } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli, statusOf } from './support.ts';

// Ids are checked before they reach a URL, and no control character reaches the terminal.
const clusterToken = { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '3.80.0.0/12' };
const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const enforce = ['--containment', 'enforce'];

let bk: FakeBuildkite;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
  bk.addClusterToken(bk.addCluster('prod'), { id: clusterToken.uuid, description: clusterToken.description });
});
afterEach(async () => bk.close());

describe('ids are checked before they reach a URL', () => {
  it('an agent uuid of ".." is a Failure with the reason, and no request is made for it', async () => {
    const rogue: AgentRef = { uuid: '..', name: 'rogue', ip: '185.220.101.34' };
    const r = await replayCli({ envelopes: [registrationBlocked({ at: '2026-03-10T10:01:00Z', blockedIp: rogue.ip, clusterToken, agent: rogue })], bk, args: enforce });
    expect(r.code).toBe(0);
    expect(r.activities.map(statusOf)).toEqual([
      ['revoke-agent-token', 'Success', 'done'],
      ['stop-agent', 'Failure', 'failed: invalid id: the agent id is not a valid uuid: ".."'],
    ]);
    // Without the check, PUT .../agents/../stop resolves to PUT /v2/organizations/acme-inc/stop.
    expect(bk.callLines().filter((c) => c.startsWith('PUT'))).toEqual([]);
  });

  it('a uuid carrying a newline does not forge a roster record: the victim agent is not stopped', async () => {
    const victim = bk.addAgent({ id: uid('agent', 'victim'), name: 'prod-deployer-1' });
    const agents: AgentRef[] = [1, 2, 3].map((n) => ({ uuid: uid('agent', 'rogue', String(n)), name: `rogue-${n}`, ip: `185.220.101.${n}` }));
    // The first registration's uuid smuggles a record for the victim into the token's roster.
    const forged: AgentRef = { uuid: `${uid('agent', 'rogue', '4')}\n${victim.id}`, name: 'rogue-4', ip: '185.220.101.4' };
    const envelopes = [forged, ...agents].map((agent, i) => agentConnected({ at: Date.parse('2026-03-10T10:00:00Z') + i * 1000, agent, token }));
    const config = { detectors: { 'token-spike': { minAgentRegistrations: 4 } } };
    for (const a of agents) bk.addAgent({ id: a.uuid, name: a.name });
    const r = await replayCli({ envelopes, config, bk, args: enforce });
    expect(r.code).toBe(0);
    expect(r.findings.map((f) => (f['finding_info'] as { analytic: { uid: string } }).analytic.uid)).toContain('token-spike');
    const uids = r.findings.flatMap((f) => (f['resources'] as { uid: string }[]).map((x) => x.uid));
    expect(uids).not.toContain(victim.id);
    expect(victim.stopped).toBeUndefined();
    expect(bk.callLines()).not.toContain(`PUT /v2/organizations/acme-inc/agents/${victim.id}/stop`);
  });
});

describe('terminal output', () => {
  it('escapes control characters in what the CLI prints (a target uid cannot forge log lines)', async () => {
    const evil: AgentRef = { uuid: `${uid('agent', 'x')}\r\nkitewatch: all clear\u001b[2J\u202e`, name: 'rogue\u001b[31m', ip: '185.220.101.34' };
    const r = await replayCli({ envelopes: [registrationBlocked({ at: '2026-03-10T10:01:00Z', blockedIp: evil.ip, clusterToken, agent: evil })], bk, args: enforce });
    expect(r.code).toBe(0);
    // The step that is not attempted is logged with the uid: escaped, on one line.
    expect(r.stderr).toContain('\\r\\nkitewatch: all clear\\x1b[2J\\u202e');
    expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('kitewatch: all clear'))).toEqual([]);
  });

  it('OCSF NDJSON on stdout carries bidi and C1 characters as \\u escapes (the same JSON)', async () => {
    const evil: AgentRef = { uuid: uid('agent', 'y'), name: 'build\u202egnp.exe\u009b', ip: '185.220.101.34' };
    const envelopes = [registrationBlocked({ at: '2026-03-10T10:01:00Z', blockedIp: evil.ip, clusterToken, agent: evil })];
    const r = await replayCli({ envelopes, args: ['--containment', 'off', '--sink', 'stdout'] });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u007f-\u009f\u202a-\u202e]/);
    expect(r.stdout).toContain('build\\u202egnp.exe\\u009b');
    expect(
      r.stdout
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as unknown),
    ).toHaveLength(2);
  });
});
