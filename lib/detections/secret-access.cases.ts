/** secret-access test cases (secret audit payloads as assumed in lib/detections/builders.ts). */
import { audit, ms, secretRead, uid, type Envelope, type PipelineRef } from './builders.ts';
import type { DetectorCase } from './types.ts';

const secret = (key: string) => ({ uuid: uid('secret', key), key });
const deploy: PipelineRef = { uuid: uid('pipeline', 'deploy'), slug: 'deploy' };
const web: PipelineRef = { uuid: uid('pipeline', 'web'), slug: 'web' };
const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const rotator = { uuid: uid('user', 'rotator'), name: 'secret-rotator' };
const at = (iso: string, plusSeconds = 0): number => ms(iso) + plusSeconds * 1000;

/** Two days of routine: each pipeline reads its own secrets on every build. */
function routine(firstDay = 0): Envelope[] {
  const out: Envelope[] = [];
  for (let d = firstDay; d < firstDay + 2; d++) {
    for (let b = 0; b < 3; b++) {
      const t = `2026-03-0${1 + d}T${String(9 + b * 3).padStart(2, '0')}:00:00Z`;
      out.push(secretRead({ at: t, secret: secret('DEPLOY_KEY'), pipeline: deploy, ip: '3.80.1.1', seq: b }));
      out.push(secretRead({ at: at(t, 5), secret: secret('AWS_ROLE_ARN'), pipeline: deploy, ip: '3.80.1.1', seq: b }));
      out.push(secretRead({ at: at(t, 60), secret: secret('NPM_TOKEN'), pipeline: web, ip: '3.80.1.2', seq: b }));
    }
  }
  return out;
}
const ROUTINE = 18;
const slowKeys = Array.from({ length: 20 }, (_, i) => `SERVICE_${String(i + 1).padStart(2, '0')}_KEY`);
const rotation = [
  'PROD_DB_PASSWORD',
  'STRIPE_KEY',
  'GITHUB_APP_KEY',
  'SLACK_TOKEN',
  'DATADOG_KEY',
  'SENTRY_DSN',
  'PYPI_TOKEN',
  'DOCKER_PASSWORD',
  'SIGNING_KEY',
  'SSH_DEPLOY_KEY',
  'TWILIO_TOKEN',
  'AWS_SECRET',
].map((k) => `ROTATED_${k}`);

/** Night `day` (0-based, from 2026-03-01) of a rotation job: the given secrets, 10 to 30 s apart, around `time`. */
function nightlyAt(day: number, keys: readonly string[], time = '02:00'): Envelope[] {
  const start = ms(`2026-03-${String(1 + day).padStart(2, '0')}T${time}:00Z`) + (day % 4) * 7 * 60_000;
  let t = start;
  return keys.map((k, i) => {
    t += (10 + ((i * 7 + day) % 20)) * 1000;
    return secretRead({ at: t, secret: secret(k), actor: rotator, ip: '34.240.1.1', seq: day * 100 + i });
  });
}
const nightly = (nights: number): Envelope[] => Array.from({ length: nights }, (_, d) => nightlyAt(d, rotation)).flat();
/** The first night of an undeclared rotation job: a sweep, updated with secrets 11 and 12. */
const nightlyFirst = () => [
  { at: 9, severity: 4 as const, title: 'read 10 different secrets', target: { type: 'Actor' as const, uid: rotator.uuid }, implicated: rotation.slice(0, 10).map((x) => uid('secret', x)) },
  {
    at: 10,
    severity: 4 as const,
    title: 'read 11 different secrets',
    target: { type: 'Actor' as const, uid: rotator.uuid },
    implicated: rotation.slice(0, 11).map((x) => uid('secret', x)),
    update: true,
  },
  { at: 11, severity: 4 as const, title: 'read 12 different secrets', target: { type: 'Actor' as const, uid: rotator.uuid }, implicated: rotation.map((x) => uid('secret', x)), update: true },
];
const sweepKeys = [
  'PROD_DB_PASSWORD',
  'STRIPE_KEY',
  'GITHUB_APP_KEY',
  'SLACK_TOKEN',
  'DATADOG_KEY',
  'SENTRY_DSN',
  'PYPI_TOKEN',
  'DOCKER_PASSWORD',
  'SIGNING_KEY',
  'SSH_DEPLOY_KEY',
  'TWILIO_TOKEN',
  'AWS_SECRET',
];

