/**
 * interactive-session test cases. 86.1.2.3 is AS5089 Virgin Media (GB), 185.220.101.34 AS60729 (DE).
 */
import { audit, uid } from './builders.ts';
import type { DetectorCase } from './types.ts';

const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const job = (label: string) => ({ type: 'Job', uuid: uid('job', label), name: label });
const deploy = { pipeline_uuid: uid('pipeline', 'deploy'), pipeline_slug: 'deploy', build_number: 301 };
const web = { pipeline: { uuid: uid('pipeline', 'web'), slug: 'web' }, build: { number: 1201, uuid: uid('build', 'web-1201') } };
const day = (d: number, time: string): string => `2026-03-0${1 + d}T${time}Z`;

/** Jane's ordinary audit traffic from home, so her network is known. */
const history = [0, 1, 2].map((d) => audit({ at: day(d, '09:00:00'), type: 'PIPELINE_VIEWED', actor: jane, ip: '86.1.2.3', seq: d }));

export const interactiveSessionCases: readonly DetectorCase[] = [
  {
    name: 'a debugging shell on an ordinary pipeline from the usual network is Medium',
    kind: 'positive',
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'JOB_TERMINAL_SESSION_STARTED', actor: jane, subject: job('Test'), data: web, ip: '86.1.2.4' })],
    expect: [{ at: 3, severity: 3, title: 'Jane Doe opened a shell inside job "Test" of web #1201', target: { type: 'Job', uid: uid('job', 'Test') }, related: [jane.uuid, uid('pipeline', 'web')] }],
  },
  {
    name: 'a shell in a sensitive pipeline is High',
    kind: 'positive',
    config: { sensitivePipelines: ['Deploy'] },
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'JOB_TERMINAL_SESSION_STARTED', actor: jane, subject: job('Release'), data: deploy, ip: '86.1.2.4' })],
    expect: [{ at: 3, severity: 4, title: 'Jane Doe opened a shell inside job "Release" of deploy #301', target: { type: 'Job', uid: uid('job', 'Release') }, related: [uid('pipeline', 'deploy')] }],
  },
  {
    name: 'a shell from a network new to the actor is High',
    kind: 'positive',
    events: [...history, audit({ at: day(2, '10:00:00'), type: 'JOB_TERMINAL_SESSION_STARTED', actor: jane, subject: job('Test'), data: web, ip: '185.220.101.34' })],
    expect: [{ at: 3, severity: 4, title: 'Jane Doe opened a shell inside job "Test"', target: { type: 'Job', uid: uid('job', 'Test') } }],
  },
  {
    name: 'other job and terminal-adjacent events are not sessions',
    kind: 'negative',
    events: [
      ...history,
      audit({ at: day(2, '10:00:00'), type: 'PIPELINE_UPDATED', actor: jane, subject: { type: 'Pipeline', uuid: uid('pipeline', 'web'), name: 'web' } }),
      audit({ at: day(2, '10:01:00'), type: 'JOB_ENV_READ', actor: jane, subject: job('Test') }),
    ],
    expect: [],
  },
];
