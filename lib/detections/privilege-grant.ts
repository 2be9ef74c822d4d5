/**
 * privilege-grant: organization admin rights, or a team maintainer role, granted to a member or
 * an invitation by anyone who is not one of the IaC identities.
 *
 * The shape of `data` on these audit events is not documented. Roles are read from the
 * plausible keys (`role`, `organization_role`, `team_role`, `admin: true`, `permissions`),
 * keys and values case-insensitively, at the top level or one level down (`changes`,
 * `attributes`, `organization_member`, `invitation`, `team_member`). A value that is a pair
 * `[before, after]` (a Rails change set) is a grant only when `after` grants and `before` did not.
 *
 * A membership's role is remembered (400 days): a payload that repeats the whole record (role
 * "admin" on every update of an admin) is a grant the first time only, and again after a demotion.
 *
 * An accepted invitation is decided by who created it: creations are remembered (30 days), so
 * an invitation the IaC identity created stays quiet when the invitee accepts it, and one a
 * person created was reported at creation. An acceptance whose creation was never seen is
 * reported with its creator from `data` (`inviter`, `invited_by`, `created_by`) when present.
 */
import type { FindingResource } from '../findings/contract.ts';
import type { SeverityId } from '../ocsf/types.ts';
import type { PrivilegeGrantConfig } from './config.ts';
import { actorLabel, actorOf, auditOf, evidenceOf, IdentitySet, isAuditEvent, perConfig, res, type ActorInfo, type AuditInfo } from './entities.ts';
import { networkText } from './actor-networks.ts';
import type { DetectContext, Detector, FindingDraft } from './types.ts';

const INVITE_MEMORY_SECONDS = 30 * 86_400;
/** How long a membership's role is remembered (a repeated full record is not a new grant). */
const HELD_MEMORY_SECONDS = 400 * 86_400;
/** How long after accepting an invitation the membership it creates is attributed to it. */
const JOIN_SECONDS = 3600;

type Level = 'admin' | 'maintainer';

const ORG_TYPES = new Set(['ORGANIZATION_MEMBER_CREATED', 'ORGANIZATION_MEMBER_UPDATED', 'ORGANIZATION_INVITATION_CREATED', 'ORGANIZATION_INVITATION_ACCEPTED']);
const TEAM_TYPES = new Set(['TEAM_MEMBER_CREATED', 'TEAM_MEMBER_UPDATED']);
const ROLE_KEYS = new Set(['role', 'organization_role', 'org_role', 'team_role', 'member_role', 'access_level']);
const NESTED_KEYS = new Set(['changes', 'attributes', 'organization_member', 'member', 'invitation', 'organization_invitation', 'team_member']);

const settings = perConfig((c: PrivilegeGrantConfig) => ({ iac: new IdentitySet(c.iacActors) }));

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

/** Whether one role value grants the level: "ADMIN", "admin", "Maintainer", true for `admin`. */
function grants(value: unknown, level: Level, key: string): boolean {
  if (key === 'admin' || key === 'is_admin') return level === 'admin' && (value === true || (typeof value === 'string' && /^(true|1|yes)$/i.test(value)));
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    return level === 'admin' ? v === 'admin' || v === 'administrator' || v === 'owner' : v === 'maintainer';
  }
  if (Array.isArray(value)) return value.some((x) => grants(x, level, key));
  const o = obj(value);
  if (o !== undefined) return Object.entries(o).some(([k, v]) => (k.toLowerCase() === level || k.toLowerCase() === `is_${level}`) && v === true);
  return false;
}

