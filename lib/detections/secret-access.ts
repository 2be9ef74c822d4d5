/**
 * secret-access: Buildkite secret reads that break the reader's pattern, and secret changes by
 * unexpected actors.
 *
 * Buildkite does not document the payload of its secret audit events. Assumed (and parsed
 * defensively): subject_type "Secret", subject_uuid the secret, subject_name its key; `data`
 * may name the pipeline the read was for (`pipeline_uuid`/`pipeline_slug`, `pipeline_id`, or
 * `pipeline: {uuid, slug}`). The reader is that pipeline when named, else the actor; a read
 * with neither is counted for nobody.
 *
 * Rules:
 * - new secret: a reader past its learning period reads a secret it has not read in
 *   `memoryDays` (Medium; the secret is the target, the reader related). One incident per
 *   reader: every further new secret it reads while the incident is open is added to the
 *   finding (an Update), so a low-and-slow sweep names every secret;
 * - sweep: `sweepDistinctSecrets` distinct secrets read by one reader inside
 *   `sweepWindowMinutes` (High; the reader is the target, the secrets implicated), unless
 *   - the reader is declared in `secretReaders` (a rotation or backup identity), or
 *   - it is the reader's rhythm: every secret of the burst was already known to it, and on an
 *     earlier day (in the last 14) it read a burst of a similar size (at least half as many
 *     secrets) at a similar time of day (within 2 h). A nightly job reading the same 12 secrets
 *     is quiet from its second night; the same job reading a secret it never read, or
 *     sweeping at noon, or twice as many, is not;
 * - change: SECRET_VALUE_UPDATED / SECRET_DELETED (High) and SECRET_UPDATED (policy or
 *   description, Medium) by an actor not in `secretWriters`.
 * - enumeration: `enumerationQueries` SECRET_QUERIED events by one reader inside
 *   `enumerationWindowMinutes`, whatever the secrets (High; the reader is the target).
 * - outside IaC: SECRET_CREATED (Medium), and TEAM_SECRET_CREATED / TEAM_SECRET_UPDATED (a team
 *   given access to a secret, High / Medium) by an actor not in `secretWriters`. The team-secret
 *   payload is not documented: the secret is read from `data` (`secret_uuid`, `secret: {uuid, key}`)
 *   and the team from `team_uuid` / `team: {uuid, slug}`.
 */
import type { EntityType, FindingResource } from '../findings/contract.ts';
import type { OcsfEvent, SeverityId } from '../ocsf/types.ts';
import type { SecretAccessConfig } from './config.ts';
import { actorLabel, actorOf, auditOf, evidenceOf, IdentitySet, isAuditEvent, perConfig, res, type AuditInfo } from './entities.ts';
import type { DetectContext, Detector, EvidenceRef, FindingDraft } from './types.ts';

const DAY = 86_400;
const READS = new Set(['SECRET_READ', 'SECRET_QUERIED']);
// A Map: audit types are input, and `constructor` must not find Object.prototype's members.
const CHANGES: ReadonlyMap<string, { severity: SeverityId; verb: string }> = new Map([
  ['SECRET_VALUE_UPDATED', { severity: 4, verb: 'value replaced' }],
  ['SECRET_DELETED', { severity: 4, verb: 'deleted' }],
  ['SECRET_UPDATED', { severity: 3, verb: 'settings (description or access policy) changed' }],
  ['SECRET_CREATED', { severity: 3, verb: 'created' }],
]);
/** A team given access to a secret. */
const TEAM_GRANTS: ReadonlyMap<string, { severity: SeverityId; verb: string }> = new Map([
  ['TEAM_SECRET_CREATED', { severity: 4, verb: 'granted to team' }],
  ['TEAM_SECRET_UPDATED', { severity: 3, verb: 'team access changed for team' }],
]);
/** Secrets remembered per reader; the oldest are forgotten first. */
const SECRETS_CAP = 500;

const writers = perConfig((c: SecretAccessConfig) => new IdentitySet(c.secretWriters));
const readers = perConfig((c: SecretAccessConfig) => new Set(c.secretReaders.map((r) => (typeof r === 'string' ? r : r.uuid).toLowerCase())));

/** Past bursts remembered per reader, and how far back they count as its rhythm. */
const RHYTHM_DAYS = 14;
/** A burst within this much of the same time of day as a past one matches its rhythm. */
const RHYTHM_SLACK = 2 * 3600;

