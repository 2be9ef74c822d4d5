/**
 * The containment of privilege-grant, account-takeover and interactive-session findings:
 * revoke-grant, remove-member and cancel-job through the default policy, against the fake
 * Buildkite whose GraphQL endpoint executes every document on Buildkite's real schema.
 */
import { randomUUID } from 'node:crypto';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { createContainStage } from '../../lib/containment/stage.ts';
import type { ContainStage } from '../../lib/engine/stages.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { awsClientConfig } from '../support/moto.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding, replayOptions } from './helpers.ts';

let bk: FakeBuildkite;
let sm: SecretsManagerClient;
let iam: IAMClient;
let state: SqliteState;
let logs: string[];

/** The default policy, with the approval step taken away so the actions run here. */
const noApproval: KitewatchConfigInput = { containment: { approval: { required: [] } } };

function stage(mode: 'dry-run' | 'enforce', config: KitewatchConfigInput = {}): ContainStage {
  return createContainStage(replayOptions({ mode, apiUrl: bk.url, graphqlUrl: bk.graphqlUrl, config }), state, {
    env: { BUILDKITE_API_TOKEN: bk.token },
    secretsManager: sm,
    iam,
    log: (line) => void logs.push(line),
    now: () => Date.parse('2026-11-23T10:15:00Z'),
  });
}

const summary = (events: readonly OcsfEvent[]) => events.map((e) => [e.command_uid, e.status_detail]);

beforeAll(() => {
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
});
afterEach(async () => {
  expect(logs.join('\n')).not.toContain(bk.token);
  await bk.close();
  await state.close();
});

describe('privilege-grant: revoke-grant', () => {
  it('by default waits for approval, and dry-run says what it would call', async () => {
    const inv = bk.addInvitation({ role: 'ADMIN', email: 'eve@example.net' });
    const f = finding({ detector: 'privilege-grant', resources: [{ uid: inv.uuid, type: 'OrganizationInvitation', role: 'target' }] });
    expect(summary(await stage('enforce').contain(f))).toEqual([['revoke-grant', 'pending approval: approval required']]);
    const [dry] = await stage('dry-run').contain(finding({ detector: 'privilege-grant', uid: 'other', resources: [{ uid: inv.uuid, type: 'OrganizationInvitation', role: 'target' }] }));
    expect(dry?.message).toMatch(/would revoke invitation .* in enforce mode it would wait for approval/);
    expect(JSON.stringify(dry?.unmapped)).toContain(`graphql KitewatchFindOrganizationInvitation acme/${inv.uuid}`);
    expect(bk.calls).toEqual([]);
    expect(inv.state).toBe('PENDING');
  });

  it('revokes a pending admin invitation, and a second finding finds it done', async () => {
    const inv = bk.addInvitation({ role: 'ADMIN' });
    const events = await stage('enforce', noApproval).contain(finding({ detector: 'privilege-grant', resources: [{ uid: inv.uuid, type: 'OrganizationInvitation', role: 'target' }] }));
    events.forEach(expectValidOcsf);
    expect(summary(events)).toEqual([['revoke-grant', 'done']]);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchFindOrganizationInvitation', 'POST /graphql KitewatchRevokeOrganizationInvitation']);
    expect(inv.state).toBe('REVOKED');
    bk.clearCalls();
    const again = await stage('enforce', noApproval).contain(finding({ detector: 'privilege-grant', uid: 'later', resources: [{ uid: inv.uuid, type: 'OrganizationInvitation', role: 'target' }] }));
    expect(summary(again)).toEqual([['revoke-grant', 'already done']]);
    expect(bk.calls).toEqual([]);
  });

  it('an invitation already accepted is not applicable: the grant is a membership now', async () => {
    const inv = bk.addInvitation({ role: 'ADMIN', state: 'ACCEPTED' });
    const [e] = await stage('enforce', noApproval).contain(finding({ detector: 'privilege-grant', resources: [{ uid: inv.uuid, type: 'OrganizationInvitation', role: 'target' }] }));
    expect(e?.status_detail).toBe('invitation accepted');
    expect(e?.message).toMatch(/demote or remove the member instead/);
    expect(bk.mutatingCalls()).toEqual([]);
  });

  it('demotes an admin membership to MEMBER; the grantor (related) is never touched', async () => {
    const grantee = bk.addMember({ role: 'ADMIN', name: 'Eve' });
    const grantor = bk.addMember({ role: 'ADMIN', name: 'Jane' });
    const f = finding({
      detector: 'privilege-grant',
      resources: [
        { uid: grantee.uuid, type: 'OrganizationMember', role: 'target' },
        { uid: grantee.user.uuid, type: 'Actor', role: 'related' },
        { uid: grantor.user.uuid, type: 'Actor', role: 'related' },
      ],
    });
    expect(summary(await stage('enforce', noApproval).contain(f))).toEqual([['revoke-grant', 'done']]);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchFindOrganizationMember', 'POST /graphql KitewatchUpdateOrganizationMemberRole']);
    expect([grantee.role, grantor.role]).toEqual(['MEMBER', 'ADMIN']);
  });

  it('a team maintainer grant is not revoked automatically, and says so', async () => {
    const events = await stage('enforce', noApproval).contain(finding({ detector: 'privilege-grant', resources: [{ uid: randomUUID(), type: 'TeamMember', role: 'target' }] }));
    expect(events.every((e) => e.status_detail !== 'done')).toBe(true);
    expect(bk.calls).toEqual([]);
  });

  it('a target that is not a uuid fails before any call', async () => {
    const [e] = await stage('enforce', noApproval).contain(finding({ detector: 'privilege-grant', resources: [{ uid: '../../x', type: 'OrganizationMember', role: 'target' }] }));
    expect(e?.status).toBe('Failure');
    expect(e?.status_detail).toMatch(/not a valid uuid/);
    expect(bk.calls).toEqual([]);
  });
});

