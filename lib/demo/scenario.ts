/**
 * The scenario of `kitewatch demo` and of the detection fixtures in test/fixtures/scenarios
 * (deterministic: seeded PRNG, fixed dates, no wall clock):
 *
 * - benign.ndjson: eight days of history (so every learning period has ended), then one
 *   ordinary day: autoscaling agents churning through ever-new IPs inside AWS 3.80.0.0/12
 *   (AS14618), builds and jobs, routine secret reads by known pipelines, IaC edits and a secret
 *   rotation by the IaC identity, people doing ordinary things from their usual ISPs.
 * - attack: the same plus an attack woven into the day: the ci-linux agent token used
 *   from 185.220.101.34 (AS60729), a blocked registration with the prod cluster token, 200 agent
 *   registrations in ten minutes, a hand edit of a pipeline from the attacker's network, a
 *   secret sweep by the edited pipeline, an outside address invited as organization admin, and the
 *   EventBridge notification service disabled.
 * - SCENARIO_CONFIG: the config both are replayed with (the IaC identity).
 *
 * Envelopes are built by lib/detections/builders.ts in the shapes of the docs' examples.
 */
import {
  agentConnected,
  DEFAULT_ORG,
  agentEvent,
  audit,
  buildEvent,
  jobEvent,
  ms,
  prng,
  registrationBlocked,
  secretRead,
  uid,
  type AgentRef,
  type Envelope,
  type PipelineRef,
} from '../detections/builders.ts';

export const DAY = '2026-03-10';
const DAY0 = ms(`${DAY}T00:00:00Z`);
const HOUR = 3_600_000;
const MINUTE = 60_000;

export const ciToken = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
export const deployToken = { uuid: uid('token', 'deploy-fleet'), description: 'deploy-fleet' };
export const prodClusterToken = { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '3.80.0.0/12' };
export const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };
export const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
export const bob = { uuid: uid('user', 'bob'), name: 'Bob Smith' };
export const eventBridgeService = { type: 'NotificationService', uuid: uid('ns', 'eventbridge'), name: 'Amazon EventBridge' };

export const pipelines = {
  web: { uuid: uid('pipeline', 'web'), slug: 'web' },
  api: { uuid: uid('pipeline', 'api'), slug: 'api' },
  deploy: { uuid: uid('pipeline', 'deploy'), slug: 'deploy' },
} satisfies Record<string, PipelineRef>;

const secretsOf: Record<keyof typeof pipelines, string[]> = {
  web: ['NPM_TOKEN', 'SENTRY_DSN'],
  api: ['DOCKER_PASSWORD', 'DATABASE_URL_TEST'],
  deploy: ['DEPLOY_KEY', 'AWS_ROLE_ARN', 'SLACK_WEBHOOK'],
};
export const secret = (key: string) => ({ uuid: uid('secret', key), key });

/** The secrets the attacker's step asks for, in order. */
export const SWEEP = [
  'PROD_DB_PASSWORD',
  'DEPLOY_KEY',
  'AWS_ROLE_ARN',
  'DOCKER_PASSWORD',
  'STRIPE_KEY',
  'GITHUB_APP_KEY',
  'SLACK_WEBHOOK',
  'DATADOG_API_KEY',
  'SIGNING_KEY',
  'NPM_TOKEN',
  'PYPI_TOKEN',
  'TWILIO_TOKEN',
];
export const ATTACKER_IP = '185.220.101.34';

interface Timed {
  readonly t: number;
  readonly seq: number;
  readonly e: Envelope;
}