interface Reader {
  readonly type: EntityType;
  readonly uid: string;
  readonly name: string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The pipeline named in a secret event's data, in any of the plausible spellings. */
function pipelineOf(data: Record<string, unknown> | undefined): { uid: string; name: string | undefined } | undefined {
  if (data === undefined) return undefined;
  const nested = typeof data['pipeline'] === 'object' && data['pipeline'] !== null ? (data['pipeline'] as Record<string, unknown>) : undefined;
  const uid = str(data['pipeline_uuid']) ?? str(data['pipeline_id']) ?? str(nested?.['uuid']) ?? str(nested?.['id']);
  const name = str(data['pipeline_slug']) ?? str(nested?.['slug']) ?? str(nested?.['name']);
  if (uid !== undefined) return { uid, name };
  return name !== undefined ? { uid: name, name } : undefined;
}

function readerOf(event: OcsfEvent, audit: AuditInfo): Reader | undefined {
  const pipeline = pipelineOf(audit.data);
  if (pipeline !== undefined) return { type: 'Pipeline', uid: pipeline.uid, name: pipeline.name };
  const actor = actorOf(event);
  if (actor?.uid !== undefined) return { type: 'Actor', uid: actor.uid, name: actor.name };
  return undefined;
}

function readerText(r: Reader): string {
  const label = r.type === 'Pipeline' ? 'Pipeline' : 'Actor';
  return r.name !== undefined && r.name !== r.uid ? `${label} "${r.name}"` : `${label} ${r.uid}`;
}

/** Per reader: first seen, last read (event seconds) per secret, and past bursts [event seconds, distinct secrets]. */
interface Known {
  f: number;
  s: Record<string, number>;
  b?: Array<[number, number]>;
}

/** Recent reads of one reader: [secret uid, secret key, event seconds, event uid, ip, 1 when the secret was already known to the reader]. */
interface Recent {
  r: Array<[string, string, number, string, string, number?]>;
}

/** Seconds between two times of day, the short way round midnight. */
function timeOfDayGap(a: number, b: number): number {
  const d = Math.abs((a % DAY) - (b % DAY));
  return Math.min(d, DAY - d);
}

/** A burst the reader has made before: an earlier day, a similar time of day, at least half the size. */
function isRhythm(bursts: readonly [number, number][] | undefined, now: number, size: number): boolean {
  return (bursts ?? []).some(([t, n]) => now - t >= DAY / 2 && now - t <= RHYTHM_DAYS * DAY && timeOfDayGap(now, t) <= RHYTHM_SLACK && n * 2 >= size);
}

/** Records the burst: one entry per day (the largest), the last RHYTHM_DAYS days. */
function recordBurst(known: Known, now: number, size: number): boolean {
  const bursts = (known.b ?? []).filter(([t]) => now - t <= RHYTHM_DAYS * DAY);
  const today = bursts.find(([t]) => now - t < DAY / 2);
  if (today !== undefined && today[1] >= size) return false;
  if (today !== undefined) today[1] = size;
  else bursts.push([now, size]);
  known.b = bursts;
  return true;
}

async function onRead(event: OcsfEvent, ctx: DetectContext<SecretAccessConfig>, audit: AuditInfo): Promise<FindingDraft[]> {
  const reader = readerOf(event, audit);
  const secretUid = audit.subjectUuid ?? audit.subjectName;
  if (reader === undefined || secretUid === undefined) return [];
  const secretName = audit.subjectName;
  const { config, state, now } = ctx;
  const memory = config.memoryDays * DAY;
  const out: FindingDraft[] = [];
  const readerKey = `${reader.type}:${reader.uid}`;
  const readerRes = (role: 'target' | 'related'): FindingResource => res(reader.type, reader.uid, role, reader.name);
  const secretText = secretName !== undefined ? `"${secretName}"` : secretUid;

  // New secret for this reader.
  const kKnown = `sec:known:${readerKey}`;
  const known = (await state.get<Known>(kKnown))?.value ?? { f: now, s: {} };
  const retention = memory + config.learningPeriodHours * 3600;
  const last = known.s[secretUid];
  const isNew = last === undefined || now - last > memory;
  if (Object.keys(known.s).length === 0) {
    known.s[secretUid] = now;
    await state.put<Known>(kKnown, known, { expiresAt: ctx.expiresAt(retention) });
  } else {
    const learning = now - known.f < config.learningPeriodHours * 3600;
    if (isNew && !learning) {
      const usual = Object.keys(known.s).length;
      out.push({
        dedupKey: `new:${readerKey}`,
        title: `${readerText(reader)} read secret ${secretText}, which it has never read before`,
        desc:
          `${readerText(reader)} read the Buildkite secret ${secretText} (${audit.type}). In the last ${config.memoryDays} days it read ${usual} other secret(s), never this one. ` +
          'A compromised pipeline step or account reaching for credentials it does not need looks like this; so does a pipeline change that adds a secret.',
        severity: 3,
        confidence: 2,
        resources: [res('Secret', secretUid, 'target', secretName), readerRes('related')],
        evidences: [evidenceOf(event)],
        firstSeen: event.time,
        lastSeen: event.time,
        type: 'Unusual Secret Access',
        data: { rule: 'new-secret', reader: readerKey, known_secrets: usual },
      });
    }
    if (last === undefined || now - last > DAY) {
      known.s[secretUid] = now;
      const entries = Object.entries(known.s);
      if (entries.length > SECRETS_CAP) {
        entries.sort((a, b) => b[1] - a[1]);
        known.s = Object.fromEntries(entries.slice(0, SECRETS_CAP));
      }
      await state.put<Known>(kKnown, known, { expiresAt: ctx.expiresAt(retention) });
    }
  }

  // Sweep: many distinct secrets in a short window.
  const windowSeconds = config.sweepWindowMinutes * 60;
  const kRecent = `sec:recent:${readerKey}`;
  const recent = (await state.get<Recent>(kRecent))?.value ?? { r: [] };
  recent.r = recent.r.filter((r) => Math.abs(now - r[2]) <= windowSeconds);
  recent.r.unshift([secretUid, secretName ?? '', now, event.metadata.uid, event.src_endpoint?.ip ?? '', isNew ? 0 : 1]);
  const distinct = new Map<string, string>();
  for (const [uid, name] of recent.r) if (!distinct.has(uid)) distinct.set(uid, name);
  // Bound the item: enough reads to prove the sweep, no more.
  if (recent.r.length > config.sweepDistinctSecrets * 4) recent.r.length = config.sweepDistinctSecrets * 4;
  await state.put<Recent>(kRecent, recent, { expiresAt: ctx.expiresAt(windowSeconds * 2) });
  if (distinct.size >= config.sweepDistinctSecrets) {
    const routine = recent.r.every((r) => r[5] === 1) && isRhythm(known.b, now, distinct.size);
    if (recordBurst(known, now, distinct.size)) await state.put<Known>(kKnown, known, { expiresAt: ctx.expiresAt(retention) });
    const actor = actorOf(event);
    const declared = readers(config);
    if (routine || declared.has(reader.uid.toLowerCase()) || (actor?.uid !== undefined && declared.has(actor.uid.toLowerCase()))) return out;
    const evidences: EvidenceRef[] = recent.r.map(([, name, t, uid, ip]) =>
      uid === event.metadata.uid ? evidenceOf(event) : { uid, time: t * 1000, typeUid: event.type_uid, code: audit.type, message: `secret read: ${name}`, ...(ip ? { ip } : {}) },
    );
    const first = Math.min(...recent.r.map((r) => r[2])) * 1000;
    const resources: FindingResource[] = [readerRes('target')];
    for (const [uid, name] of distinct) resources.push(res('Secret', uid, 'implicated', name || undefined));
    if (reader.type === 'Pipeline' && actor?.uid !== undefined) resources.push(res('Actor', actor.uid, 'related', actor.name));
    out.push({
      dedupKey: `sweep:${readerKey}`,
      title: `${readerText(reader)} read ${distinct.size} different secrets in ${config.sweepWindowMinutes} minutes`,
      desc:
        `${readerText(reader)} read ${distinct.size} distinct Buildkite secrets within ${config.sweepWindowMinutes} minutes (threshold ${config.sweepDistinctSecrets}): ${[...distinct.values()].filter((n) => n !== '').join(', ')}. ` +
        'Credential harvesting by a compromised job or account looks like this.',
      severity: 4,
      confidence: 3,
      resources,
      evidences,
      eventCount: recent.r.length,
      firstSeen: first,
      lastSeen: event.time,
      type: 'Secret Sweep',
      data: { rule: 'sweep', reader: readerKey, distinct_secrets: distinct.size, threshold: config.sweepDistinctSecrets },
    });
  }
  return out;
}

function onChange(event: OcsfEvent, ctx: DetectContext<SecretAccessConfig>, audit: AuditInfo): FindingDraft[] {
  const change = CHANGES.get(audit.type);
  const secretUid = audit.subjectUuid ?? audit.subjectName;
  if (change === undefined || secretUid === undefined) return [];
  const actor = actorOf(event);
  if (writers(ctx.config).has(actor)) return [];
  const secretText = audit.subjectName !== undefined ? `"${audit.subjectName}"` : secretUid;
  const resources: FindingResource[] = [res('Secret', secretUid, 'target', audit.subjectName)];
  if (actor?.uid !== undefined) resources.push(res('Actor', actor.uid, 'related', actor.name));
  return [
    {
      dedupKey: `change:${secretUid}:${actor?.uid ?? actor?.name ?? ''}:${audit.type}`,
      title: `Secret ${secretText} ${change.verb} by ${actorLabel(actor)}, who is not an expected secret writer`,
      desc:
        `${actorLabel(actor)} made ${audit.type} on the Buildkite secret ${secretText}; ${actor === undefined ? 'no actor was recorded' : 'this actor is not in detectors.secret-access.secretWriters'}. ` +
        'Replacing a secret lets an attacker capture what uses it (e.g. a deploy key pointing at their host); deleting it breaks builds.',
      severity: change.severity,
      confidence: 2,
      resources,
      evidences: [evidenceOf(event)],
      firstSeen: event.time,
      lastSeen: event.time,
      type: 'Unexpected Secret Change',
      data: { rule: 'change', audit_type: audit.type },
    },
  ];
}

/** Recent SECRET_QUERIED of one reader: [event seconds, event uid, ip]. */
interface Queries {
  q: Array<[number, string, string]>;
}

async function onQuery(event: OcsfEvent, ctx: DetectContext<SecretAccessConfig>, audit: AuditInfo): Promise<FindingDraft[]> {
  const reader = readerOf(event, audit);
  if (reader === undefined) return [];
  const { config, state, now } = ctx;
  const windowSeconds = config.enumerationWindowMinutes * 60;
  const readerKey = `${reader.type}:${reader.uid}`;
  const k = `sec:queries:${readerKey}`;
  const item = (await state.get<Queries>(k))?.value ?? { q: [] };
  item.q = item.q.filter((x) => Math.abs(now - x[0]) <= windowSeconds && x[1] !== event.metadata.uid);
  item.q.unshift([now, event.metadata.uid, event.src_endpoint?.ip ?? '']);
  if (item.q.length > config.enumerationQueries) item.q.length = config.enumerationQueries;
  await state.put<Queries>(k, item, { expiresAt: ctx.expiresAt(windowSeconds * 2) });
  if (item.q.length < config.enumerationQueries) return [];
  const evidences: EvidenceRef[] = item.q.map(([t, uid, ip]) =>
    uid === event.metadata.uid ? evidenceOf(event) : { uid, time: t * 1000, typeUid: event.type_uid, code: audit.type, message: 'secrets queried', ...(ip ? { ip } : {}) },
  );
  const resources: FindingResource[] = [res(reader.type, reader.uid, 'target', reader.name)];
  const actor = actorOf(event);
  if (reader.type === 'Pipeline' && actor?.uid !== undefined) resources.push(res('Actor', actor.uid, 'related', actor.name));
  return [
    {
      dedupKey: `enumeration:${readerKey}`,
      title: `${readerText(reader)} queried secrets ${item.q.length} times in ${config.enumerationWindowMinutes} minutes`,
      desc:
        `${readerText(reader)} made ${item.q.length} SECRET_QUERIED requests within ${config.enumerationWindowMinutes} minutes (threshold ${config.enumerationQueries}). ` +
        'Listing secrets over and over is how an intruder maps what credentials exist before reading them.',
      severity: 4,
      confidence: 2,
      resources,
      evidences,
      eventCount: item.q.length,
      firstSeen: Math.min(...item.q.map((x) => x[0])) * 1000,
      lastSeen: event.time,
      type: 'Secret Enumeration',
      data: { rule: 'enumeration', reader: readerKey, queries: item.q.length, threshold: config.enumerationQueries },
    },
  ];
}

const obj = (v: unknown): Record<string, unknown> | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined);

