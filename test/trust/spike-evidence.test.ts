import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentConnected, uid, type AgentRef } from '../../lib/detections/builders.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli } from './support.ts';

// The spike response stops agents by evidence: a network the token never used, or a version,
// hostname or name pattern, or tags unlike the fleet's. Agents that look like the fleet are reported,
// and stopping them waits for a responder's approval.
const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const agent = (name: string, ip: string, more: Partial<AgentRef> = {}): AgentRef => ({
  uuid: uid('agent', name),
  name,
  ip,
  hostname: `ip-10-0-1-${ip.split('.').pop() ?? '0'}.ec2.internal`,
  instanceId: `i-0${uid('instance', name).replace(/-/g, '').slice(0, 16)}`,
  ...more,
});
const fleet = [agent('ci-linux-1', '3.80.10.1'), agent('ci-linux-2', '3.80.10.2')];
// (a) a legitimate scale-out: the fleet's network, version, hostname pattern and tags.
const scaleOut = [agent('ci-linux-3', '3.80.10.3'), agent('ci-linux-4', '3.80.10.4'), agent('ci-linux-5', '3.80.10.5')];
// (b) from a network the token uses, but unlike the fleet.
const oldVersion = agent('ci-linux-6', '3.80.10.6', { version: '3.40.0' });
const otherQueue = agent('ci-linux-7', '3.80.10.7', { queue: 'deploy' });
const extraTag = agent('ci-linux-8', '3.80.10.8', { tags: ['docker=false'] });
const otherHost = agent('ci-linux-9', '3.80.10.9', { hostname: 'DESKTOP-7QK2LM' });
const unlike = [oldVersion, otherQueue, extraTag, otherHost];
// (c) a network the token never used.
const rogue = [agent('ci-linux-10', '185.220.101.1'), agent('xmr-2', '185.220.101.2')];

const T0 = Date.parse('2026-03-10T08:00:00Z');
const T1 = Date.parse('2026-03-10T10:00:00Z');
// The legitimate look-alike ci-linux-5 is the registration that crosses the threshold (11).
const burst = [scaleOut[0], rogue[0], oldVersion, scaleOut[1], otherQueue, rogue[1], extraTag, otherHost, scaleOut[2]] as AgentRef[];
const envelopes = [
  ...fleet.flatMap((a, i) => [agentConnected({ at: T0 + i * 60_000, agent: a, token }), agentConnected({ at: T0 + 1800_000 + i * 60_000, agent: a, token })]),
  ...burst.map((a, i) => agentConnected({ at: T1 + i * 5000, agent: a, token })),
];
const config = {
  detectors: { 'token-spike': { minAgentRegistrations: burst.length, factor: 2 }, 'unusual-ip': { learningPeriodHours: 0 } },
  // Only the spike response acts, so that unusual-ip's own response does not stop the rogue agents for it.
  containment: { policy: [{ detector: 'token-spike', targetTypes: ['AgentToken'], actions: ['revoke-agent-token', 'stop-agent'] }] },
};

let bk: FakeBuildkite;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
  bk.addClusterToken(bk.addCluster('ci'), { id: token.uuid, description: token.description });
  for (const a of [...fleet, ...scaleOut, ...unlike, ...rogue]) bk.addAgent({ id: a.uuid, name: a.name });
});
afterEach(async () => bk.close());

type Resource = { uid: string; type: string; data: Record<string, unknown> };
const spikeOf = (findings: OcsfEvent[]): OcsfEvent => {
  const f = findings.find((x) => (x['finding_info'] as { analytic: { uid: string } }).analytic.uid === 'token-spike');
  if (f === undefined) throw new Error('no token-spike finding');
  return f;
};
const agentsIn = (f: OcsfEvent, role: string): Resource[] => (f['resources'] as Resource[]).filter((r) => r.type === 'Agent' && r.data['role'] === role);
const stopsOf = (activities: OcsfEvent[], a: AgentRef): OcsfEvent[] =>
  activities.filter((e) => e['command_uid'] === 'stop-agent' && (e.unmapped as { kitewatch: { target: { uid: string } } }).kitewatch.target.uid === a.uuid);

