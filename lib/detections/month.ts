/**
 * A realistic month of a larger organization, with attacks woven in: the precision and recall
 * fixture of `npm run bench` and of test/detections/month.test.ts. Written from a
 * description of a real org, not from the detectors (so it cannot flatter them):
 * - three agent fleets: us-east-1 (autoscales 100 agents within 5 minutes every morning),
 *   eu-west-1 (moves to eu-central-1 on day 14, acknowledged in config as a change would be),
 *   GCP us-central1; every fleet churns IPs all day;
 * - 50 pipelines, each reading its own 2 or 3 secrets on every build, 3 to 6 builds a day;
 * - a nightly rotation identity reading 12 secrets (declared in secretReaders), a nightly
 *   backup pipeline reading 8 (undeclared: its rhythm is learned), Terraform applying pipeline
 *   changes (declared in iacActors), engineers reading a secret now and then from home.
 * A 14-day warm-up comes first (Kitewatch was deployed before the month being measured): the
 * detectors' learning periods and baselines. Findings are counted in the month only.
 */
import { agentConnected, audit, ms, prng, secretRead, uid, type Envelope } from './builders.ts';
import type { EntityType } from '../findings/contract.ts';

const DAY_MS = 86_400_000;
export const MONTH_START = ms('2026-05-01T00:00:00Z');
export const WARMUP_DAYS = 14;
export const MONTH_DAYS = 30;

const tokens = {
  use1: { uuid: uid('month', 'token', 'linux-us-east-1'), description: 'linux-us-east-1' },
  euw1: { uuid: uid('month', 'token', 'linux-eu'), description: 'linux-eu' },
  gcp: { uuid: uid('month', 'token', 'gcp-us-central1'), description: 'gcp-us-central1' },
};
const rotator = { uuid: uid('month', 'user', 'secret-rotator'), name: 'secret-rotator' };
const terraform = { uuid: uid('month', 'user', 'terraform'), name: 'terraform-cloud' };
const engineers = Array.from({ length: 12 }, (_, i) => ({ uuid: uid('month', 'user', `eng-${i}`), name: `Engineer ${i}` }));
const pipelines = Array.from({ length: 50 }, (_, i) => ({ uuid: uid('month', 'pipeline', `p${i}`), slug: `service-${i}` }));
const secret = (key: string) => ({ uuid: uid('month', 'secret', key), key });
const rotated = Array.from({ length: 12 }, (_, i) => `ROTATED_${i}`);
const backup = { uuid: uid('month', 'pipeline', 'nightly-backup'), slug: 'nightly-backup' };
const backedUp = Array.from({ length: 8 }, (_, i) => `BACKUP_${i}`);

/** The config an operator of this org would have: IaC and rotation identities declared, the region move acknowledged. */
export const MONTH_CONFIG = {
  detectors: {
    'secret-access': { secretReaders: [{ uuid: rotator.uuid, note: 'nightly rotation job' }], secretWriters: [rotator.uuid, terraform.uuid] },
    'break-glass-edit': { iacActors: [{ uuid: terraform.uuid, note: 'Terraform Cloud' }] },
    'unusual-ip': { acknowledged: [{ entity: tokens.euw1.uuid, networks: ['DE', 'aws:eu-central-1'], note: 'EU fleet moved to Frankfurt (change CHG-2041)' }] },
  },
};

export interface PlantedAttack {
  readonly name: string;
  readonly detector: string;
  readonly target: { readonly type: EntityType; readonly uid: string };
  /** Epoch ms the attack starts. */
  readonly start: number;
}

/** Address of agent `i` of a fleet on day `d`, in its cloud region's ranges. */
function fleetIp(fleet: 'use1' | 'euw1' | 'fra' | 'gcp', d: number, i: number): string {
  const x = (d * 37 + i * 11) % 250;
  const y = (i * 7 + d) % 250;
  switch (fleet) {
    case 'use1':
      return `3.${80 + (i % 12)}.${x}.${y + 1}`;
    case 'euw1':
      return `34.${240 + (i % 12)}.${x}.${y + 1}`;
    case 'fra':
      return `35.156.${x}.${y + 1}`;
    case 'gcp':
      return `34.${16 + (i % 8)}.${x}.${y + 1}`;
  }
}

export interface Month {
  readonly events: Envelope[];
  readonly attacks: PlantedAttack[];
  /** Index of the first event of the measured month (events before it are the warm-up). */
  readonly monthStartIndex: number;
}

const at = (day: number, seconds: number): number => MONTH_START + (day - WARMUP_DAYS) * DAY_MS + Math.round(seconds * 1000);

