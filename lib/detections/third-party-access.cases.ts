/**
 * third-party-access test cases. 86.1.2.3 is AS5089 Virgin Media (GB), 185.220.101.34 AS60729 (DE).
 */
import { audit, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };
const day = (d: number, time: string): string => `2026-03-0${1 + d}T${time}Z`;
const history = [0, 1, 2].map((d) => audit({ at: day(d, '09:00:00'), type: 'PIPELINE_VIEWED', actor: jane, ip: '86.1.2.3', seq: d }));
const app = (n: string) => ({ type: 'OAuthApplication', uuid: uid('app', n), name: n });

export const thirdPartyAccessCases: readonly DetectorCase[] = [
  {
    name: 'an OAuth application authorized from the usual network is Medium',
    kind: 'positive',
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'OAUTH_APPLICATION_AUTHORIZED', actor: jane, subject: app('Deploy Dashboard'), ip: '86.1.2.3' })],
    expect: [
      {
        at: 3,
        severity: 3,
        title: 'Jane Doe authorized an OAuth application "Deploy Dashboard" (OAUTH_APPLICATION_AUTHORIZED)',
        target: { type: 'Authorization', uid: uid('app', 'Deploy Dashboard') },
        related: [jane.uuid],
      },
    ],
  },
  {
    name: 'a portal token created from a new network is High',
    kind: 'positive',
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'PORTAL_TOKEN_CREATED', actor: jane, subject: { type: 'PortalToken', uuid: uid('portal-token', 'x') }, ip: '185.220.101.34' })],
    expect: [{ at: 3, severity: 4, title: 'Jane Doe created a portal token', target: { type: 'Authorization', uid: uid('portal-token', 'x') } }],
  },
  {
    name: 'with iacActors set, an API application by anyone else is High; by IaC it is Medium',
    kind: 'positive',
    config: { iacActors: [terraform.uuid] },
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'API_APPLICATION_CREATED', actor: terraform, subject: { type: 'APIApplication', uuid: uid('api-app', 'ci'), name: 'ci-bot' }, ip: '3.90.1.1' }),
      audit({ at: day(2, '10:05:00'), type: 'API_APPLICATION_ENABLED', actor: jane, subject: { type: 'APIApplication', uuid: uid('api-app', 'shadow'), name: 'shadow' }, ip: '86.1.2.3' }),
    ],
    expect: [
      { at: 3, severity: 3, title: 'terraform-cloud created an API application "ci-bot"', target: { type: 'Authorization', uid: uid('api-app', 'ci') } },
      { at: 4, severity: 4, title: 'Jane Doe enabled an API application "shadow"', target: { type: 'Authorization', uid: uid('api-app', 'shadow') } },
    ],
  },
  {
    name: 'a user impersonated targets the user',
    kind: 'positive',
    events: [
      audit({ at: day(2, '10:00:00'), type: 'USER_IMPERSONATED', actor: { uuid: uid('user', 'support'), name: 'Buildkite Support' }, subject: { type: 'User', uuid: jane.uuid, name: jane.name } }),
    ],
    expect: [{ at: 0, severity: 3, title: 'Buildkite Support impersonated a user "Jane Doe"', target: { type: 'Actor', uid: jane.uuid }, related: [uid('user', 'support')] }],
  },
  {
    name: 'ignored types, removals and unrelated events are quiet',
    kind: 'negative',
    config: { ignoredTypes: ['PORTAL_TOKEN_CREATED'] },
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'PORTAL_TOKEN_CREATED', actor: jane, subject: { type: 'PortalToken', uuid: uid('portal-token', 'y') }, ip: '185.220.101.34' }),
      audit({ at: day(2, '10:01:00'), type: 'API_APPLICATION_DELETED', actor: jane, subject: { type: 'APIApplication', uuid: uid('api-app', 'old') } }),
      audit({ at: day(2, '10:02:00'), type: 'ORGANIZATION_IMPERSONATION_REQUEST_REVOKED', actor: jane }),
      audit({ at: day(2, '10:03:00'), type: 'AUTHORIZATION_DELETED', actor: jane }),
    ],
    expect: [],
  },
];