describe('token-spike response', () => {
  it('enforce: stops the agents that differ from the fleet or come from a new network; asks approval for the look-alikes and stops none of them', async () => {
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code, r.stderr).toBe(0);
    const spike = spikeOf(r.findings);
    expect(spike.time).toBe(T1 + (burst.length - 1) * 5000);

    // (a) reported, not stopped, approval asked.
    expect(
      agentsIn(spike, 'related')
        .filter((x) => x.data['like_fleet'] === true)
        .map((x) => x.uid)
        .sort(),
    ).toEqual(scaleOut.map((a) => a.uuid).sort());
    expect((spike['unmapped'] as { kitewatch: Record<string, unknown> }).kitewatch['burst_agents_like_fleet']).toBe(scaleOut.length);
    for (const a of [...scaleOut, ...fleet]) expect(bk.agents.get(a.uuid)?.stopped, a.name).toBeUndefined();
    for (const a of scaleOut) {
      const [activity] = stopsOf(r.activities, a);
      expect(activity?.['status_detail'], a.name).toBe("pending approval: the agent looks like its token's fleet (stopped only if a responder approves)");
      expect((activity?.unmapped as { kitewatch: Record<string, unknown> }).kitewatch['like_fleet']).toBe(true);
    }
    for (const a of fleet) expect(stopsOf(r.activities, a), a.name).toEqual([]);

    // (b) and (c) implicated with the evidence, and stopped.
    const implicated = new Map(agentsIn(spike, 'implicated').map((x) => [x.uid, (x.data['evidence'] as string[]).join('; ')]));
    expect([...implicated.keys()].sort()).toEqual([...unlike, ...rogue].map((a) => a.uuid).sort());
    expect(implicated.get(oldVersion.uuid)).toBe('agent version "3.40.0" not in the fleet\'s ("3.97.1")');
    expect(implicated.get(otherQueue.uuid)).toBe('tags "queue=deploy" not in the fleet\'s');
    expect(implicated.get(extraTag.uuid)).toBe('tags "docker=false" not in the fleet\'s');
    expect(implicated.get(otherHost.uuid)).toBe('hostname pattern "desktop-#qk#lm" not in the fleet\'s ("ip-#-#-#-#.ec#.internal")');
    expect(implicated.get(rogue[0]?.uuid ?? '')).toBe('network AS60729 never used by this token');
    expect(implicated.get(rogue[1]?.uuid ?? '')).toBe('network AS60729 never used by this token; name pattern "xmr-#" not in the fleet\'s ("ci-linux-#")');
    for (const a of [...unlike, ...rogue]) {
      expect(bk.agents.get(a.uuid)?.stopped, a.name).toBeDefined();
      expect(stopsOf(r.activities, a).map((e) => e['status_detail'])).toEqual(['done']);
    }
    expect(r.activities.filter((e) => e['command_uid'] === 'revoke-agent-token').map((e) => e['status_detail'])).toEqual(['done']);
  });

  it('dry-run says which agents it would stop and which it would ask about', async () => {
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'dry-run'] });
    expect(r.code, r.stderr).toBe(0);
    for (const a of scaleOut) {
      const [activity] = stopsOf(r.activities, a);
      expect(activity?.message, a.name).toContain("in enforce mode it would wait for approval (the agent looks like its token's fleet");
    }
    for (const a of [...unlike, ...rogue]) expect(stopsOf(r.activities, a)[0]?.message ?? '', a.name).not.toContain('approval');
    for (const a of [...fleet, ...scaleOut, ...unlike, ...rogue]) expect(bk.agents.get(a.uuid)?.stopped, a.name).toBeUndefined();
  });

  it('an attacker cannot inflate what is kept per token: thousands of tags and long values with control characters are capped and escaped', async () => {
    const flood = agent('ci-linux-12', '3.80.10.12', {
      version: `3.97.1\u001b[2J${'x'.repeat(500)}`,
      hostname: `evil\r\nhost-${'h'.repeat(5000)}`,
      tags: Array.from({ length: 1500 }, (_, i) => `k${i}\u0007=${'v'.repeat(100)}`),
    });
    const attack = burst.map((a) => (a === otherHost ? flood : a));
    bk.addAgent({ id: flood.uuid, name: flood.name });
    const input = [...envelopes.slice(0, 4), ...attack.map((a, i) => agentConnected({ at: T1 + i * 5000, agent: a, token }))];
    const r = await replayCli({ envelopes: input, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code, r.stderr).toBe(0);
    expect(r.quarantine).toEqual([]);
    const evidence = (agentsIn(spikeOf(r.findings), 'implicated').find((x) => x.uid === flood.uuid)?.data['evidence'] ?? []) as string[];
    expect(evidence.map((e) => e.split(' ')[0])).toEqual(['agent', 'hostname', 'tags']);
    expect(evidence[0]).toMatch(/^agent version "3\.97\.1\\x1b\[2Jx+…" not in the fleet's/);
    expect(evidence[1]).toMatch(/^hostname pattern "evil\\r\\nhost-h+…" not in the fleet's/);
    expect(evidence[2]).toMatch(/^tags "k\d+\\x07=v+…", "k\d+\\x07=v+…", "k\d+\\x07=v+…" and 20 more not in the fleet's$/);
    expect(evidence.join('')).not.toMatch(/[\u0000-\u001f\u007f]/);
    for (const e of evidence) expect(e.length).toBeLessThan(400);
    expect(bk.agents.get(flood.uuid)?.stopped).toBeDefined();
    // What the state keeps for the token stays small.
    const db = new DatabaseSync(join(r.dir, 'state.db'), { readOnly: true });
    const rows = db.prepare("SELECT key, length(value) AS n FROM kw_state WHERE key LIKE '%fleet:%' OR key LIKE '%roster:%'").all() as { key: string; n: number }[];
    db.close();
    expect(rows.length).toBe(2);
    for (const row of rows) expect(row.n, row.key).toBeLessThan(24_000);
  });
});