class Timeline {
  readonly items: Timed[] = [];
  #seq = 0;
  add(t: number, e: Envelope): void {
    this.items.push({ t, seq: this.#seq++, e });
  }
  sorted(): Envelope[] {
    return [...this.items].sort((a, b) => a.t - b.t || a.seq - b.seq).map((x) => x.e);
  }
}

/** An address inside AWS 3.80.0.0/12 (AS14618, us-east-1). */
function awsIp(rand: () => number): string {
  return `3.${80 + Math.floor(rand() * 16)}.${Math.floor(rand() * 256)}.${1 + Math.floor(rand() * 254)}`;
}

function ec2Agent(rand: () => number, fleet: string, n: number): AgentRef {
  const ip = awsIp(rand);
  const instance = `i-0${Math.floor(rand() * 0xffffffff)
    .toString(16)
    .padStart(8, '0')}${n.toString(16).padStart(8, '0')}`;
  return {
    uuid: uid('agent', fleet, String(n)),
    name: `${fleet}-${instance.slice(2, 10)}-${n}`,
    ip,
    hostname: `ip-10-0-${Math.floor(rand() * 255)}-${Math.floor(rand() * 255)}.ec2.internal`,
    instanceId: instance,
  };
}

let agentCounter = 0;

/** An agent session: connect, and (usually) disconnect later. */
function session(tl: Timeline, rand: () => number, at: number, fleet: string, token: typeof ciToken, minutes: number): void {
  const a = ec2Agent(rand, fleet, agentCounter++);
  tl.add(at, agentConnected({ at, agent: a, token }));
  const end = at + minutes * MINUTE;
  tl.add(end, agentEvent(rand() < 0.9 ? 'Agent Disconnected' : 'Agent Lost', { at: end, agent: a, token, connectedAt: at }));
}

const buildNumbers: Record<string, number> = { web: 1200, api: 800, deploy: 300 };

/** A build with one job and its routine secret reads. */
function build(tl: Timeline, rand: () => number, at: number, name: keyof typeof pipelines): void {
  const p = pipelines[name];
  const number = ++buildNumbers[name]!;
  tl.add(at, buildEvent('Build Created', { at, pipeline: p, number }));
  tl.add(at + 20_000, buildEvent('Build Started', { at: at + 20_000, pipeline: p, number }));
  tl.add(at + 25_000, jobEvent('Job Started', { at: at + 25_000, pipeline: p, number, label: 'Test' }));
  secretsOf[name].forEach((key, i) => {
    const t = at + 30_000 + i * 2_000;
    tl.add(t, secretRead({ at: t, secret: secret(key), pipeline: p, ip: awsIp(rand), seq: number }));
  });
  const passed = rand() > 0.1;
  const end = at + (4 + Math.floor(rand() * 8)) * MINUTE;
  tl.add(end, jobEvent('Job Finished', { at: end, pipeline: p, number, label: 'Test', agentUuid: uid('agent', 'ci', String(number % 7)), passed }));
  tl.add(end + 5_000, buildEvent('Build Finished', { at: end + 5_000, pipeline: p, number, passed }));
}

/** Eight quiet days before the scenario day. */
function history(tl: Timeline, rand: () => number): void {
  for (let d = 8; d >= 1; d--) {
    const day = DAY0 - d * 24 * HOUR;
    for (const hour of [7, 13]) {
      for (let i = 0; i < 5; i++) session(tl, rand, day + hour * HOUR + i * 40_000, 'ci', ciToken, 60 + Math.floor(rand() * 120));
    }
    session(tl, rand, day + 10 * HOUR, 'deploy', deployToken, 30);
    build(tl, rand, day + 9 * HOUR, 'web');
    build(tl, rand, day + 11 * HOUR, 'api');
    build(tl, rand, day + 15 * HOUR, 'deploy');
    const janeAt = day + 9 * HOUR + 30 * MINUTE;
    tl.add(
      janeAt,
      audit({
        at: janeAt,
        type: 'ORGANIZATION_INVITATION_CREATED',
        actor: jane,
        subject: { type: 'OrganizationInvitation', uuid: uid('invite', String(d)) },
        ip: `86.1.${Math.floor(rand() * 200)}.${1 + Math.floor(rand() * 250)}`,
      }),
    );
    const bobAt = day + 14 * HOUR;
    tl.add(
      bobAt,
      audit({
        at: bobAt,
        type: 'ORGANIZATION_BANNER_UPDATED',
        actor: bob,
        subject: { type: 'OrganizationBanner', uuid: uid('banner', 'main') },
        ip: `73.1.${Math.floor(rand() * 200)}.${1 + Math.floor(rand() * 250)}`,
        seq: d,
      }),
    );
    if (d % 2 === 0) {
      const tfAt = day + 16 * HOUR;
      tl.add(
        tfAt,
        audit({
          at: tfAt,
          type: 'PIPELINE_UPDATED',
          actor: terraform,
          subject: { type: 'Pipeline', uuid: pipelines.api.uuid, name: 'api' },
          data: { description: 'managed by terraform' },
          ip: awsIp(rand),
          seq: d,
        }),
      );
    }
  }
}

/** The ordinary scenario day. */
function benignDay(tl: Timeline, rand: () => number): void {
  // Autoscaling: agents come and go all day, busier in the morning.
  for (let minute = 6 * 60; minute < 22 * 60; minute += 20) {
    const hour = minute / 60;
    const n = hour >= 8 && hour < 9 ? 12 + Math.floor(rand() * 4) : 1 + Math.floor(rand() * 5);
    for (let i = 0; i < n; i++) session(tl, rand, DAY0 + minute * MINUTE + Math.floor(rand() * 19 * MINUTE), 'ci', ciToken, 20 + Math.floor(rand() * 90));
  }
  for (const hour of [10, 15]) session(tl, rand, DAY0 + hour * HOUR, 'deploy', deployToken, 25);
  // Builds through the day.
  for (let i = 0; i < 24; i++) {
    const name = (['web', 'api', 'deploy'] as const)[i % 3] as keyof typeof pipelines;
    build(tl, rand, DAY0 + 7 * HOUR + i * 25 * MINUTE + Math.floor(rand() * 10 * MINUTE), name);
  }
  // Infrastructure as code: a terraform apply in the morning, a secret rotation in the afternoon.
  const apply = DAY0 + 9 * HOUR + 15 * MINUTE;
  const tfIp = awsIp(rand);
  const iac: Array<[string, { type: string; uuid: string; name?: string }, Record<string, unknown> | null]> = [
    ['PIPELINE_UPDATED', { type: 'Pipeline', uuid: pipelines.web.uuid, name: 'web' }, { steps: 'updated by terraform' }],
    ['CLUSTER_QUEUE_UPDATED', { type: 'ClusterQueue', uuid: uid('queue', 'default'), name: 'default' }, { description: 'default queue' }],
    ['TEAM_MEMBER_CREATED', { type: 'TeamMember', uuid: uid('member', 'new-hire') }, { role: 'MEMBER' }],
    ['PIPELINE_SCHEDULE_UPDATED', { type: 'PipelineSchedule', uuid: uid('schedule', 'nightly'), name: 'nightly' }, { cronline: '0 2 * * *' }],
    ['TEAM_PIPELINE_CREATED', { type: 'TeamPipeline', uuid: uid('team-pipeline', 'web') }, { access_level: 'BUILD_AND_READ' }],
  ];
  iac.forEach(([type, subject, data], i) => {
    const t = apply + i * 3_000;
    tl.add(t, audit({ at: t, type, actor: terraform, subject, data, ip: tfIp, seq: i }));
  });
  const rotate = DAY0 + 14 * HOUR + 30 * MINUTE;
  tl.add(rotate, audit({ at: rotate, type: 'SECRET_VALUE_UPDATED', actor: terraform, subject: { type: 'Secret', uuid: secret('DOCKER_PASSWORD').uuid, name: 'DOCKER_PASSWORD' }, ip: tfIp }));
  // People doing ordinary things from their usual networks.
  const janeAt = DAY0 + 9 * HOUR + 40 * MINUTE;
  tl.add(janeAt, audit({ at: janeAt, type: 'ORGANIZATION_INVITATION_CREATED', actor: jane, subject: { type: 'OrganizationInvitation', uuid: uid('invite', 'today') }, ip: '86.1.77.23' }));
  const bobAt = DAY0 + 11 * HOUR;
  tl.add(bobAt, audit({ at: bobAt, type: 'USER_TOTP_ACTIVATED', actor: bob, subject: { type: 'TOTP', uuid: uid('totp', 'bob') }, ip: '73.1.20.5' }));
  tl.add(
    bobAt + 10 * MINUTE,
    audit({ at: bobAt + 10 * MINUTE, type: 'ORGANIZATION_BANNER_UPDATED', actor: bob, subject: { type: 'OrganizationBanner', uuid: uid('banner', 'main') }, ip: '73.1.20.5', seq: 99 }),
  );
}

/** The attack, woven into the same day. */
function attack(tl: Timeline): void {
  const t = (hh: number, mm: number, ss = 0): number => DAY0 + hh * HOUR + mm * MINUTE + ss * 1000;
  const rogue = (n: number): AgentRef => ({ uuid: uid('agent', 'rogue', String(n)), name: `rogue-${n}`, ip: n === 0 ? ATTACKER_IP : `185.220.101.${(n % 250) + 1}`, hostname: `rogue-${n}` });
  // The leaked ci-linux token is used from the attacker's network.
  tl.add(t(10, 0), agentConnected({ at: t(10, 0), agent: rogue(0), token: ciToken }));
  // They try the prod cluster token too; its allow-list blocks them.
  tl.add(t(10, 1), registrationBlocked({ at: t(10, 1), blockedIp: ATTACKER_IP, clusterToken: prodClusterToken }));
  // 200 registrations in ten minutes.
  for (let i = 1; i <= 200; i++) tl.add(t(10, 3, i * 3), agentConnected({ at: t(10, 3, i * 3), agent: rogue(i), token: ciToken }));
  // Jane's stolen session edits the web pipeline from the attacker's network...
  tl.add(
    t(10, 20),
    audit({ at: t(10, 20), type: 'PIPELINE_UPDATED', actor: jane, subject: { type: 'Pipeline', uuid: pipelines.web.uuid, name: 'web' }, data: { steps: 'added step "diagnostics"' }, ip: ATTACKER_IP }),
  );
  // ...whose new step, running on a rogue agent, sweeps the cluster's secrets.
  SWEEP.forEach((key, i) => {
    tl.add(t(10, 25, i * 15), secretRead({ at: t(10, 25, i * 15), secret: secret(key), pipeline: pipelines.web, ip: '185.220.101.77', seq: 9000 + i }));
  });
  // They keep a way back in: an outside address invited as organization admin.
  tl.add(
    t(10, 35),
    audit({
      at: t(10, 35),
      type: 'ORGANIZATION_INVITATION_CREATED',
      actor: jane,
      subject: { type: 'OrganizationInvitation', uuid: uid('invite', 'attacker') },
      data: { email: 'ci-ops-backup@proton.me', role: 'admin' },
      ip: ATTACKER_IP,
    }),
  );
  // Then they blind the monitoring.
  tl.add(t(10, 40), audit({ at: t(10, 40), type: 'NOTIFICATION_SERVICE_DISABLED', actor: jane, subject: eventBridgeService, data: { provider: 'amazon_eventbridge' }, ip: ATTACKER_IP }));
}

export const SCENARIO_CONFIG = {
  detectors: {
    'break-glass-edit': { iacActors: [{ uuid: terraform.uuid, note: terraform.name }] },
    'secret-access': { secretWriters: [{ uuid: terraform.uuid, note: terraform.name }] },
  },
};

export interface Scenarios {
  readonly benign: Envelope[];
  readonly attack: Envelope[];
}

export function scenarios(): Scenarios {
  const make = (withAttack: boolean): Envelope[] => {
    agentCounter = 0;
    for (const k of Object.keys(buildNumbers)) buildNumbers[k] = { web: 1200, api: 800, deploy: 300 }[k as keyof typeof pipelines];
    const rand = prng(20260310);
    const tl = new Timeline();
    history(tl, rand);
    benignDay(tl, rand);
    if (withAttack) attack(tl);
    return tl.sorted();
  };
  return { benign: make(false), attack: make(true) };
}

export type { Envelope } from '../detections/builders.ts';
export const ORG_SLUG = DEFAULT_ORG.slug;

/** The demo runs with the scenario's config: the IaC identity, and containment in dry-run. */
export const DEMO_CONFIG = SCENARIO_CONFIG;
