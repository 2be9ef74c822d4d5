/**
 * third-party-access: persistence through third parties and impersonation. An OAuth
 * application authorized, an API application created or enabled, a portal token created or
 * authorized, an impersonation request approved, a user impersonated.
 *
 * Medium; High from a network new to the actor, or by an actor outside `iacActors` once that
 * list is set (with no list, nobody is known to be IaC, so only the network raises it).
 * The subject (application, token, request) is the target when the event names one; else the
 * user concerned.
 */
import type { FindingResource } from '../findings/contract.ts';
import type { SeverityId } from '../ocsf/types.ts';
import type { ThirdPartyAccessConfig } from './config.ts';
import { networkText } from './actor-networks.ts';
import { actorLabel, actorOf, auditOf, evidenceOf, IdentitySet, isAuditEvent, perConfig, res } from './entities.ts';
import type { Detector } from './types.ts';

// A Map: audit types are input, and `constructor` must not find Object.prototype's members.
export const THIRD_PARTY_TYPES: ReadonlyMap<string, string> = new Map([
  ['OAUTH_APPLICATION_AUTHORIZED', 'authorized an OAuth application'],
  ['AUTHORIZATION_CREATED', 'created an authorization'],
  ['API_APPLICATION_CREATED', 'created an API application'],
  ['API_APPLICATION_ENABLED', 'enabled an API application'],
  ['PORTAL_TOKEN_CREATED', 'created a portal token'],
  ['PORTAL_TOKEN_CODE_AUTHORIZED', 'authorized a portal token code'],
  ['ORGANIZATION_IMPERSONATION_REQUEST_APPROVED', 'approved an impersonation request'],
  ['USER_IMPERSONATED', 'impersonated a user'],
]);

const settings = perConfig((c: ThirdPartyAccessConfig) => ({ iac: new IdentitySet(c.iacActors), ignored: new Set(c.ignoredTypes) }));

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

export const thirdPartyAccess: Detector<ThirdPartyAccessConfig> = {
  meta: {
    id: 'third-party-access',
    title: 'Third-party access granted',
    description: 'Persistence through third parties and impersonation: OAuth and API applications authorized, created or enabled, portal tokens, impersonation requests approved, users impersonated.',
    severity: 3,
    severityNotes: 'Medium; High from a network new to the actor, or by an actor outside iacActors when that list is set.',
    analyticType: 1,
    attacks: [
      { tactic: { uid: 'TA0003', name: 'Persistence' }, technique: { uid: 'T1098', name: 'Account Manipulation' }, sub_technique: { uid: 'T1098.001', name: 'Additional Cloud Credentials' } },
      {
        tactic: { uid: 'TA0005', name: 'Defense Evasion' },
        technique: { uid: 'T1550', name: 'Use Alternate Authentication Material' },
        sub_technique: { uid: 'T1550.001', name: 'Application Access Token' },
      },
      { tactic: { uid: 'TA0006', name: 'Credential Access' }, technique: { uid: 'T1528', name: 'Steal Application Access Token' } },
    ],
    types: ['Third-Party Access'],
    defaultThresholds: 'every grant; dedup 60 min per actor and subject',
    recommendedContainment:
      "Notify only: Buildkite's GraphQL API has no mutation that revokes an OAuth authorization, an API application or a portal token. Revoke it in the Buildkite UI (Personal Settings > Connected Apps, Organization Settings > API Applications / Portals).",
    runbook: {
      check: [
        'Which application or token (target), who granted it (actor), from which network (evidence)?',
        'Is the application known (a sanctioned integration) and its requested scopes expected?',
        'Impersonation: was a Buildkite support ticket open that needed it?',
      ],
      act: [
        'Unknown application: revoke the authorization and delete the application or portal token in the Buildkite UI; review API calls it made.',
        'If the actor denies it: treat their session as stolen.',
        'Sanctioned: register it through IaC and add that identity to detectors.third-party-access.iacActors, or ignore the type with ignoredTypes.',
      ],
    },
    targets: ['Authorization', 'Actor'],
    usesActorNetworks: true,
  },

  accepts(event) {
    return isAuditEvent(event) && THIRD_PARTY_TYPES.has(event.metadata.event_code ?? '');
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    const verb = audit === undefined ? undefined : THIRD_PARTY_TYPES.get(audit.type);
    if (audit === undefined || verb === undefined) return [];
    const s = settings(ctx.config);
    if (s.ignored.has(audit.type)) return [];
    const actor = actorOf(event);
    const network = await ctx.actorNetwork();
    const isIac = s.iac.has(actor);
    const outsideIac = s.iac.size > 0 && !isIac;
    const severity: SeverityId = network?.isNew === true || outsideIac ? 4 : 3;

    const application = obj(audit.data?.['application']) ?? obj(audit.data?.['oauth_application']);
    const appName = str(application?.['name']) ?? str(audit.data?.['application_name']);
    const resources: FindingResource[] = [];
    if (audit.subjectType === 'User' && audit.subjectUuid !== undefined) {
      // Impersonation: the user impersonated is what it is about.
      resources.push(res('Actor', audit.subjectUuid, 'target', audit.subjectName));
    } else if (audit.subjectUuid !== undefined) {
      resources.push(res('Authorization', audit.subjectUuid, 'target', audit.subjectName ?? appName, { subject_type: audit.subjectType, audit_type: audit.type }));
    }
    if (actor?.uid !== undefined && !resources.some((r) => r.uid === actor.uid)) resources.push(res('Actor', actor.uid, resources.length === 0 ? 'target' : 'related', actor.name));
    const subject = audit.subjectName ?? appName;
    const what = `${verb}${subject !== undefined ? ` "${subject}"` : ''}`;
    const why = [
      network?.isNew === true ? `from ${networkText(network)}, a network new to ${actorLabel(actor)}` : undefined,
      outsideIac ? 'by an actor outside detectors.third-party-access.iacActors' : undefined,
    ].filter((x): x is string => x !== undefined);
    return [
      {
        dedupKey: `${actor?.uid ?? actor?.name ?? 'unknown'}:${audit.subjectUuid ?? audit.type}`,
        title: `${actorLabel(actor)} ${what} (${audit.type})`,
        desc:
          `${actorLabel(actor)} ${what} (${audit.type})${why.length > 0 ? `, ${why.join(' and ')}` : ''}. ` +
          'A third-party grant outlives a revoked session and a reset password: an attacker who got in once leaves one behind to come back.',
        severity,
        confidence: 2,
        resources,
        evidences: [evidenceOf(event, network?.info)],
        firstSeen: event.time,
        lastSeen: event.time,
        type: /IMPERSONAT/.test(audit.type) ? 'Impersonation' : 'Third-Party Grant',
        data: { audit_type: audit.type, subject_type: audit.subjectType, subject_uid: audit.subjectUuid, application: appName, iac_actor: isIac, new_network: network?.isNew },
      },
    ];
  },
};