function onTeamGrant(event: OcsfEvent, ctx: DetectContext<SecretAccessConfig>, audit: AuditInfo): FindingDraft[] {
  const grant = TEAM_GRANTS.get(audit.type);
  if (grant === undefined) return [];
  const actor = actorOf(event);
  if (writers(ctx.config).has(actor)) return [];
  const secret = obj(audit.data?.['secret']);
  const team = obj(audit.data?.['team']);
  const secretUid = str(audit.data?.['secret_uuid']) ?? str(secret?.['uuid']);
  const secretKey = str(audit.data?.['secret_key']) ?? str(secret?.['key']) ?? str(secret?.['name']);
  const teamUid = str(audit.data?.['team_uuid']) ?? str(team?.['uuid']);
  const teamName = str(audit.data?.['team_slug']) ?? str(team?.['slug']) ?? str(team?.['name']);
  const resources: FindingResource[] = [];
  if (secretUid !== undefined) resources.push(res('Secret', secretUid, 'target', secretKey));
  if (actor?.uid !== undefined) resources.push(res('Actor', actor.uid, resources.length === 0 ? 'target' : 'related', actor.name));
  if (resources.length === 0) return [];
  const secretText = secretKey !== undefined ? `"${secretKey}"` : (secretUid ?? audit.subjectName ?? 'a secret');
  const teamText = teamName !== undefined ? `"${teamName}"` : (teamUid ?? 'a team');
  return [
    {
      dedupKey: `team:${secretUid ?? audit.subjectUuid ?? ''}:${teamUid ?? ''}:${actor?.uid ?? ''}`,
      title: `Secret ${secretText} ${grant.verb} ${teamText} by ${actorLabel(actor)}, who is not an expected secret writer (${audit.type})`,
      desc:
        `${actorLabel(actor)} made ${audit.type}: the team ${teamText} ${audit.type === 'TEAM_SECRET_CREATED' ? 'can now use' : 'had its access changed to'} the Buildkite secret ${secretText}. ` +
        `${actor === undefined ? 'No actor was recorded.' : 'This actor is not in detectors.secret-access.secretWriters.'} Granting a team a secret lets every pipeline of that team read it.`,
      severity: grant.severity,
      confidence: 2,
      resources,
      evidences: [evidenceOf(event)],
      firstSeen: event.time,
      lastSeen: event.time,
      type: 'Secret Access Granted',
      data: { rule: 'team-grant', audit_type: audit.type, secret_uuid: secretUid, team_uuid: teamUid, team: teamName, subject_uid: audit.subjectUuid },
    },
  ];
}

