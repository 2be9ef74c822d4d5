/**
 * account-takeover: the steps of taking over a Buildkite account, on one user, close together:
 * a new email, that email made primary, a password reset, a TOTP device removed or added.
 * `minSteps` distinct steps inside `windowMinutes`, or one step from a network new to the user,
 * is High.
 *
 * The payloads are not documented. The user is the subject when it is a User, else the user
 * `data` names (`user_uuid`, `user: {uuid, name}`), else the actor (people change their own
 * email and 2FA). A reset request and the reset itself are one step ("password reset"), so an
 * ordinary forgotten password is one step, not two.
 */
import type { FindingResource } from '../findings/contract.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import type { AccountTakeoverConfig } from './config.ts';
import { networkText } from './actor-networks.ts';
import { actorOf, auditOf, evidenceOf, isAuditEvent, res, type AuditInfo } from './entities.ts';
import type { Detector, EvidenceRef } from './types.ts';

// A Map: audit types are input, and `constructor` must not find Object.prototype's members.
export const STEPS: ReadonlyMap<string, string> = new Map([
  ['USER_EMAIL_CREATED', 'email added'],
  ['USER_EMAIL_MARKED_PRIMARY', 'primary email changed'],
  ['USER_PASSWORD_RESET_REQUESTED', 'password reset'],
  ['USER_PASSWORD_RESET', 'password reset'],
  ['USER_TOTP_DELETED', 'TOTP removed'],
  ['USER_TOTP_CREATED', 'TOTP added'],
]);

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function userOf(event: OcsfEvent, audit: AuditInfo): { uid: string; name: string | undefined } | undefined {
  if (audit.subjectType === 'User' && audit.subjectUuid !== undefined) return { uid: audit.subjectUuid, name: audit.subjectName };
  const user = obj(audit.data?.['user']);
  const uid = str(audit.data?.['user_uuid']) ?? str(user?.['uuid']);
  if (uid !== undefined) return { uid, name: str(user?.['name']) ?? str(audit.data?.['user_name']) };
  const actor = actorOf(event);
  return actor?.uid !== undefined ? { uid: actor.uid, name: actor.name } : undefined;
}

/** Recent steps of one user: [step, event seconds, event uid, audit type, ip]. */
interface Recent {
  s: Array<[string, number, string, string, string]>;
  /** The user's name, from whichever step carried it. */
  n?: string;
}

export const accountTakeover: Detector<AccountTakeoverConfig> = {
  meta: {
    id: 'account-takeover',
    title: 'Account takeover steps',
    description: 'Account recovery steps on one user in quick succession (new email, primary email changed, password reset, TOTP removed or added), or one of them from a network new to the user.',
    severity: 4,
    analyticType: 2,
    attacks: [
      { tactic: { uid: 'TA0003', name: 'Persistence' }, technique: { uid: 'T1098', name: 'Account Manipulation' } },
      {
        tactic: { uid: 'TA0006', name: 'Credential Access' },
        technique: { uid: 'T1556', name: 'Modify Authentication Process' },
        sub_technique: { uid: 'T1556.006', name: 'Multi-Factor Authentication' },
      },
    ],
    types: ['Account Takeover'],
    defaultThresholds: '2 distinct steps on one user within 60 min, or 1 step from a network new to the user; dedup 60 min per user',
    recommendedContainment:
      'Through approval: remove the user from the organization (organizationMemberDelete; Buildkite has no suspend), so a hijacked account loses access at once. Re-invite once the person has recovered the account.',
    runbook: {
      check: [
        'Did the person change their email, password or 2FA device themselves? Ask them on a channel that does not go through the changed email.',
        'Which networks and user agents made the steps (evidence)? A network the person never used is a strong signal.',
        'What did the account do after the steps (audit log filtered on the user uuid): new tokens, grants, pipeline edits?',
      ],
      act: [
        'Not them: approve the removal, then have Buildkite support restore the account; revoke its API tokens and rotate secrets it could read.',
        'Them: nothing to do. If such changes are routine in your org, raise detectors.account-takeover.minSteps.',
      ],
    },
    targets: ['Actor'],
    usesActorNetworks: true,
  },

  accepts(event) {
    return isAuditEvent(event) && STEPS.has(event.metadata.event_code ?? '');
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    const step = audit === undefined ? undefined : STEPS.get(audit.type);
    if (audit === undefined || step === undefined) return [];
    const user = userOf(event, audit);
    if (user === undefined) return [];
    const { config, state, now } = ctx;
    const window = config.windowMinutes * 60;
    const k = `ato:${user.uid}`;
    const recent = (await state.get<Recent>(k))?.value ?? { s: [] };
    recent.s = recent.s.filter((r) => Math.abs(now - r[1]) <= window && r[2] !== event.metadata.uid);
    recent.s.unshift([step, now, event.metadata.uid, audit.type, event.src_endpoint?.ip ?? '']);
    // Enough to name every kind of step, no more.
    if (recent.s.length > 20) recent.s.length = 20;
    if (user.name !== undefined) recent.n = user.name;
    await state.put<Recent>(k, recent, { expiresAt: ctx.expiresAt(window * 2) });

    const kinds = [...new Set(recent.s.map((r) => r[0]))];
    // The network is the user's own only when the user made the step.
    const network = actorOf(event)?.uid === user.uid ? await ctx.actorNetwork() : undefined;
    const fromNewNetwork = network?.isNew === true;
    if (kinds.length < config.minSteps && !fromNewNetwork) return [];

    const name = user.name ?? recent.n;
    const who = name ?? user.uid;
    const steps = [...recent.s].reverse();
    const evidences: EvidenceRef[] = recent.s.map(([s, t, uid, type, ip]) =>
      uid === event.metadata.uid ? evidenceOf(event, network?.info) : { uid, time: t * 1000, typeUid: event.type_uid, code: type, message: s, ...(ip ? { ip } : {}) },
    );
    const resources: FindingResource[] = [res('Actor', user.uid, 'target', name)];
    const actor = actorOf(event);
    if (actor?.uid !== undefined && actor.uid !== user.uid) resources.push(res('Actor', actor.uid, 'related', actor.name));
    const stepsText = steps.map((r) => `${r[0]} (${r[3]})`).join(', ');
    const title =
      kinds.length >= config.minSteps
        ? `Account takeover steps on ${who}: ${kinds.slice().reverse().join(', ')} within ${config.windowMinutes} minutes`
        : `Account takeover step on ${who} from a new network: ${step}, ${network === undefined ? '' : networkText(network)}`;
    return [
      {
        dedupKey: `user:${user.uid}`,
        title,
        desc:
          `${who} went through ${kinds.length} account recovery step(s) in ${config.windowMinutes} minutes: ${stepsText}. ` +
          (fromNewNetwork && network !== undefined ? `The latest came from ${networkText(network)}, a network ${who} has not used before. ` : '') +
          'Someone who took over the mailbox or the password adds their own email, makes it primary and replaces the 2FA device so the owner cannot get back in.',
        severity: 4,
        confidence: kinds.length >= config.minSteps && fromNewNetwork ? 3 : 2,
        resources,
        evidences,
        eventCount: recent.s.length,
        firstSeen: Math.min(...recent.s.map((r) => r[1])) * 1000,
        lastSeen: event.time,
        type: 'Account Takeover',
        data: {
          user_uuid: user.uid,
          steps: steps.map((r) => ({ step: r[0], audit_type: r[3], time: r[1] * 1000 })),
          distinct_steps: kinds.length,
          min_steps: config.minSteps,
          new_network: fromNewNetwork,
        },
      },
    ];
  },
};
