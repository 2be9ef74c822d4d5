/**
 * privilege-grant test cases. The role is read from each plausible shape of `data` (none is
 * documented): `role`, `organization_role`, `admin: true`, `permissions`, a `[before, after]`
 * change set, one level down under `changes`. 86.1.2.3 is AS5089 (GB), 185.220.101.34 AS60729 (DE).
 */
import { audit, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };
const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const eve = { uuid: uid('user', 'eve'), name: 'Eve Outsider' };
const iac = { iacActors: [terraform.uuid] };
const member = (n: string) => ({ type: 'OrganizationMember', uuid: uid('member', n), name: n });
const invitation = (n: string) => ({ type: 'OrganizationInvitation', uuid: uid('invite', n) });
const teamMember = (n: string) => ({ type: 'TeamMember', uuid: uid('team-member', n) });
const at = (hh: number, mm = 0): string => `2026-03-03T${String(hh).padStart(2, '0')}:${String(mm).padStart(2, '0')}:00Z`;

/** Each plausible spelling of "made admin", on its own member. */
const shapes: Array<[string, Record<string, unknown>]> = [
  ['role', { role: 'admin' }],
  ['organization_role', { organization_role: 'ADMIN' }],
  ['admin-flag', { admin: true }],
  ['permissions-array', { permissions: ['READ', 'Admin'] }],
  ['permissions-object', { permissions: { admin: true } }],
  ['change-set', { role: ['member', 'admin'] }],
  ['nested-changes', { changes: { Role: ['MEMBER', 'ADMIN'] } }],
];