/** Benign traffic of one day (day 0 is the first warm-up day). */
function benignDay(day: number, rnd: () => number): Envelope[] {
  const out: Envelope[] = [];
  // Fleets: two agents every 30 minutes each; the EU fleet in Frankfurt from day WARMUP_DAYS + 14.
  const eu = day >= WARMUP_DAYS + 14 ? 'fra' : 'euw1';
  for (let slot = 0; slot < 48; slot++) {
    for (let i = 0; i < 2; i++) {
      const n = slot * 2 + i;
      out.push(
        agentConnected({
          at: at(day, slot * 1800 + i * 90 + rnd() * 60),
          agent: { uuid: uid('month', 'agent', 'use1', String(day), String(n)), name: `use1-${day}-${n}`, ip: fleetIp('use1', day, n) },
          token: tokens.use1,
        }),
      );
      out.push(
        agentConnected({
          at: at(day, slot * 1800 + i * 90 + 300 + rnd() * 60),
          agent: { uuid: uid('month', 'agent', eu, String(day), String(n)), name: `${eu}-${day}-${n}`, ip: fleetIp(eu, day, n) },
          token: tokens.euw1,
        }),
      );
      out.push(
        agentConnected({
          at: at(day, slot * 1800 + i * 90 + 600 + rnd() * 60),
          agent: { uuid: uid('month', 'agent', 'gcp', String(day), String(n)), name: `gcp-${day}-${n}`, ip: fleetIp('gcp', day, n) },
          token: tokens.gcp,
        }),
      );
    }
  }
  // The us-east-1 fleet's morning scale-out: 100 agents within 5 minutes around 07:55-08:10.
  const morning = 7.9 * 3600 + rnd() * 900;
  for (let i = 0; i < 100; i++) {
    out.push(
      agentConnected({
        at: at(day, morning + i * 3),
        agent: { uuid: uid('month', 'agent', 'am', String(day), String(i)), name: `am-${day}-${i}`, ip: fleetIp('use1', day, 100 + i) },
        token: tokens.use1,
      }),
    );
  }
  // Builds: each pipeline 3-6 times between 08:00 and 19:00, reading its own secrets.
  for (const [p, pipeline] of pipelines.entries()) {
    const builds = 3 + Math.floor(rnd() * 4);
    const own = Array.from({ length: 2 + (p % 2) }, (_, k) => `${pipeline.slug.toUpperCase().replaceAll('-', '_')}_SECRET_${k}`);
    for (let b = 0; b < builds; b++) {
      const t = 8 * 3600 + rnd() * 11 * 3600;
      for (const [k, key] of own.entries()) out.push(secretRead({ at: at(day, t + k * 2), secret: secret(key), pipeline, ip: fleetIp('use1', day, 300 + p), seq: day * 1000 + b * 10 + k }));
    }
  }
  // Nightly rotation (declared) and backup (learned) around 02:00 and 03:00.
  const night = 2 * 3600 + rnd() * 1200;
  for (const [k, key] of rotated.entries()) out.push(secretRead({ at: at(day, night + k * 15), secret: secret(key), actor: rotator, ip: fleetIp('use1', day, 400), seq: day * 1000 + 500 + k }));
  const nightB = 3 * 3600 + rnd() * 1200;
  for (const [k, key] of backedUp.entries()) out.push(secretRead({ at: at(day, nightB + k * 20), secret: secret(key), pipeline: backup, ip: fleetIp('use1', day, 401), seq: day * 1000 + 600 + k }));
  // Terraform applies (declared IaC) a few pipeline changes on weekdays.
  if (day % 7 < 5) {
    for (let c = 0; c < 4; c++) {
      const p = pipelines[Math.floor(rnd() * pipelines.length)] as (typeof pipelines)[number];
      out.push(
        audit({
          at: at(day, 10 * 3600 + c * 600 + rnd() * 300),
          type: 'PIPELINE_UPDATED',
          actor: terraform,
          subject: { type: 'Pipeline', uuid: p.uuid, name: p.slug },
          ip: '3.90.1.1',
          seq: day * 100 + c,
        }),
      );
    }
  }
  // Engineers read their team's secret now and then, from home (GB broadband).
  for (const [e, eng] of engineers.entries()) {
    if (rnd() < 0.3) {
      out.push(secretRead({ at: at(day, 9 * 3600 + rnd() * 8 * 3600), secret: secret(`TEAM_${e % 4}_SECRET`), actor: eng, ip: `86.1.${e}.${10 + (day % 5)}`, seq: day * 1000 + 800 + e }));
    }
  }
  // Engineer 3 reads the team secret through the API with a token every other day.
  if (day % 2 === 0) out.push(apiRead(at(day, 12 * 3600 + rnd() * 600), engineers[3] as (typeof engineers)[number], `86.1.3.${10 + (day % 5)}`, day));
  return out;
}

const ENGINEER_API_TOKEN = uid('month', 'api-token', 'eng-3-cli');

