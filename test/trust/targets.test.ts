import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audit, uid } from '../../lib/detections/builders.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { replayCli, statusOf } from './support.ts';

// Issue 11, item 3: actions resolve their targets by uid, never by a name the attacker picked.
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
    const envelopes = [audit({ at: '2026-03-10T10:20:00Z', type: 'PIPELINE_UPDATED', actor: mallory, subject: { type: 'Pipeline', uuid: scratch, name: 'deploy-prod' }, data: { name: 'deploy-prod' } })];
    const r = await replayCli({ envelopes, config, bk, args: ['--containment', 'enforce'] });
    expect(r.code).toBe(0);
    expect(r.activities.map(statusOf)).toEqual([['archive-pipeline', 'Success', 'done']]);
    expect(bk.pipelines.get('deploy-prod')?.archived).toBe(false);
    expect(bk.pipelines.get('scratch')?.archived).toBe(true);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchPipelineByUuid', 'POST /v2/organizations/acme-inc/pipelines/scratch/archive']);
  });
});
