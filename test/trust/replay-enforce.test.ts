import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registrationBlocked, uid } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli, statusOf } from './support.ts';

// a replay of old input acts only with an explicit --containment enforce.
const clusterToken = { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '3.80.0.0/12' };
const envelopes = [registrationBlocked({ at: '2026-03-10T10:01:00Z', blockedIp: '185.220.101.34', clusterToken })];
const config = { containment: { mode: 'enforce' } };

let bk: FakeBuildkite;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
  bk.addClusterToken(bk.addCluster('prod'), { id: clusterToken.uuid, description: clusterToken.description });
});
afterEach(async () => bk.close());

describe('kitewatch replay and containment.mode "enforce"', () => {
  it('runs dry-run and says so when the config says enforce but --containment is not given', async () => {
    const r = await replayCli({ envelopes, config, bk });
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('a replay runs dry-run unless --containment enforce is given');
    expect(r.activities.map(statusOf)).toEqual([['revoke-agent-token', 'Other', 'dry-run']]);
    expect(bk.calls).toEqual([]);
  });

  it('acts when --containment enforce is given explicitly', async () => {
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(0);
    expect(r.activities.map(statusOf)).toEqual([['revoke-agent-token', 'Success', 'done']]);
    expect(bk.callLines().at(-1)).toMatch(new RegExp(`^DELETE /v2/organizations/acme-inc/clusters/.*/tokens/${clusterToken.uuid}$`));
  });
});