describe('account-takeover: remove-member', () => {
  it('finds the membership of the user across pages and removes it', async () => {
    bk.perPage = 2;
    for (let i = 0; i < 4; i++) bk.addMember({ name: `other-${i}` });
    const victim = bk.addMember({ name: 'Bob', role: 'ADMIN' });
    const f = finding({ detector: 'account-takeover', resources: [{ uid: victim.user.uuid, name: 'Bob', type: 'Actor', role: 'target' }] });
    const events = await stage('enforce', noApproval).contain(f);
    events.forEach(expectValidOcsf);
    expect(summary(events)).toEqual([['remove-member', 'done']]);
    expect(bk.callLines()).toEqual([
      'POST /graphql KitewatchListOrganizationMembers',
      'POST /graphql KitewatchListOrganizationMembers',
      'POST /graphql KitewatchListOrganizationMembers',
      'POST /graphql KitewatchDeleteOrganizationMember',
    ]);
    expect(bk.members.has(victim.uuid)).toBe(false);
    expect(bk.members.size).toBe(4);
  });

  it('a user who is not a member counts as done; by default it waits for approval', async () => {
    bk.addMember();
    const f = finding({ detector: 'account-takeover', resources: [{ uid: randomUUID(), type: 'Actor', role: 'target' }] });
    expect(summary(await stage('enforce', noApproval).contain(f))).toEqual([['remove-member', 'already gone (not a member)']]);
    expect(summary(await stage('enforce').contain(finding({ detector: 'account-takeover', uid: 'b', resources: [{ uid: randomUUID(), type: 'Actor', role: 'target' }] })))).toEqual([
      ['remove-member', 'pending approval: approval required'],
    ]);
    expect(bk.mutatingCalls()).toEqual([]);
  });
});

describe('interactive-session: cancel-job', () => {
  it('cancels a running job named by a High finding; Medium findings are notify-only', async () => {
    const job = bk.addJob({ state: 'RUNNING' });
    const resources = [{ uid: job.uuid, name: 'Deploy', type: 'Job' as const, role: 'target' as const }];
    expect(await stage('enforce', noApproval).contain(finding({ detector: 'interactive-session', severityId: 3, resources }))).toEqual([]);
    const events = await stage('enforce', noApproval).contain(finding({ detector: 'interactive-session', uid: 'high', severityId: 4, resources }));
    events.forEach(expectValidOcsf);
    expect(summary(events)).toEqual([['cancel-job', 'done']]);
    expect(bk.callLines()).toEqual(['POST /graphql KitewatchFindJob', 'POST /graphql KitewatchCancelJob']);
    expect(job.state).toBe('CANCELING');
  });

  it('a finished job, a wait job and a missing job are reported without a cancel', async () => {
    const finished = bk.addJob({ state: 'FINISHED' });
    const wait = bk.addJob({ type: 'JobTypeWait', state: 'FINISHED' });
    const details: unknown[] = [];
    for (const uid of [finished.uuid, wait.uuid, randomUUID()]) {
      const [e] = await stage('enforce', noApproval).contain(finding({ detector: 'interactive-session', uid, resources: [{ uid, type: 'Job', role: 'target' }] }));
      details.push(e?.status_detail);
    }
    expect(details).toEqual(['already finished', 'not a command job', 'already gone (not found)']);
    expect(bk.mutatingCalls()).toEqual([]);
  });
});

describe('third-party-access', () => {
  it('is notify-only: the schema has no mutation that revokes an OAuth authorization', async () => {
    const f = finding({ detector: 'third-party-access', resources: [{ uid: randomUUID(), type: 'Authorization', role: 'target' }] });
    expect(await stage('enforce', noApproval).contain(f)).toEqual([]);
    expect(bk.calls).toEqual([]);
  });
});