export const secretAccessCases: readonly DetectorCase[] = [
  {
    name: 'routine reads by known pipelines',
    kind: 'negative',
    events: [...routine(0), ...routine(2), ...routine(4)],
    expect: [],
  },
  {
    name: 'a pipeline reading a secret it has never read',
    kind: 'positive',
    events: [...routine(), secretRead({ at: '2026-03-03T10:00:00Z', secret: secret('PROD_DB_PASSWORD'), pipeline: web, ip: '3.80.1.2' })],
    expect: [
      {
        at: ROUTINE,
        severity: 3,
        title: 'Pipeline "web" read secret "PROD_DB_PASSWORD", which it has never read before',
        target: { type: 'Secret', uid: uid('secret', 'PROD_DB_PASSWORD') },
        related: [web.uuid],
      },
    ],
  },
  {
    name: 'new secrets during the learning period are learned',
    kind: 'negative',
    events: [
      secretRead({ at: '2026-03-01T09:00:00Z', secret: secret('DEPLOY_KEY'), pipeline: deploy }),
      secretRead({ at: '2026-03-01T15:00:00Z', secret: secret('SIGNING_KEY'), pipeline: deploy }),
      secretRead({ at: '2026-03-03T09:00:00Z', secret: secret('SIGNING_KEY'), pipeline: deploy }),
    ],
    expect: [],
  },
  {
    name: 'an actor sweeping many secrets in minutes: one new-secret and one sweep incident, updated with every secret',
    kind: 'positive',
    events: [
      secretRead({ at: '2026-03-01T09:00:00Z', secret: secret('STAGING_DB_PASSWORD'), actor: jane, ip: '86.1.2.3' }),
      ...sweepKeys.map((k, i) => secretRead({ at: at('2026-03-03T10:30:00Z', i * 20), secret: secret(k), actor: jane, ip: '86.1.2.3' })),
    ],
    expect: [
      ...sweepKeys.flatMap((k, i) => {
        const newSecret = {
          at: i + 1,
          severity: 3 as const,
          title: `Actor "Jane Doe" read secret "${k}", which it has never read before`,
          target: { type: 'Secret' as const, uid: uid('secret', 'PROD_DB_PASSWORD') },
          implicated: sweepKeys.slice(1, i + 1).map((x) => uid('secret', x)),
          related: [jane.uuid],
          update: i > 0,
        };
        if (i + 1 < 10) return [newSecret];
        const sweep = {
          at: i + 1,
          severity: 4 as const,
          title: `Actor "Jane Doe" read ${i + 1} different secrets in 10 minutes`,
          target: { type: 'Actor' as const, uid: jane.uuid },
          implicated: sweepKeys.slice(0, i + 1).map((x) => uid('secret', x)),
          evidence: [1, 2, 9],
          update: i + 1 > 10,
        };
        // New findings of an event come first; the Updates of open incidents after (one per incident, at the end of the batch).
        return i + 1 === 10 ? [sweep, newSecret] : [newSecret, sweep];
      }),
    ],
  },
  {
    name: 'a low-and-slow sweep (a new secret every 5 to 7 minutes for two hours) names every secret',
    kind: 'positive',
    events: [
      secretRead({ at: '2026-03-01T09:00:00Z', secret: secret('STAGING_DB_PASSWORD'), actor: jane, ip: '86.1.2.3' }),
      ...slowKeys.map((k, i) => secretRead({ at: at('2026-03-03T10:00:00Z', i * 360 + (i % 3) * 60 - 60), secret: secret(k), actor: jane, ip: '86.1.2.3' })),
    ],
    expect: slowKeys.map((k, i) => ({
      at: i + 1,
      severity: 3 as const,
      title: `Actor "Jane Doe" read secret "${k}", which it has never read before`,
      target: { type: 'Secret' as const, uid: uid('secret', slowKeys[0] as string) },
      implicated: slowKeys.slice(1, i + 1).map((x) => uid('secret', x)),
      evidence: i > 0 ? [i] : [],
      update: i > 0,
    })),
  },
  {
    name: "a nightly job reading the same 12 secrets is a sweep the first night only: then it is the reader's rhythm",
    kind: 'positive',
    events: nightly(10),
    expect: [
      {
        at: 9,
        severity: 4,
        title: 'Actor "secret-rotator" read 10 different secrets in 10 minutes',
        target: { type: 'Actor', uid: rotator.uuid },
        implicated: rotation.slice(0, 10).map((x) => uid('secret', x)),
      },
      { at: 10, severity: 4, title: 'read 11 different secrets', target: { type: 'Actor', uid: rotator.uuid }, implicated: rotation.slice(0, 11).map((x) => uid('secret', x)), update: true },
      { at: 11, severity: 4, title: 'read 12 different secrets', target: { type: 'Actor', uid: rotator.uuid }, implicated: rotation.map((x) => uid('secret', x)), update: true },
    ],
  },
  {
    name: 'a declared rotation identity (secretReaders) sweeping every night is quiet from the first night',
    kind: 'negative',
    config: { secretReaders: [{ uuid: rotator.uuid, note: 'nightly rotation' }] },
    events: nightly(10),
    expect: [],
  },
  {
    name: 'the nightly job reading a secret it has never read is not routine',
    kind: 'positive',
    config: { secretReaders: [] },
    events: [...nightly(5), ...nightlyAt(5, [...rotation.slice(0, 11), 'PROD_DB_PASSWORD'])],
    expect: [
      ...nightlyFirst(),
      {
        at: 60 + 11,
        severity: 3,
        title: 'Actor "secret-rotator" read secret "PROD_DB_PASSWORD", which it has never read before',
        target: { type: 'Secret', uid: uid('secret', 'PROD_DB_PASSWORD') },
        related: [rotator.uuid],
      },
      {
        at: 60 + 11,
        severity: 4,
        title: 'read 12 different secrets',
        target: { type: 'Actor', uid: rotator.uuid },
        implicated: [...rotation.slice(0, 11), 'PROD_DB_PASSWORD'].map((x) => uid('secret', x)),
      },
    ],
  },
  {
    name: 'the nightly job sweeping at noon is not its rhythm',
    kind: 'positive',
    events: [...nightly(5), ...nightlyAt(5, rotation, '12:00')],
    expect: [
      ...nightlyFirst(),
      { at: 60 + 9, severity: 4, title: 'read 10 different secrets', target: { type: 'Actor', uid: rotator.uuid }, implicated: rotation.slice(0, 10).map((x) => uid('secret', x)) },
      { at: 60 + 10, severity: 4, title: 'read 11 different secrets', target: { type: 'Actor', uid: rotator.uuid }, implicated: rotation.slice(0, 11).map((x) => uid('secret', x)), update: true },
      { at: 60 + 11, severity: 4, title: 'read 12 different secrets', target: { type: 'Actor', uid: rotator.uuid }, implicated: rotation.map((x) => uid('secret', x)), update: true },
    ],
  },
  {
    name: 'reads spread over hours are not a sweep',
    kind: 'negative',
    config: { learningPeriodHours: 1000 },
    events: sweepKeys.map((k, i) => secretRead({ at: at('2026-03-03T08:00:00Z', i * 900), secret: secret(k), actor: jane })),
    expect: [],
  },
  {
    name: 'a secret value replaced by an unexpected actor',
    kind: 'positive',
    config: { secretWriters: [rotator.uuid] },
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'SECRET_VALUE_UPDATED', actor: rotator, subject: { type: 'Secret', uuid: uid('secret', 'DEPLOY_KEY'), name: 'DEPLOY_KEY' } }),
      audit({ at: '2026-03-03T11:00:00Z', type: 'SECRET_VALUE_UPDATED', actor: jane, subject: { type: 'Secret', uuid: uid('secret', 'DEPLOY_KEY'), name: 'DEPLOY_KEY' } }),
      audit({ at: '2026-03-03T11:05:00Z', type: 'SECRET_DELETED', actor: jane, subject: { type: 'Secret', uuid: uid('secret', 'NPM_TOKEN'), name: 'NPM_TOKEN' } }),
    ],
    expect: [
      { at: 1, severity: 4, title: 'Secret "DEPLOY_KEY" value replaced by Jane Doe', target: { type: 'Secret', uid: uid('secret', 'DEPLOY_KEY') }, related: [jane.uuid] },
      { at: 2, severity: 4, title: 'Secret "NPM_TOKEN" deleted by Jane Doe', target: { type: 'Secret', uid: uid('secret', 'NPM_TOKEN') } },
    ],
  },
  {
    name: 'secret changes by the expected writers are quiet',
    kind: 'negative',
    config: { secretWriters: [{ uuid: rotator.uuid, note: 'Secret-Rotator' }] },
    events: [
      audit({ at: '2026-03-03T10:00:00Z', type: 'SECRET_VALUE_UPDATED', actor: rotator, subject: { type: 'Secret', uuid: uid('secret', 'DEPLOY_KEY'), name: 'DEPLOY_KEY' } }),
      audit({ at: '2026-03-03T10:01:00Z', type: 'SECRET_UPDATED', actor: rotator, subject: { type: 'Secret', uuid: uid('secret', 'DEPLOY_KEY'), name: 'DEPLOY_KEY' } }),
    ],
    expect: [],
  },
  {
    name: 'a user renamed after the expected writer is still reported (writers match by uuid only)',
    kind: 'positive',
    config: { secretWriters: [{ uuid: rotator.uuid, note: 'Secret-Rotator' }] },
    events: [
      audit({
        at: '2026-03-03T11:00:00Z',
        type: 'SECRET_VALUE_UPDATED',
        actor: { uuid: jane.uuid, name: rotator.name },
        subject: { type: 'Secret', uuid: uid('secret', 'DEPLOY_KEY'), name: 'DEPLOY_KEY' },
      }),
    ],
    expect: [{ at: 0, severity: 4, title: 'value replaced', target: { type: 'Secret', uid: uid('secret', 'DEPLOY_KEY') }, related: [jane.uuid] }],
  },
];