export const secretAccess: Detector<SecretAccessConfig> = {
  meta: {
    id: 'secret-access',
    title: 'Unusual secret access',
    description:
      "Secret reads that break the reader's pattern (a secret never read before, many distinct secrets in a short window), bursts of secret queries (enumeration), and secrets created, changed or granted to a team by unexpected actors.",
    severity: 4,
    severityNotes: 'High for sweeps, enumeration, value changes, deletions and team grants; Medium for a single new secret, a secret created, or a settings change.',
    analyticType: 2,
    attacks: [
      {
        tactic: { uid: 'TA0006', name: 'Credential Access' },
        technique: { uid: 'T1555', name: 'Credentials from Password Stores' },
        sub_technique: { uid: 'T1555.006', name: 'Cloud Secrets Management Stores' },
      },
    ],
    types: ['Credential Access'],
    defaultThresholds: 'learning 24 h per reader; secrets remembered 90 days; sweep = 10 distinct secrets in 10 min; enumeration = 25 SECRET_QUERIED in 10 min; dedup 60 min',
    recommendedContainment: "Rotate the secret(s): the target of a new-secret or change finding, the implicated secrets of a sweep. Sweep by an actor: review the actor's sessions and tokens.",
    runbook: {
      check: [
        'Which job, build and agent made the read (evidence time and IP; Buildkite job logs around that time)?',
        'Did a recent pipeline change add the secret legitimately (pipeline.yml `secrets:` or `buildkite-agent secret get`)?',
        'For a sweep: is the reader a person or a job? Secrets are normally read by jobs, one set per pipeline.',
        'For a change: who is expected to rotate this secret, and was a rotation scheduled?',
      ],
      act: [
        'Rotate every secret named in the finding at its source (the service it grants access to), then update it in Buildkite.',
        'If a job read it: find the commit that introduced the step and who pushed it; cancel running builds of that pipeline.',
        'If a person read it: suspend their sessions and API tokens until confirmed.',
        'Expected: add the rotation identity to detectors.secret-access.secretWriters.',
      ],
    },
    targets: ['Secret', 'Pipeline', 'Actor'],
  },

  accepts(event) {
    const code = event.metadata.event_code ?? '';
    return isAuditEvent(event) && (code.startsWith('SECRET_') || TEAM_GRANTS.has(code));
  },

  async detect(event, ctx) {
    const audit = auditOf(event);
    if (audit === undefined) return [];
    if (audit.type === 'SECRET_QUERIED') return [...(await onRead(event, ctx, audit)), ...(await onQuery(event, ctx, audit))];
    if (READS.has(audit.type)) return onRead(event, ctx, audit);
    if (TEAM_GRANTS.has(audit.type)) return onTeamGrant(event, ctx, audit);
    return onChange(event, ctx, audit);
  },
};
