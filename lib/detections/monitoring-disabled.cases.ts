/**
 * monitoring-disabled test cases. The EventBridge notification service's audit subject is
 * undocumented; these cases use the shapes the detector accepts (type or name mentioning
 * EventBridge, or a configured uuid).
 */
import { audit, DEFAULT_ORG, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };
const eventBridge = { type: 'NotificationService', uuid: uid('ns', 'eventbridge'), name: 'Amazon EventBridge' };
const slack = { type: 'NotificationServiceSlack', uuid: uid('ns', 'slack'), name: '#builds' };
const org = { type: 'Organization', uuid: DEFAULT_ORG.uuid, name: 'Acme Inc' };

export const monitoringDisabledCases: readonly DetectorCase[] = [
  {
    name: 'the EventBridge notification service is disabled',
    kind: 'positive',
    events: [audit({ at: '2026-03-03T11:00:00Z', type: 'NOTIFICATION_SERVICE_DISABLED', actor: jane, subject: eventBridge, ip: '86.1.2.3' })],
    expect: [
      {
        at: 0,
        severity: 5,
        title: 'EventBridge notification service "Amazon EventBridge" disabled by Jane Doe: Kitewatch may stop receiving Buildkite events',
        target: { type: 'NotificationService', uid: eventBridge.uuid },
        related: [jane.uuid],
      },
    ],
  },
  {
    name: 'deleted or modified, even by IaC, and identified by configured uuid',
    kind: 'positive',
    config: { eventBridgeNotificationServices: [uid('ns', 'bus-feed')] },
    events: [
      audit({ at: '2026-03-03T11:00:00Z', type: 'NOTIFICATION_SERVICE_UPDATED', actor: terraform, subject: { type: 'NotificationServiceWebhook', uuid: uid('ns', 'bus-feed'), name: 'feed' } }),
      audit({ at: '2026-03-03T11:30:00Z', type: 'NOTIFICATION_SERVICE_DELETED', actor: terraform, subject: { type: 'NotificationServiceWebhook', uuid: uid('ns', 'bus-feed'), name: 'feed' } }),
    ],
    expect: [
      { at: 0, severity: 5, title: 'EventBridge notification service "feed" modified by terraform-cloud', target: { type: 'NotificationService', uid: uid('ns', 'bus-feed') } },
      { at: 1, severity: 5, title: 'EventBridge notification service "feed" deleted by terraform-cloud', target: { type: 'NotificationService', uid: uid('ns', 'bus-feed') } },
    ],
  },
  {
    name: 'another notification service disabled is High; updated or enabled is not raised',
    kind: 'positive',
    events: [
      audit({ at: '2026-03-03T11:00:00Z', type: 'NOTIFICATION_SERVICE_UPDATED', actor: jane, subject: slack }),
      audit({ at: '2026-03-03T11:01:00Z', type: 'NOTIFICATION_SERVICE_DISABLED', actor: jane, subject: slack }),
      audit({ at: '2026-03-03T11:02:00Z', type: 'NOTIFICATION_SERVICE_ENABLED', actor: jane, subject: slack }),
    ],
    expect: [{ at: 1, severity: 4, title: 'Notification service "#builds" disabled by Jane Doe', target: { type: 'NotificationService', uid: slack.uuid } }],
  },
  {
    name: 'SSO provider disabled',
    kind: 'positive',
    events: [audit({ at: '2026-03-03T11:00:00Z', type: 'SSO_PROVIDER_DISABLED', actor: jane, subject: { type: 'SSOProviderSAML', uuid: uid('sso', 'okta'), name: 'Okta' } })],
    expect: [{ at: 0, severity: 5, title: 'SSO provider "Okta" disabled by Jane Doe', target: { type: 'SsoProvider', uid: uid('sso', 'okta') } }],
  },
  {
    name: 'organization 2FA enforcement turned off',
    kind: 'positive',
    events: [
      audit({ at: '2026-03-03T11:00:00Z', type: 'ORGANIZATION_SECURITY_SETTINGS_UPDATED', actor: jane, subject: org, data: { members_require_two_factor_authentication: { from: true, to: false } } }),
    ],
    expect: [
      { at: 0, severity: 5, title: 'Organization sign-in security weakened by Jane Doe: members_require_two_factor_authentication turned off', target: { type: 'Organization', uid: org.uuid } },
    ],
  },
  {
    name: 'security settings strengthened or unrelated organization updates are quiet',
    kind: 'negative',
    events: [
      audit({ at: '2026-03-03T11:00:00Z', type: 'ORGANIZATION_SECURITY_SETTINGS_UPDATED', actor: jane, subject: org, data: { membersRequireTwoFactorAuthentication: true } }),
      audit({ at: '2026-03-03T11:01:00Z', type: 'ORGANIZATION_UPDATED', actor: jane, subject: org, data: { name: 'Acme' } }),
      audit({ at: '2026-03-03T11:02:00Z', type: 'SSO_PROVIDER_ENABLED', actor: jane, subject: { type: 'SSOProviderSAML', uuid: uid('sso', 'okta'), name: 'Okta' } }),
      audit({ at: '2026-03-03T11:03:00Z', type: 'USER_TOTP_ACTIVATED', actor: jane, subject: { type: 'TOTP', uuid: uid('totp', 'jane') } }),
    ],
    expect: [],
  },
  {
    name: 'unreadable security-setting changes are Medium; a user removing their TOTP is High',
    kind: 'positive',
    events: [
      audit({ at: '2026-03-03T11:00:00Z', type: 'ORGANIZATION_SECURITY_SETTINGS_UPDATED', actor: jane, subject: org }),
      audit({ at: '2026-03-03T11:05:00Z', type: 'USER_TOTP_DELETED', actor: jane, subject: { type: 'TOTP', uuid: uid('totp', 'jane') } }),
    ],
    expect: [
      { at: 0, severity: 3, title: 'Kitewatch could not tell what changed', target: { type: 'Organization', uid: org.uuid } },
      { at: 1, severity: 4, title: 'Two-factor authentication removed from the account of Jane Doe', target: { type: 'Actor', uid: jane.uuid } },
    ],
  },
];
