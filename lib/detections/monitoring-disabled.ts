/**
 * monitoring-disabled: anything that blinds Kitewatch itself or weakens sign-in security.
 * - The Amazon EventBridge notification service (Buildkite -> Kitewatch) disabled, deleted,
 *   updated or broken: Critical, whoever did it (IaC included: the pipeline goes blind).
 * - Any other notification service disabled or deleted: High (someone's alerts stop).
 * - An SSO provider disabled or deleted, or the organization's 2FA / SSO enforcement turned
 *   off: Critical. A user deleting their own TOTP: High.
 * - Organization security settings changed in a way Kitewatch cannot read: Medium (unknown is
 *   not assumed safe).
 *
 * Which notification service is the EventBridge one: its subject type, name or data mentions
 * EventBridge, or its uuid is listed in `eventBridgeNotificationServices`. Buildkite's
 * audit payloads for these types are undocumented; this is parsed defensively.
 */
import type { EntityType, FindingResource } from '../findings/contract.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import type { MonitoringDisabledConfig } from './config.ts';
import { actorLabel, actorOf, auditOf, evidenceOf, IdentitySet, isAuditEvent, orgOf, perConfig, res, type AuditInfo } from './entities.ts';
import type { Detector, FindingDraft } from './types.ts';

const NOTIFICATION = /^NOTIFICATION_SERVICE_(DISABLED|DELETED|UPDATED|BROKEN)$/;
const SSO_OFF = /^SSO_PROVIDER_(DISABLED|DELETED)$/;
const ORG_SETTINGS = new Set(['ORGANIZATION_SECURITY_SETTINGS_UPDATED', 'ORGANIZATION_UPDATED']);
const EVENTBRIDGE = /event\s*_?bridge/i;
/** Settings keys about second factors or SSO enforcement (snake or camel case). */
const AUTH_SETTING = /(two[_ ]?factor|2fa|mfa|totp|sso|single[_ ]?sign)/i;

const services = perConfig((c: MonitoringDisabledConfig) => new IdentitySet(c.eventBridgeNotificationServices));

const VERB: Record<string, string> = { DISABLED: 'disabled', DELETED: 'deleted', UPDATED: 'modified', BROKEN: 'reported broken' };

function isEventBridge(audit: AuditInfo, listed: IdentitySet): boolean {
  if (listed.hasValue(audit.subjectUuid)) return true;
  if (EVENTBRIDGE.test(audit.subjectType ?? '') || EVENTBRIDGE.test(audit.subjectName ?? '')) return true;
  return audit.data !== undefined && EVENTBRIDGE.test(JSON.stringify(audit.data));
}

/** The value a setting changed to: `false`, `{from, to}`, `[old, new]`, `"false"`. */
function newValue(v: unknown): unknown {
  if (Array.isArray(v)) return v[v.length - 1];
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    if ('to' in o) return o['to'];
    if ('new' in o) return o['new'];
  }
  return v;
}

const isOff = (v: unknown): boolean => v === false || v === 'false' || v === 0 || v === 'disabled' || v === 'optional';
const isOn = (v: unknown): boolean => v === true || v === 'true' || v === 1 || v === 'enabled' || v === 'required';

/** Auth settings turned off, turned on, and whether anything else was in `data`. */
function authSettings(data: Record<string, unknown> | undefined): { off: string[]; on: string[]; unreadable: boolean } {
  const off: string[] = [];
  const on: string[] = [];
  let unreadable = data === undefined || Object.keys(data).length === 0;
  const walk = (o: Record<string, unknown>, path: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const name = path === '' ? k : `${path}.${k}`;
      const value = newValue(v);
      if (AUTH_SETTING.test(k)) {
        if (isOff(value)) off.push(name);
        else if (isOn(value)) on.push(name);
        else if (typeof value === 'object' && value !== null && !Array.isArray(value)) walk(value as Record<string, unknown>, name);
        else unreadable = true;
      } else if (typeof v === 'object' && v !== null && !Array.isArray(v) && !('to' in v) && !('from' in v)) {
        walk(v as Record<string, unknown>, name);
      }
    }
  };
  if (data !== undefined) walk(data, '');
  return { off, on, unreadable };
}

function draft(event: OcsfEvent, audit: AuditInfo, p: { severity: SeverityId; title: string; desc: string; target: FindingResource; kind: string; data?: Record<string, unknown> }): FindingDraft {
  const actor = actorOf(event);
  const resources: FindingResource[] = [p.target];
  if (actor?.uid !== undefined && !(p.target.type === 'Actor' && p.target.uid === actor.uid)) resources.push(res('Actor', actor.uid, 'related', actor.name));
  return {
    dedupKey: `${audit.type}:${p.target.type}:${p.target.uid}`,
    title: p.title,
    desc: p.desc,
    severity: p.severity,
    confidence: 3,
    resources,
    evidences: [evidenceOf(event)],
    firstSeen: event.time,
    lastSeen: event.time,
    type: p.kind,
    data: { audit_type: audit.type, ...p.data },
  };
}

function subjectTarget(type: EntityType, audit: AuditInfo, fallbackUid: string): FindingResource {
  return res(type, audit.subjectUuid ?? audit.subjectName ?? fallbackUid, 'target', audit.subjectName, { subject_type: audit.subjectType });
}

