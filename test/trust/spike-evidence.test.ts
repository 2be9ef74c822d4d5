import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { agentConnected, uid, type AgentRef } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli } from './support.ts';

// the spike response stops agents by evidence; agents that look like the fleet are reported, not stopped.
const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const agent = (name: string, ip: string): AgentRef => ({ uuid: uid('agent', name), name, ip });
const fleet = [agent('ci-linux-1', '3.80.10.1'), agent('ci-linux-2', '3.80.10.2')];
const scaleOut = [agent('ci-linux-3', '3.80.10.3'), agent('ci-linux-4', '3.80.10.4'), agent('ci-linux-5', '3.80.10.5')];
const rogue = [agent('xmr-1', '185.220.101.1'), agent('xmr-2', '185.220.101.2'), agent('xmr-3', '185.220.101.3')];
const T0 = Date.parse('2026-03-10T08:00:00Z');
const T1 = Date.parse('2026-03-10T10:00:00Z');
const envelopes = [
  ...fleet.map((a, i) => agentConnected({ at: T0 + i * 60_000, agent: a, token })),
  // The burst interleaves a legitimate scale-out with the attacker's registrations.
  ...[scaleOut[0], rogue[0], scaleOut[1], rogue[1], scaleOut[2], rogue[2]].map((a, i) => agentConnected({ at: T1 + i * 5000, agent: a as AgentRef, token })),
];
const config = { detectors: { 'token-spike': { minAgentRegistrations: 5, factor: 2 }, 'unusual-ip': { learningPeriodHours: 0 } } };

let bk: FakeBuildkite;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
  bk.addClusterToken(bk.addCluster('ci'), { id: token.uuid, description: token.description });
  for (const a of [...fleet, ...scaleOut, ...rogue]) bk.addAgent({ id: a.uuid, name: a.name });
});
afterEach(async () => bk.close());

describe('token-spike response', () => {
  it('stops the registrations from a network the token never used, and only reports the ones that look like the fleet', async () => {
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(0);
    const spike = r.findings.find((f) => (f['finding_info'] as { analytic: { uid: string } }).analytic.uid === 'token-spike');
    expect(spike).toBeDefined();
    const data = (spike?.['unmapped'] as { kitewatch: Record<string, unknown> }).kitewatch;
    expect(data['burst_agents_like_fleet']).toBeGreaterThan(0);
    for (const a of scaleOut) expect(bk.agents.get(a.uuid)?.stopped, a.name).toBeUndefined();
    for (const a of fleet) expect(bk.agents.get(a.uuid)?.stopped, a.name).toBeUndefined();
    expect(rogue.filter((a) => bk.agents.get(a.uuid)?.stopped !== undefined).length).toBeGreaterThan(0);
  });
});
