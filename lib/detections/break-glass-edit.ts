/**
 * break-glass-edit: changes to pipelines, organization settings, clusters, queues, tokens,
 * teams, SSO and notification services made by anyone other than the infrastructure-as-code
 * identities in `iacActors`. A change by a break-glass account, or by an actor inside a
 * declared break-glass window, is still reported, at informational severity, so the audit
 * trail of the procedure is complete.
 */
import type { FindingResource } from '../findings/contract.ts';
import type { SeverityId } from '../ocsf/types.ts';
import type { BreakGlassEditConfig } from './config.ts';
import { actorLabel, actorOf, auditOf, entityTypeOfSubject, evidenceOf, IdentitySet, isAuditEvent, perConfig, res } from './entities.ts';
import type { Detector } from './types.ts';

interface Area {
  readonly name: string;
  readonly pattern: RegExp;
  readonly severity: SeverityId;
}

/** Watched audit types by area. Verbs that change something only (reads are not edits). */
export const WATCHED_AREAS: readonly Area[] = [
  { name: 'pipeline', pattern: /^(PIPELINE|SCM_PIPELINE_SETTINGS)_/, severity: 3 },
  { name: 'organization settings', pattern: /^ORGANIZATION_(UPDATED|DELETED|SECURITY_SETTINGS_UPDATED|TEAMS_(ENABLED|DISABLED)|BUILD_EXPORT_UPDATED)$/, severity: 3 },
  { name: 'cluster token', pattern: /^CLUSTER_(QUEUE_)?TOKEN_/, severity: 4 },
  { name: 'cluster or queue', pattern: /^(CLUSTER|RULE)_/, severity: 3 },
  { name: 'token', pattern: /^(AGENT_TOKEN|API_ACCESS_TOKEN|USER_API_ACCESS_TOKEN_ORGANIZATION_ACCESS)_/, severity: 4 },
  { name: 'team', pattern: /^TEAM_/, severity: 3 },
  { name: 'SSO', pattern: /^SSO_PROVIDER_/, severity: 4 },
  { name: 'notification service', pattern: /^NOTIFICATION_SERVICE_(CREATED|UPDATED|DELETED|DISABLED|ENABLED)$/, severity: 4 },
];
const READ_ONLY = /_(READ|QUERIED)$/;

export function watchedArea(type: string): Area | undefined {
  if (READ_ONLY.test(type)) return undefined;
  return WATCHED_AREAS.find((a) => a.pattern.test(type));
}

const settings = perConfig((c: BreakGlassEditConfig) => ({
  iac: new IdentitySet(c.iacActors),
  breakGlass: new IdentitySet(c.breakGlassActors),
  windows: c.breakGlassWindows.map((w) => ({ actors: new IdentitySet(w.actors), start: Date.parse(w.start), end: Date.parse(w.end), reason: w.reason })),
  ignored: new Set(c.ignoredTypes),
}));

/** PIPELINE_UPDATED on a Pipeline -> "updated"; TEAM_MEMBER_CREATED on a TeamMember -> "created". */
const verbs = new Map<string, string>();

/** Memoized: the regex work is per finding, and the (type, subject type) pairs are few. */
function verbOf(type: string, subjectType: string | undefined): string {
  const k = `${type}\n${subjectType ?? ''}`;
  let v = verbs.get(k);
  if (v === undefined) {
    v = computeVerb(type, subjectType);
    if (verbs.size < 1000) verbs.set(k, v);
  }
  return v;
}

function computeVerb(type: string, subjectType: string | undefined): string {
  const prefix = subjectType === undefined ? undefined : `${subjectType.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}_`;
  const rest = prefix !== undefined && type.startsWith(prefix) ? type.slice(prefix.length) : type.slice(type.lastIndexOf('_') + 1);
  return rest.toLowerCase().replaceAll('_', ' ');
}