/** A secret read through the REST API with engineer 3's API access token. */
function apiRead(t: number, eng: { uuid: string; name: string }, ip: string, seq: number): Envelope {
  return audit({
    at: t,
    type: 'SECRET_READ',
    actor: eng,
    subject: { type: 'Secret', uuid: uid('month', 'secret', 'TEAM_3_SECRET'), name: 'TEAM_3_SECRET' },
    ip,
    via: { apiToken: ENGINEER_API_TOKEN },
    seq: 7000 + seq,
  });
}

/** The attacks, woven into the month at fixed days. */
function attacks(): { events: Envelope[]; planted: PlantedAttack[] } {
  const events: Envelope[] = [];
  const planted: PlantedAttack[] = [];
  const day = (d: number) => WARMUP_DAYS + d;
  // 1. The us-east-1 token leaked: agents registering from a hosting network abroad.
  {
    const start = at(day(3), 14 * 3600);
    for (let i = 0; i < 20; i++)
      events.push(agentConnected({ at: start + i * 20_000, agent: { uuid: uid('month', 'agent', 'rogue', String(i)), name: `rogue-${i}`, ip: `185.220.101.${10 + i}` }, token: tokens.use1 }));
    planted.push({ name: 'leaked agent token used from a new network', detector: 'unusual-ip', target: { type: 'AgentToken', uid: tokens.use1.uuid }, start });
  }
  // 2. The EU fleet's token used from AWS Singapore (same ASN as eu-west-1, new country and region).
  {
    const start = at(day(6), 11 * 3600);
    for (let i = 0; i < 3; i++)
      events.push(agentConnected({ at: start + i * 60_000, agent: { uuid: uid('month', 'agent', 'sg', String(i)), name: `sg-${i}`, ip: `52.220.${i}.${i + 5}` }, token: tokens.euw1 }));
    planted.push({ name: 'eu-west-1 agent token used from AWS Singapore', detector: 'unusual-ip', target: { type: 'AgentToken', uid: tokens.euw1.uuid }, start });
  }
  // 3. An engineer's API token (named as GraphQL's AuditAPIContext names it) used from a new country.
  {
    const eng = engineers[3] as (typeof engineers)[number];
    const start = at(day(9), 13 * 3600);
    events.push(apiRead(start, eng, '185.220.101.99', 7999));
    planted.push({ name: 'API token used from a new country', detector: 'unusual-ip', target: { type: 'ApiToken', uid: ENGINEER_API_TOKEN }, start });
  }
  // 4. Low-and-slow sweep: the backup pipeline reads a new secret every 5-7 minutes for two hours.
  {
    const start = at(day(12), 15 * 3600);
    for (let i = 0; i < 20; i++)
      events.push(secretRead({ at: start + i * 360_000 + (i % 3) * 60_000, secret: secret(`PROD_SERVICE_${i}_KEY`), pipeline: backup, ip: fleetIp('use1', day(12), 401), seq: 9000 + i }));
    planted.push({ name: 'low-and-slow secret sweep', detector: 'secret-access', target: { type: 'Secret', uid: uid('month', 'secret', 'PROD_SERVICE_0_KEY') }, start });
  }
  // 5. A 5x burst at the morning's routine time on the us-east-1 token.
  {
    const start = at(day(18), 8 * 3600 + 120);
    for (let i = 0; i < 500; i++)
      events.push(agentConnected({ at: start + i * 1000, agent: { uuid: uid('month', 'agent', 'burst', String(i)), name: `burst-${i}`, ip: fleetIp('use1', day(18), 600 + i) }, token: tokens.use1 }));
    planted.push({ name: '5x registration burst at the routine time', detector: 'token-spike', target: { type: 'AgentToken', uid: tokens.use1.uuid }, start });
  }
  // 6. An engineer's session sweeping 12 secrets in four minutes.
  {
    const eng = engineers[7] as (typeof engineers)[number];
    const start = at(day(24), 16 * 3600);
    for (let i = 0; i < 12; i++) events.push(secretRead({ at: start + i * 20_000, secret: secret(`SERVICE_${i * 4}_SECRET_0`), actor: eng, ip: '86.1.7.12', seq: 9500 + i }));
    planted.push({ name: 'secret sweep by a person', detector: 'secret-access', target: { type: 'Actor', uid: eng.uuid }, start });
  }
  return { events, planted };
}

/** Warm-up plus month, benign traffic only or with the attacks woven in; sorted by time. */
export function generateMonth(options: { attacks: boolean; seed?: number }): Month {
  const rnd = prng(options.seed ?? 12);
  const events: Envelope[] = [];
  for (let d = 0; d < WARMUP_DAYS + MONTH_DAYS; d++) events.push(...benignDay(d, rnd));
  const planted = options.attacks ? attacks() : { events: [], planted: [] };
  events.push(...planted.events);
  const time = (e: Envelope): number => ms((e as { time: string }).time);
  events.sort((a, b) => time(a) - time(b));
  const monthStartIndex = events.findIndex((e) => time(e) >= MONTH_START);
  return { events, attacks: planted.planted, monthStartIndex };
}