/** The grant in `data`, if any: before/after pairs count only when they raise the level. */
export function grantIn(data: Record<string, unknown> | undefined, level: Level, depth = 0): { before?: unknown; after: unknown; key: string } | undefined {
  if (data === undefined) return undefined;
  for (const [rawKey, value] of Object.entries(data)) {
    const key = rawKey.toLowerCase();
    const isRole = ROLE_KEYS.has(key) || key === 'admin' || key === 'is_admin' || key === 'permissions';
    if (isRole) {
      const pair = Array.isArray(value) && value.length === 2 && key !== 'permissions' ? { before: value[0] as unknown, after: value[1] as unknown } : undefined;
      if (pair !== undefined) {
        if (grants(pair.after, level, key) && !grants(pair.before, level, key)) return { ...pair, key };
      } else if (grants(value, level, key)) return { after: value, key };
    } else if (depth === 0 && NESTED_KEYS.has(key)) {
      const inner = grantIn(obj(value), level, 1);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}

/** Whether `data` sets a role that is not the level (a demotion, or a plain role). */
function demotes(data: Record<string, unknown> | undefined, level: Level): boolean {
  if (data === undefined) return false;
  for (const [rawKey, value] of Object.entries(data)) {
    const key = rawKey.toLowerCase();
    if (!ROLE_KEYS.has(key) && key !== 'admin' && key !== 'is_admin' && key !== 'permissions') continue;
    const after: unknown = Array.isArray(value) && value.length === 2 && key !== 'permissions' ? (value as unknown[])[1] : value;
    if (after !== undefined && after !== null && !grants(after, level, key)) return true;
  }
  return false;
}

/** The user who receives the grant, when `data` names one. */
function granteeOf(data: Record<string, unknown> | undefined, audit: AuditInfo, actor: ActorInfo | undefined): { uid?: string; name?: string; email?: string } {
  const user = obj(data?.['user']) ?? obj(obj(data?.['organization_member'])?.['user']);
  const uid = str(data?.['user_uuid']) ?? str(user?.['uuid']) ?? str(user?.['id']);
  const name = str(data?.['user_name']) ?? str(user?.['name']);
  const email = str(data?.['email']) ?? str(user?.['email']) ?? str(obj(data?.['invitation'])?.['email']);
  // The invitee is the one accepting.
  if (audit.type === 'ORGANIZATION_INVITATION_ACCEPTED' && uid === undefined && actor !== undefined) {
    return { ...actor, ...(email !== undefined ? { email } : {}) };
  }
  return { ...(uid !== undefined ? { uid } : {}), ...(name !== undefined ? { name } : {}), ...(email !== undefined ? { email } : {}) };
}

function inviterOf(data: Record<string, unknown> | undefined): ActorInfo | undefined {
  for (const k of ['inviter', 'invited_by', 'created_by']) {
    const v = data?.[k];
    const o = obj(v);
    const uid = str(o?.['uuid']) ?? str(data?.[`${k}_uuid`]);
    const name = str(o?.['name']) ?? str(v);
    if (uid !== undefined || name !== undefined) return { ...(uid !== undefined ? { uid } : {}), ...(name !== undefined ? { name } : {}) };
  }
  return undefined;
}

/** Remembered invitation: its creator and whether it was an expected (IaC) grant. */
interface Invite {
  g: ActorInfo | null;
  iac: boolean;
  /** Reported at creation. */
  r: boolean;
}

// A Map: subject types are input, and `constructor` must not find Object.prototype's members.
const SUBJECT_TYPES: ReadonlyMap<string, 'OrganizationMember' | 'OrganizationInvitation' | 'TeamMember'> = new Map([
  ['OrganizationMember', 'OrganizationMember'],
  ['OrganizationInvitation', 'OrganizationInvitation'],
  ['TeamMember', 'TeamMember'],
]);

function granteeText(g: { uid?: string; name?: string; email?: string }, subjectName: string | undefined): string {
  return g.name ?? g.email ?? subjectName ?? g.uid ?? 'an unnamed member';
}

async function onGrant(event: Parameters<Detector['detect']>[0], ctx: DetectContext<PrivilegeGrantConfig>, audit: AuditInfo): Promise<FindingDraft[]> {
  const isTeam = TEAM_TYPES.has(audit.type);
  if (isTeam && !ctx.config.teamMaintainers) return [];
  const level: Level = isTeam ? 'maintainer' : 'admin';
  const grant = grantIn(audit.data, level);
  const actor = actorOf(event);
  const iac = settings(ctx.config).iac;
  const inviteKey = audit.subjectUuid !== undefined ? `pg:invite:${audit.subjectUuid}` : undefined;

  let grantor: ActorInfo | undefined = actor;
  if (audit.type === 'ORGANIZATION_INVITATION_CREATED') {
    // Remembered whatever its role: the role may only show when the invitee accepts.
    const reported = grant !== undefined && !iac.has(actor);
    if (inviteKey !== undefined) await ctx.state.put<Invite>(inviteKey, { g: actor ?? null, iac: iac.has(actor), r: reported }, { expiresAt: ctx.expiresAt(INVITE_MEMORY_SECONDS) });
  } else if (audit.type === 'ORGANIZATION_INVITATION_ACCEPTED') {
    const remembered = inviteKey === undefined ? undefined : (await ctx.state.get<Invite>(inviteKey))?.value;
    // Decided here (creation seen, or the role shows here): the membership it creates follows.
    if (actor?.uid !== undefined && (remembered !== undefined || grant !== undefined)) await ctx.state.put<number>(`pg:joined:${actor.uid}`, ctx.now, { expiresAt: ctx.expiresAt(JOIN_SECONDS) });
    // Expected when it was created, or already reported then.
    if (remembered !== undefined && (remembered.iac || remembered.r)) return [];
    grantor = remembered !== undefined ? (remembered.g ?? undefined) : inviterOf(audit.data);
  } else if (audit.type === 'ORGANIZATION_MEMBER_CREATED' && actor?.uid !== undefined) {
    // The membership an invitee's acceptance creates: its acceptance (just before) decided it.
    const joined = (await ctx.state.get<number>(`pg:joined:${actor.uid}`))?.value;
    if (joined !== undefined && Math.abs(ctx.now - joined) <= JOIN_SECONDS) return [];
  }
  // What a membership holds, as last seen: a payload that repeats the whole record (role "admin" on
  // every update of an admin) is a grant only the first time; a demotion clears it.
  const heldKey = audit.subjectUuid !== undefined && !audit.type.startsWith('ORGANIZATION_INVITATION_') ? `pg:held:${level}:${audit.subjectUuid}` : undefined;
  if (heldKey !== undefined) {
    const held = (await ctx.state.get<number>(heldKey)) !== undefined;
    if (grant === undefined) {
      if (held && demotes(audit.data, level)) await ctx.state.delete(heldKey);
      return [];
    }
    await ctx.state.put<number>(heldKey, ctx.now, { expiresAt: ctx.expiresAt(HELD_MEMORY_SECONDS) });
    if (held && !('before' in grant)) return [];
  }
  if (grant === undefined || iac.has(grantor)) return [];

  const grantee = granteeOf(audit.data, audit, actor);
  const network = await ctx.actorNetwork();
  const role = level === 'admin' ? 'organization admin' : 'team maintainer';
  const subjectType = audit.subjectType !== undefined ? SUBJECT_TYPES.get(audit.subjectType) : undefined;
  const resources: FindingResource[] = [];
  if (subjectType !== undefined && audit.subjectUuid !== undefined) resources.push(res(subjectType, audit.subjectUuid, 'target', audit.subjectName ?? grantee.name ?? grantee.email));
  if (grantee.uid !== undefined && grantee.uid !== grantor?.uid) resources.push(res('Actor', grantee.uid, resources.length === 0 ? 'target' : 'related', grantee.name, { grantee: true }));
  if (grantor?.uid !== undefined) resources.push(res('Actor', grantor.uid, resources.length === 0 ? 'target' : 'related', grantor.name, { grantor: true }));
  const who = granteeText(grantee, audit.subjectName);
  const by = grantor === undefined ? 'an unknown actor' : actorLabel(grantor);
  const verb = audit.type === 'ORGANIZATION_INVITATION_CREATED' ? 'invited as' : audit.type === 'ORGANIZATION_INVITATION_ACCEPTED' ? 'joined as' : 'made';
  const severity: SeverityId = 4;
  return [
    {
      dedupKey: `${audit.subjectUuid ?? grantee.uid ?? grantee.email ?? 'unknown'}:${level}`,
      title: `${who} ${verb} ${role} by ${by}, outside infrastructure as code (${audit.type})`,
      desc:
        `${by} granted ${role} rights to ${who}${grantee.email !== undefined && grantee.email !== who ? ` <${grantee.email}>` : ''} (${audit.type}, ${grant.key}: ${JSON.stringify(grant.after)}). ` +
        `${grantor === undefined ? 'Who created the grant is not recorded. ' : `${by} is not one of the IaC identities (detectors.privilege-grant.iacActors). `}` +
        (network?.isNew === true ? `The request came from ${networkText(network)}, a network ${by} has not used before. ` : '') +
        'An attacker with a stolen session makes a second account an admin to keep access after the session is revoked.',
      severity,
      confidence: grantor === undefined ? 2 : 3,
      resources,
      evidences: [evidenceOf(event, network?.info)],
      firstSeen: event.time,
      lastSeen: event.time,
      type: level === 'admin' ? 'Admin Grant' : 'Team Maintainer Grant',
      data: {
        audit_type: audit.type,
        level,
        role_key: grant.key,
        role_before: grant.before,
        role_after: grant.after,
        grantee: { uid: grantee.uid, name: grantee.name, email: grantee.email, subject_uid: audit.subjectUuid, subject_type: audit.subjectType },
        grantor: grantor === undefined ? null : { uid: grantor.uid, name: grantor.name },
        new_network: network?.isNew,
      },
    },
  ];
}

export const privilegeGrant: Detector<PrivilegeGrantConfig> = {
  meta: {
    id: 'privilege-grant',
    title: 'Privilege granted outside IaC',
    description: 'A member or invitation granted organization admin rights, or a team maintainer role, by anyone who is not one of the infrastructure-as-code identities.',
    severity: 4,
    analyticType: 1,
    attacks: [
      {
        tactic: { uid: 'TA0003', name: 'Persistence' },
        technique: { uid: 'T1098', name: 'Account Manipulation' },
        sub_technique: { uid: 'T1098.003', name: 'Additional Cloud Roles' },
      },
      { tactic: { uid: 'TA0004', name: 'Privilege Escalation' }, technique: { uid: 'T1078', name: 'Valid Accounts' }, sub_technique: { uid: 'T1078.004', name: 'Cloud Accounts' } },
    ],
    types: ['Privilege Escalation'],
    defaultThresholds: 'any admin or team maintainer grant by an actor not in iacActors; dedup 60 min per grantee',
    recommendedContainment:
      'Through approval: demote the member (organizationMemberUpdate role MEMBER) or revoke the invitation (organizationInvitationRevoke). Team maintainer grants: by hand (no GraphQL lookup of a team membership by uuid).',
    runbook: {
      check: [
        'Who is the grantee (finding title, `unmapped.kitewatch.grantee`): a known colleague, or an unknown address or account?',
        'Did the grantor mean to grant it? Ask them out of band; check the IP and user agent in the evidence.',
        'Was the grant requested (access ticket)? Admin rights are normally granted by the IaC or SCIM identity.',
      ],
      act: [
        'Unexpected: approve the proposed demotion or invitation revoke; then review what the grantee did since (audit log filtered on their uuid).',
        "If the grantor denies it: treat the grantor's session as stolen (sign them out, reset password and 2FA, revoke their API tokens).",
        'Expected and permanent: make the grant in IaC, and add the IaC identity to detectors.privilege-grant.iacActors.',
      ],
    },
    targets: ['OrganizationMember', 'OrganizationInvitation', 'TeamMember', 'Actor'],
    usesActorNetworks: true,
  },

  accepts(event) {
    if (!isAuditEvent(event)) return false;
    const code = event.metadata.event_code ?? '';
    return ORG_TYPES.has(code) || TEAM_TYPES.has(code);
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    if (audit === undefined) return [];
    return onGrant(event, ctx, audit);
  },
};
