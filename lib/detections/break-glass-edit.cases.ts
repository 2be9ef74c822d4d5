/** break-glass-edit test cases. */
import { audit, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };
const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const oncall = { uuid: uid('user', 'oncall'), name: 'On Call' };
const breakglass = { uuid: uid('user', 'breakglass'), name: 'breakglass-admin' };
const pipeline = { type: 'Pipeline', uuid: uid('pipeline', 'deploy'), name: 'deploy' };
const iac = { iacActors: [terraform.uuid] };

export const breakGlassEditCases: readonly DetectorCase[] = [
  {
    name: 'a human edits a pipeline by hand',
    kind: 'positive',
    config: iac,
    events: [audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, data: { steps: 'changed' }, ip: '86.1.2.3' })],
    expect: [
      {
        at: 0,
        severity: 3,
        title: 'Pipeline "deploy" updated outside infrastructure as code by Jane Doe (PIPELINE_UPDATED)',
        target: { type: 'Pipeline', uid: pipeline.uuid },
        related: [jane.uuid],
      },
    ],
  },
  {
    name: 'IaC edits are expected (uuids, plain or with a note)',
    kind: 'negative',
    config: { iacActors: [terraform.uuid, { uuid: uid('user', 'pulumi'), note: 'Pulumi-Service' }] },
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_UPDATED', actor: terraform, subject: pipeline, ip: '3.90.1.1' }),
      audit({ at: '2026-03-03T10:01:00Z', type: 'CLUSTER_QUEUE_UPDATED', actor: terraform, subject: { type: 'ClusterQueue', uuid: uid('queue', 'default'), name: 'default' }, ip: '3.90.1.1' }),
      audit({
        at: '2026-03-03T10:02:00Z',
        type: 'TEAM_MEMBER_CREATED',
        actor: { uuid: uid('user', 'pulumi'), name: 'pulumi-service' },
        subject: { type: 'TeamMember', uuid: uid('member', 'x') },
        ip: '3.90.1.2',
      }),
    ],
    expect: [],
  },
  {
    name: 'reads and unwatched types are not edits',
    kind: 'negative',
    config: iac,
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'SECRET_READ', actor: jane, subject: { type: 'Secret', uuid: uid('secret', 'X'), name: 'X' } }),
      audit({ at: '2026-03-03T10:01:00Z', type: 'USER_EMAIL_VERIFIED', actor: jane }),
      audit({ at: '2026-03-03T10:02:00Z', type: 'NOTIFICATION_SERVICE_BROKEN', actor: null, subject: { type: 'NotificationServiceWebhook', uuid: uid('ns', 'hook'), name: 'hook' } }),
    ],
    expect: [],
  },
  {
    name: 'token changes are High; repeated edits of one entity are deduplicated',
    kind: 'positive',
    config: iac,
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'CLUSTER_TOKEN_CREATED', actor: jane, subject: { type: 'ClusterToken', uuid: uid('cluster-token', 'new'), name: 'laptop' } }),
      audit({ at: '2026-03-03T10:10:00Z', type: 'CLUSTER_TOKEN_UPDATED', actor: jane, subject: { type: 'ClusterToken', uuid: uid('cluster-token', 'new'), name: 'laptop' } }),
    ],
    expect: [
      {
        at: 0,
        severity: 4,
        title: 'ClusterToken "laptop" created outside infrastructure as code by Jane Doe',
        target: { type: 'ClusterToken', uid: uid('cluster-token', 'new') },
        related: [jane.uuid],
      },
    ],
  },
  {
    name: 'a change to an entity without a contract type targets the actor',
    kind: 'positive',
    config: iac,
    events: [audit({ at: '2026-03-03T10:00:00Z', type: 'TEAM_MEMBER_CREATED', actor: jane, subject: { type: 'TeamMember', uuid: uid('member', 'eve') } })],
    expect: [{ at: 0, severity: 3, title: 'TeamMember', target: { type: 'Actor', uid: jane.uuid } }],
  },
  {
    name: 'changes under a declared break-glass window are reported as informational',
    kind: 'positive',
    config: { ...iac, breakGlassWindows: [{ actors: [{ uuid: oncall.uuid, note: 'On Call' }], start: '2026-03-03T09:00:00Z', end: '2026-03-03T11:00:00Z', reason: 'INC-4711' }] },
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_UPDATED', actor: oncall, subject: pipeline }),
      // After the window closes: an ordinary unmanaged change again.
      audit({ at: '2026-03-03T12:00:00Z', type: 'CLUSTER_UPDATED', actor: oncall, subject: { type: 'Cluster', uuid: uid('cluster', 'prod'), name: 'prod' } }),
    ],
    expect: [
      { at: 0, severity: 1, title: 'Break-glass change: Pipeline "deploy" updated by On Call', target: { type: 'Pipeline', uid: pipeline.uuid } },
      { at: 1, severity: 3, title: 'Cluster "prod" updated outside infrastructure as code by On Call', target: { type: 'Cluster', uid: uid('cluster', 'prod') } },
    ],
  },
  {
    name: 'a break-glass account is always informational',
    kind: 'positive',
    config: { ...iac, breakGlassActors: [breakglass.uuid] },
    events: [audit({ at: '2026-03-03T10:00:00Z', type: 'SSO_PROVIDER_UPDATED', actor: breakglass, subject: { type: 'SSOProviderSAML', uuid: uid('sso', 'okta'), name: 'Okta' } })],
    expect: [{ at: 0, severity: 1, title: 'Break-glass change: SSOProviderSAML "Okta" updated by breakglass-admin', target: { type: 'SsoProvider', uid: uid('sso', 'okta') } }],
  },
  {
    name: 'ignoredTypes are not reported',
    kind: 'negative',
    config: { ...iac, ignoredTypes: ['PIPELINE_SCHEDULE_UPDATED'] },
    events: [audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_SCHEDULE_UPDATED', actor: jane, subject: { type: 'PipelineSchedule', uuid: uid('schedule', 'nightly') } })],
    expect: [],
  },
  {
    name: 'a user who renames themself after the IaC identity is still reported (iacActors match by uuid only)',
    kind: 'positive',
    config: iac,
    events: [
      audit({ at: '2026-03-03T09:59:00Z', type: 'USER_UPDATED', actor: { uuid: jane.uuid, name: 'Terraform-Cloud' } }),
      audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_UPDATED', actor: { uuid: jane.uuid, name: 'Terraform-Cloud' }, subject: pipeline, ip: '86.1.2.3' }),
    ],
    expect: [{ at: 1, severity: 3, title: 'Pipeline "deploy" updated outside infrastructure as code by Terraform-Cloud', target: { type: 'Pipeline', uid: pipeline.uuid }, related: [jane.uuid] }],
  },
];
