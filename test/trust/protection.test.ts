import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registrationBlocked, uid, type AgentRef } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli, statusOf } from './support.ts';

// protection matches uids, or what only admins set (an agent's cluster and queue).
const clusterToken = { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '3.80.0.0/12' };
const rogue: AgentRef = { uuid: uid('agent', 'rogue', '1'), name: 'prod-deployer-rogue1', ip: '185.220.101.34' };
const deployer: AgentRef = { uuid: uid('agent', 'prod-deployer-1'), name: 'prod-deployer-1', ip: '185.220.101.35' };
const envelopes = [
  registrationBlocked({ at: '2026-03-10T10:01:00Z', blockedIp: rogue.ip, clusterToken, agent: rogue }),
  registrationBlocked({ at: '2026-03-10T10:02:00Z', blockedIp: deployer.ip, clusterToken, agent: deployer }),
];

let bk: FakeBuildkite;
let prodCluster: string;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
  prodCluster = bk.addCluster('prod');
  bk.addClusterToken(prodCluster, { id: clusterToken.uuid, description: clusterToken.description });
  const ciQueue = bk.addQueue(bk.addCluster('ci'), 'default');
  const deployQueue = bk.addQueue(prodCluster, 'deploy');
  // The rogue agent named itself like the deployers; Buildkite placed it in the ci cluster.
  bk.addAgent({ id: rogue.uuid, name: rogue.name, queue: ciQueue });
  bk.addAgent({ id: deployer.uuid, name: deployer.name, queue: deployQueue });
});
afterEach(async () => bk.close());

describe('protected agents', () => {
  it('a name pattern on agents is a config error (exit 2) that says why', async () => {
    const config = { containment: { protected: [{ type: 'Agent', name: 'prod-deployer-*', reason: 'deploy fleet' }] } };
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('containment.protected.0.name: a name pattern cannot protect an Agent: its name is chosen by whoever creates it');
    expect(bk.calls).toEqual([]);
  });

  it('protection by cluster uses where Buildkite placed the agent: the deployer is skipped, the look-alike is stopped', async () => {
    const config = { containment: { protected: [{ type: 'Agent', cluster: prodCluster, reason: 'prod deploy fleet' }] } };
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(0);
    const stops = r.activities.filter((e) => e['command_uid'] === 'stop-agent');
    expect(stops.map(statusOf)).toEqual([
      ['stop-agent', 'Success', 'done'],
      ['stop-agent', 'Other', 'skipped: protected'],
    ]);
    expect(bk.agents.get(rogue.uuid)?.stopped).toBeDefined();
    expect(bk.agents.get(deployer.uuid)?.stopped).toBeUndefined();
  });

  it('protection by queue key within a cluster', async () => {
    const config = { containment: { protected: [{ type: 'Agent', cluster: prodCluster, queue: 'deploy' }] } };
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.activities.filter((e) => e['command_uid'] === 'stop-agent').map((e) => e['status_detail'])).toEqual(['done', 'skipped: protected']);
  });
});