export const breakGlassEdit: Detector<BreakGlassEditConfig> = {
  meta: {
    id: 'break-glass-edit',
    title: 'Change outside infrastructure as code',
    description:
      'Changes to pipelines, organization settings, clusters, queues, tokens, teams, SSO and notification services made by an actor who is not one of the infrastructure-as-code identities.',
    severity: 3,
    severityNotes: 'Medium; High for tokens, SSO and notification services; Informational under a declared break-glass procedure.',
    analyticType: 1,
    attacks: [
      {
        tactic: { uid: 'TA0001', name: 'Initial Access' },
        technique: { uid: 'T1195', name: 'Supply Chain Compromise' },
        sub_technique: { uid: 'T1195.002', name: 'Compromise Software Supply Chain' },
      },
      { tactic: { uid: 'TA0003', name: 'Persistence' }, technique: { uid: 'T1098', name: 'Account Manipulation' } },
    ],
    types: ['Configuration Change'],
    defaultThresholds: 'any change by an actor not in iacActors; dedup 60 min per actor and changed entity',
    recommendedContainment: "None automatic: notify the owners. Revert the change by re-applying the IaC definition; for token and SSO changes review the actor's session.",
    runbook: {
      check: [
        'Was a break-glass procedure declared (incident channel, ticket)? If so, add it to detectors.break-glass-edit.breakGlassWindows so the record says so.',
        'What changed: compare the pipeline / cluster / team with its IaC definition (terraform plan shows the drift).',
        'For pipeline steps: was a step, plugin or agent target added that runs code or reads secrets?',
        'Does the actor usually make changes by hand? From which IP and user agent (evidence)?',
      ],
      act: [
        'Unapproved: re-apply the IaC definition to revert, and ask the actor why; if they deny it, treat the account as compromised.',
        "Token, SSO or notification-service changes by an unknown actor: suspend the actor's sessions and tokens first, ask later.",
        'Approved and permanent: make the change in IaC so the drift disappears.',
      ],
    },
    targets: ['Pipeline', 'Cluster', 'Queue', 'AgentToken', 'ClusterToken', 'ApiToken', 'SsoProvider', 'NotificationService', 'Organization', 'Actor'],
  },

  accepts(event) {
    return isAuditEvent(event) && watchedArea(event.metadata.event_code ?? '') !== undefined;
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    if (audit === undefined) return [];
    const area = watchedArea(audit.type);
    const s = settings(ctx.config);
    if (area === undefined || s.ignored.has(audit.type)) return [];
    const actor = actorOf(event);
    if (s.iac.has(actor)) return [];
    const window = s.windows.find((w) => w.actors.has(actor) && event.time >= w.start && event.time < w.end);
    const breakGlass = window !== undefined || s.breakGlass.has(actor);
    const severity: SeverityId = breakGlass ? 1 : area.severity;

    const subjectType = entityTypeOfSubject(audit.subjectType);
    const subjectUid = audit.subjectUuid;
    const subjectText = audit.subjectName ?? audit.subjectUuid;
    const resources: FindingResource[] = [];
    if (subjectType !== undefined && subjectUid !== undefined) {
      resources.push(res(subjectType, subjectUid, 'target', audit.subjectName, { subject_type: audit.subjectType }));
    }
    if (actor?.uid !== undefined) resources.push(res('Actor', actor.uid, resources.length === 0 ? 'target' : 'related', actor.name));
    const thing = `${audit.subjectType ?? area.name}${subjectText !== undefined ? ` "${subjectText}"` : ''}`;
    const verb = verbOf(audit.type, audit.subjectType);
    const why = window !== undefined ? `under break-glass procedure "${window.reason}"` : breakGlass ? 'by a break-glass account' : undefined;
    return [
      {
        dedupKey: `${actor?.uid ?? actor?.name ?? 'unknown'}:${subjectUid ?? audit.subjectName ?? audit.type}`,
        title: breakGlass ? `Break-glass change: ${thing} ${verb} by ${actorLabel(actor)} (${audit.type})` : `${thing} ${verb} outside infrastructure as code by ${actorLabel(actor)} (${audit.type})`,
        desc: breakGlass
          ? `${actorLabel(actor)} made ${audit.type} on ${thing} ${why}. Reported for the audit trail; check that it was reverted or codified afterwards.`
          : `${actorLabel(actor)} made ${audit.type} on ${thing}, a ${area.name} change, and is not one of the infrastructure-as-code identities (detectors.break-glass-edit.iacActors). ` +
            'Hand edits bypass review and drift from the IaC definition; an attacker with a stolen session makes changes like this.',
        severity,
        confidence: actor === undefined ? 2 : 3,
        resources,
        evidences: [evidenceOf(event)],
        firstSeen: event.time,
        lastSeen: event.time,
        type: breakGlass ? 'Break-Glass Change' : 'Unmanaged Change',
        data: {
          area: area.name,
          audit_type: audit.type,
          break_glass: breakGlass,
          break_glass_reason: window?.reason,
          subject_type: audit.subjectType,
          subject_uid: subjectUid,
          subject_name: audit.subjectName,
        },
      },
    ];
  },
};
