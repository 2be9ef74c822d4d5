import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audit, uid } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli, statusOf } from './support.ts';

// actions resolve their targets by uid, never by a name the attacker picked.
const mallory = { uuid: uid('user', 'mallory'), name: 'Mallory' };

let bk: FakeBuildkite;
beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'acme-inc' });
});
afterEach(async () => bk.close());

describe('archive-pipeline', () => {
  it('archives the pipeline the audit event names by uuid, not the one whose slug equals its display name', async () => {
    const deployProd = bk.addPipeline('deploy-prod');
    const scratch = bk.addPipeline('scratch');
    const config = {
      detectors: { 'break-glass-edit': { iacActors: [uid('user', 'terraform')] } },
      containment: {
        policy: [{ detector: 'break-glass-edit', actions: ['archive-pipeline'] }],
        approval: { required: [] },
        protected: [{ type: 'Pipeline', uid: deployProd, reason: 'production deploys' }],
      },
    };
    // Mallory renamed her scratch pipeline "deploy-prod" and edits it.
    const envelopes = [
      audit({ at: '2026-03-10T10:20:00Z', type: 'PIPELINE_UPDATED', actor: mallory, subject: { type: 'Pipeline', uuid: scratch, name: 'deploy-prod' }, data: { name: 'deploy-prod' } }),
    ];
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(0);
    expect(r.activities.map(statusOf)).toEqual([['archive-pipeline', 'Success', 'done']]);
    expect(bk.pipelines.get('deploy-prod')?.archived).toBe(false);
    expect(bk.pipelines.get('scratch')?.archived).toBe(true);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchPipelineByUuid', 'POST /v2/organizations/acme-inc/pipelines/scratch/archive']);
  });
});

describe('secret mappings', () => {
  const deployBot = { uuid: uid('user', 'deploy-bot'), name: 'deploy-bot' };
  const renamed = { uuid: uid('user', 'mallory'), name: 'deploy-bot' };
  const burst = (actor: { uuid: string; name: string }) =>
    [0, 1, 2, 3].map((i) =>
      audit({ at: Date.parse('2026-03-10T10:00:00Z') + i * 1000, type: 'PIPELINE_UPDATED', actor, subject: { type: 'Pipeline', uuid: uid('pipeline', 'web'), name: 'web' }, seq: i }),
    );
  const policy = [{ detector: 'token-spike', actions: ['rotate-secret'] }];
  const detectors = { 'token-spike': { minAuditEvents: 4 }, 'break-glass-edit': { enabled: false } };
  const smArn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:ci/deploy-bot-AbCdEf';

  it('a mapping by name for anything but a Buildkite secret is a config error (exit 2) that says why', async () => {
    const config = { detectors, containment: { policy, secretMappings: [{ buildkite: { type: 'Actor', name: 'deploy-bot' }, secretsManager: [smArn] }] } };
    const r = await replayCli({ envelopes: burst(renamed), config, args: ['--containment', 'dry-run'] });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('containment.secretMappings.0.buildkite.name: an Actor is matched by its uid only');
  });

  it('an actor mapping matches the uid: the real deploy-bot selects the secret, a user renamed "deploy-bot" does not', async () => {
    const config = { detectors, containment: { policy, secretMappings: [{ buildkite: { type: 'Actor', uid: deployBot.uuid }, secretsManager: [smArn] }] } };
    const impostor = await replayCli({ envelopes: burst(renamed), config, args: ['--containment', 'dry-run'] });
    expect(impostor.findings).toHaveLength(1);
    expect(impostor.activities).toEqual([]);
    const real = await replayCli({ envelopes: burst(deployBot), config, args: ['--containment', 'dry-run'] });
    expect(real.activities.map(statusOf)).toEqual([['rotate-secret', 'Other', 'dry-run']]);
  });
});