const queried = (at: number, i: number) => audit({ at, type: 'SECRET_QUERIED', actor: jane, subject: { type: 'Secret' }, ip: '86.1.2.3', seq: i });
const teamSecret = (type: string, actor: typeof jane) =>
  audit({
    at: '2026-03-03T10:00:00Z',
    type,
    actor,
    subject: { type: 'TeamSecret', uuid: uid('team-secret', 'platform/DEPLOY_KEY') },
    data: { secret: { uuid: uid('secret', 'DEPLOY_KEY'), key: 'DEPLOY_KEY' }, team: { uuid: uid('team', 'platform'), slug: 'platform' } },
  });

/** Enumeration, team grants and secrets created outside IaC. */
export const secretAccessIacCases: readonly DetectorCase[] = [
  {
    name: 'a burst of secret queries is an enumeration',
    kind: 'positive',
    events: Array.from({ length: 30 }, (_, i) => queried(at('2026-03-03T10:00:00Z', i * 10), i)),
    expect: [{ at: 24, severity: 4, title: 'Actor "Jane Doe" queried secrets 25 times in 10 minutes', target: { type: 'Actor', uid: jane.uuid }, evidence: [5, 23] }],
  },
  {
    name: 'secret queries spread through the day are not an enumeration',
    kind: 'negative',
    events: Array.from({ length: 40 }, (_, i) => queried(at('2026-03-03T08:00:00Z', i * 60 * 15), i)),
    expect: [],
  },
  {
    name: 'a team given a secret, and a secret created, by hand',
    kind: 'positive',
    config: { secretWriters: [rotator.uuid] },
    events: [
      teamSecret('TEAM_SECRET_CREATED', jane),
      audit({ at: '2026-03-03T10:05:00Z', type: 'SECRET_CREATED', actor: jane, subject: { type: 'Secret', uuid: uid('secret', 'NEW_KEY'), name: 'NEW_KEY' } }),
    ],
    expect: [
      {
        at: 0,
        severity: 4,
        title: 'Secret "DEPLOY_KEY" granted to team "platform" by Jane Doe, who is not an expected secret writer (TEAM_SECRET_CREATED)',
        target: { type: 'Secret', uid: uid('secret', 'DEPLOY_KEY') },
        related: [jane.uuid],
      },
      { at: 1, severity: 3, title: 'Secret "NEW_KEY" created by Jane Doe, who is not an expected secret writer', target: { type: 'Secret', uid: uid('secret', 'NEW_KEY') } },
    ],
  },
  {
    name: 'team grants and new secrets by the IaC writer, and team access removed, are quiet',
    kind: 'negative',
    config: { secretWriters: [rotator.uuid] },
    events: [
      teamSecret('TEAM_SECRET_CREATED', rotator),
      teamSecret('TEAM_SECRET_UPDATED', rotator),
      teamSecret('TEAM_SECRET_DELETED', jane),
      audit({ at: '2026-03-03T10:05:00Z', type: 'SECRET_CREATED', actor: rotator, subject: { type: 'Secret', uuid: uid('secret', 'NEW_KEY'), name: 'NEW_KEY' } }),
    ],
    expect: [],
  },
];