export const monitoringDisabled: Detector<MonitoringDisabledConfig> = {
  meta: {
    id: 'monitoring-disabled',
    title: 'Monitoring or sign-in security disabled',
    description: 'Anything that blinds Kitewatch (the EventBridge notification service disabled, deleted, changed or broken) or weakens sign-in security (SSO provider off, 2FA enforcement off).',
    severity: 5,
    severityNotes: 'Critical; High for other notification services and a user deleting their TOTP; Medium for unreadable security-setting changes.',
    analyticType: 1,
    attacks: [
      {
        tactic: { uid: 'TA0005', name: 'Defense Evasion' },
        technique: { uid: 'T1562', name: 'Impair Defenses' },
        sub_technique: { uid: 'T1562.008', name: 'Disable or Modify Cloud Logs' },
      },
      {
        tactic: { uid: 'TA0006', name: 'Credential Access' },
        technique: { uid: 'T1556', name: 'Modify Authentication Process' },
        sub_technique: { uid: 'T1556.006', name: 'Multi-Factor Authentication' },
      },
    ],
    types: ['Defense Evasion'],
    defaultThresholds: 'any occurrence; dedup 15 min per change and subject',
    recommendedContainment:
      "None automatic (re-enabling needs a person): page the on-call. Review the actor's session; treat everything after this event as unmonitored until the service is restored.",
    runbook: {
      check: [
        "Is Buildkite still delivering events? Look at the partner event source in the EventBridge console and Kitewatch's ingest metrics.",
        'Who made the change (actor, IP, user agent) and was it announced?',
        'What happened while the service was off? Backfill the gap from the REST audit-events API (kitewatch replay).',
      ],
      act: [
        'Re-enable or recreate the EventBridge notification service (Settings > Notification Services) or the SSO / 2FA enforcement.',
        "If the actor did not intend it: suspend the actor's sessions and API tokens and treat the account as compromised.",
        'Backfill audit events for the blind period and replay them through Kitewatch.',
      ],
    },
    targets: ['NotificationService', 'SsoProvider', 'Organization', 'Actor'],
  },

  accepts(event) {
    if (!isAuditEvent(event)) return false;
    const code = event.metadata.event_code ?? '';
    return NOTIFICATION.test(code) || SSO_OFF.test(code) || ORG_SETTINGS.has(code) || code === 'USER_TOTP_DELETED';
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    if (audit === undefined) return [];
    const actor = actorOf(event);
    const by = actorLabel(actor);
    const n = NOTIFICATION.exec(audit.type);
    if (n !== null) {
      const verb = VERB[n[1] as string] ?? 'changed';
      const name = audit.subjectName ?? audit.subjectUuid ?? 'unknown';
      const target = subjectTarget('NotificationService', audit, audit.type);
      if (isEventBridge(audit, services(ctx.config))) {
        return [
          draft(event, audit, {
            severity: 5,
            kind: 'Monitoring Disabled',
            target,
            title: `EventBridge notification service "${name}" ${verb} by ${by}: Kitewatch may stop receiving Buildkite events`,
            desc:
              `${audit.type} on the notification service that sends Buildkite events to Amazon EventBridge (and so to Kitewatch), by ${by}. ` +
              'Until it is restored, agent, build and audit events may not arrive: detections are blind. Disabling the audit feed is a classic first step before abuse.',
          }),
        ];
      }
      if (n[1] === 'DISABLED' || n[1] === 'DELETED') {
        return [
          draft(event, audit, {
            severity: 4,
            kind: 'Monitoring Disabled',
            target,
            title: `Notification service "${name}" ${verb} by ${by}`,
            desc: `${audit.type} by ${by}: the alerts or events this service delivered (${audit.subjectType ?? 'notification service'}) stop.`,
          }),
        ];
      }
      return [];
    }
    if (SSO_OFF.test(audit.type)) {
      const verb = audit.type.endsWith('DELETED') ? 'deleted' : 'disabled';
      return [
        draft(event, audit, {
          severity: 5,
          kind: 'Authentication Weakened',
          target: subjectTarget('SsoProvider', audit, audit.type),
          title: `SSO provider "${audit.subjectName ?? audit.subjectUuid ?? 'unknown'}" ${verb} by ${by}`,
          desc: `${audit.type} by ${by}: members may sign in without the identity provider's controls (MFA, device posture, offboarding).`,
        }),
      ];
    }
    if (audit.type === 'USER_TOTP_DELETED') {
      const target = actor?.uid !== undefined ? res('Actor', actor.uid, 'target', actor.name) : subjectTarget('Actor', audit, audit.type);
      return [
        draft(event, audit, {
          severity: 4,
          kind: 'Authentication Weakened',
          target,
          title: `Two-factor authentication removed from the account of ${by}`,
          desc: `USER_TOTP_DELETED by ${by}: the account no longer has a second factor, unless the organization enforces SSO.`,
        }),
      ];
    }
    // ORGANIZATION_SECURITY_SETTINGS_UPDATED / ORGANIZATION_UPDATED
    const { off, on, unreadable } = authSettings(audit.data);
    const org = orgOf(event);
    const target = res('Organization', audit.subjectUuid ?? org?.uid ?? 'unknown', 'target', org?.name ?? audit.subjectName);
    if (off.length > 0) {
      return [
        draft(event, audit, {
          severity: 5,
          kind: 'Authentication Weakened',
          target,
          title: `Organization sign-in security weakened by ${by}: ${off.join(', ')} turned off`,
          desc: `${audit.type} by ${by} turned off ${off.join(', ')}. Members can now sign in with a password alone.`,
          data: { settings_off: off },
        }),
      ];
    }
    if (audit.type === 'ORGANIZATION_SECURITY_SETTINGS_UPDATED' && on.length === 0 && unreadable) {
      return [
        draft(event, audit, {
          severity: 3,
          kind: 'Security Settings Changed',
          target,
          title: `Organization security settings changed by ${by}; Kitewatch could not tell what changed`,
          desc: `${audit.type} by ${by} with settings Kitewatch does not recognize. Check the organization's security settings (2FA, SSO, IP allow-lists) in Buildkite.`,
          data: { settings: audit.data ?? null },
        }),
      ];
    }
    return [];
  },
};