export const privilegeGrantCases: readonly DetectorCase[] = [
  {
    name: 'a member made admin by hand, in every plausible data shape',
    kind: 'positive',
    config: iac,
    events: shapes.map(([n, data], i) => audit({ at: at(10, i), type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member(n), data: { ...data, user_uuid: uid('user', n) }, ip: '86.1.2.3' })),
    expect: shapes.map(([n], i) => ({
      at: i,
      severity: 4 as const,
      title: `${n} made organization admin by Jane Doe, outside infrastructure as code (ORGANIZATION_MEMBER_UPDATED)`,
      target: { type: 'OrganizationMember' as const, uid: uid('member', n) },
      related: [uid('user', n), jane.uuid],
    })),
  },
  {
    name: 'an outsider invited as admin from a stolen session names grantee and grantor',
    kind: 'positive',
    config: iac,
    events: [audit({ at: at(10), type: 'ORGANIZATION_INVITATION_CREATED', actor: jane, subject: invitation('eve'), data: { email: 'eve@example.net', role: 'admin' }, ip: '185.220.101.34' })],
    expect: [{ at: 0, severity: 4, title: 'eve@example.net invited as organization admin by Jane Doe', target: { type: 'OrganizationInvitation', uid: uid('invite', 'eve') }, related: [jane.uuid] }],
  },
  {
    name: 'a team maintainer role granted by hand',
    kind: 'positive',
    config: iac,
    events: [
      audit({ at: at(10), type: 'TEAM_MEMBER_CREATED', actor: jane, subject: teamMember('eve'), data: { role: 'MEMBER', user: { uuid: eve.uuid, name: eve.name } } }),
      audit({ at: at(10, 5), type: 'TEAM_MEMBER_UPDATED', actor: jane, subject: teamMember('eve'), data: { role: ['MEMBER', 'MAINTAINER'], user: { uuid: eve.uuid, name: eve.name } } }),
    ],
    expect: [{ at: 1, severity: 4, title: 'Eve Outsider made team maintainer by Jane Doe', target: { type: 'TeamMember', uid: uid('team-member', 'eve') }, related: [eve.uuid, jane.uuid] }],
  },
  {
    name: 'an acceptance whose creation was not seen is reported with the inviter from data',
    kind: 'positive',
    config: iac,
    events: [audit({ at: at(11), type: 'ORGANIZATION_INVITATION_ACCEPTED', actor: eve, subject: invitation('old'), data: { role: 'admin', invited_by: { uuid: jane.uuid, name: jane.name } } })],
    expect: [{ at: 0, severity: 4, title: 'Eve Outsider joined as organization admin by Jane Doe', target: { type: 'OrganizationInvitation', uid: uid('invite', 'old') }, related: [eve.uuid] }],
  },
  {
    name: 'grants by the IaC identity, and the acceptance and membership they lead to, are quiet',
    kind: 'negative',
    config: iac,
    events: [
      audit({ at: at(9), type: 'ORGANIZATION_INVITATION_CREATED', actor: terraform, subject: invitation('new-admin'), data: { email: 'lead@acme.example', role: 'ADMIN' }, ip: '3.90.1.1' }),
      audit({ at: at(9, 1), type: 'ORGANIZATION_MEMBER_UPDATED', actor: terraform, subject: member('ops'), data: { role: ['member', 'admin'] }, ip: '3.90.1.1' }),
      audit({ at: at(9, 2), type: 'TEAM_MEMBER_UPDATED', actor: terraform, subject: teamMember('ops'), data: { role: 'MAINTAINER' }, ip: '3.90.1.1' }),
      // The invitee accepts: the actor is the invitee, but IaC made the grant.
      audit({ at: at(12), type: 'ORGANIZATION_INVITATION_ACCEPTED', actor: eve, subject: invitation('new-admin'), data: { role: 'admin' }, ip: '86.1.2.3' }),
      audit({ at: at(12, 0), type: 'ORGANIZATION_MEMBER_CREATED', actor: eve, subject: member('eve'), data: { role: 'admin', user_uuid: eve.uuid }, ip: '86.1.2.3', seq: 1 }),
    ],
    expect: [],
  },
  {
    name: 'ordinary members, demotions and unrelated data are not grants',
    kind: 'negative',
    config: iac,
    events: [
      audit({ at: at(10), type: 'ORGANIZATION_INVITATION_CREATED', actor: jane, subject: invitation('dev'), data: { email: 'dev@acme.example', role: 'member' } }),
      audit({ at: at(10, 1), type: 'ORGANIZATION_INVITATION_CREATED', actor: jane, subject: invitation('dev2'), data: null }),
      audit({ at: at(10, 2), type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops'), data: { role: ['admin', 'member'] } }),
      audit({ at: at(10, 3), type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops2'), data: { admin: false, sso: { mode: 'required' } } }),
      audit({ at: at(10, 4), type: 'TEAM_MEMBER_CREATED', actor: jane, subject: teamMember('dev'), data: { role: 'MEMBER' } }),
      audit({ at: at(10, 5), type: 'TEAM_MEMBER_UPDATED', actor: jane, subject: teamMember('ops'), data: { role: ['MAINTAINER', 'MEMBER'] } }),
      // An admin already: a name change is not a grant.
      audit({ at: at(10, 6), type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('boss'), data: { role: ['admin', 'admin'] } }),
    ],
    expect: [],
  },
  {
    name: "a payload that repeats an admin's whole record is a grant once; after a demotion, again",
    kind: 'positive',
    config: iac,
    events: [
      audit({ at: '2026-03-01T10:00:00Z', type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops'), data: { role: 'admin', sso: 'optional' } }),
      audit({ at: '2026-03-02T10:00:00Z', type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops'), data: { role: 'admin', sso: 'required' } }),
      audit({ at: '2026-03-03T10:00:00Z', type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops'), data: { role: 'member', sso: 'required' } }),
      audit({ at: '2026-03-04T10:00:00Z', type: 'ORGANIZATION_MEMBER_UPDATED', actor: jane, subject: member('ops'), data: { role: 'admin', sso: 'required' } }),
    ],
    expect: [
      { at: 0, severity: 4, title: 'ops made organization admin by Jane Doe', target: { type: 'OrganizationMember', uid: uid('member', 'ops') } },
      { at: 3, severity: 4, title: 'ops made organization admin by Jane Doe', target: { type: 'OrganizationMember', uid: uid('member', 'ops') } },
    ],
  },
  {
    name: 'team maintainer grants can be left out',
    kind: 'negative',
    config: { ...iac, teamMaintainers: false },
    events: [audit({ at: at(10), type: 'TEAM_MEMBER_UPDATED', actor: jane, subject: teamMember('eve'), data: { role: 'maintainer' } })],
    expect: [],
  },
];
