/**
 * account-takeover test cases. 86.1.2.3 is AS5089 Virgin Media (GB), 185.220.101.34 AS60729 (DE).
 */
import { audit, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const bob = { uuid: uid('user', 'bob'), name: 'Bob Smith' };
const user = { type: 'User', uuid: bob.uuid, name: bob.name };
const day = (d: number, time: string): string => `2026-03-0${1 + d}T${time}Z`;
const history = [0, 1, 2].map((d) => audit({ at: day(d, '09:00:00'), type: 'PIPELINE_VIEWED', actor: bob, ip: '86.1.2.3', seq: d }));

export const accountTakeoverCases: readonly DetectorCase[] = [
  {
    name: 'new email, made primary, TOTP removed within the hour',
    kind: 'positive',
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'USER_EMAIL_CREATED', actor: bob, subject: { type: 'Email', uuid: uid('email', 'bob-2') }, data: { email: 'bob@evil.example' }, ip: '86.1.2.3' }),
      audit({ at: day(2, '10:05:00'), type: 'USER_EMAIL_MARKED_PRIMARY', actor: bob, subject: { type: 'Email', uuid: uid('email', 'bob-2') }, ip: '86.1.2.3' }),
      audit({ at: day(2, '10:06:00'), type: 'USER_TOTP_DELETED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob') }, ip: '86.1.2.3' }),
    ],
    expect: [{ at: 4, severity: 4, title: 'Account takeover steps on Bob Smith: email added, primary email changed within 60 minutes', target: { type: 'Actor', uid: bob.uuid }, evidence: [3] }],
  },
  {
    name: 'one step from a network new to the user',
    kind: 'positive',
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'USER_TOTP_DELETED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob') }, ip: '185.220.101.34' })],
    expect: [{ at: 3, severity: 4, title: 'Account takeover step on Bob Smith from a new network: TOTP removed, AS60729', target: { type: 'Actor', uid: bob.uuid } }],
  },
  {
    name: 'a reset requested anonymously for the user counts for the user',
    kind: 'positive',
    events: [
      audit({ at: day(2, '10:00:00'), type: 'USER_PASSWORD_RESET_REQUESTED', actor: null, subject: user, ip: '185.220.101.34' }),
      audit({ at: day(2, '10:20:00'), type: 'USER_TOTP_DELETED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob') }, data: { user_uuid: bob.uuid }, ip: '185.220.101.34' }),
    ],
    expect: [{ at: 1, severity: 4, title: 'Account takeover steps on Bob Smith: password reset, TOTP removed', target: { type: 'Actor', uid: bob.uuid }, evidence: [0] }],
  },
  {
    name: 'a forgotten password (request and reset) and steps hours apart are quiet',
    kind: 'negative',
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'USER_PASSWORD_RESET_REQUESTED', actor: null, subject: user, ip: '86.1.2.3' }),
      audit({ at: day(2, '10:03:00'), type: 'USER_PASSWORD_RESET', actor: bob, subject: user, ip: '86.1.2.3' }),
      audit({ at: day(2, '13:00:00'), type: 'USER_TOTP_CREATED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob-2') }, ip: '86.1.2.3' }),
      audit({ at: day(2, '13:01:00'), type: 'USER_TOTP_ACTIVATED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob-2') }, ip: '86.1.2.3' }),
      audit({ at: day(2, '13:02:00'), type: 'USER_EMAIL_VERIFIED', actor: bob, ip: '86.1.2.3' }),
    ],
    expect: [],
  },
  {
    name: 'minSteps can be raised for orgs where email changes are routine',
    kind: 'negative',
    config: { minSteps: 3 },
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'USER_EMAIL_CREATED', actor: bob, ip: '86.1.2.3' }),
      audit({ at: day(2, '10:05:00'), type: 'USER_EMAIL_MARKED_PRIMARY', actor: bob, ip: '86.1.2.3' }),
    ],
    expect: [],
  },
];
