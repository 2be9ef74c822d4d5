/**
 * The shape of an agent token's fleet: what its agents say about themselves (agent version,
 * hostname pattern, name pattern, meta-data tags such as `queue=`), learned per token so that the
 * token-spike response can tell burst registrations that differ from the fleet from ones that
 * look like it.
 *
 * Everything here comes from the agent, so from the attacker when the token leaked. A difference
 * is evidence; a match proves nothing (hence approval, not silence, for look-alikes). Every value
 * is bounded in length and count and has its control characters escaped, since an attacker
 * chooses them and can send as many as they like.
 */
import { escapeControls } from '../contracts/terminal.ts';
import type { OcsfEvent } from '../ocsf/types.ts';

/** What one agent reported, shaped and bounded. */
export interface AgentShape {
  /** Agent version as reported ('' when absent). */
  readonly version: string;
  /** Hostname pattern: `ip-10-0-2-73.ec2.internal` -> `ip-#-#-#-#.ec#.internal` ('' when absent). */
  readonly host: string;
  /** meta_data tags: `queue=<exact>` first, then the others as `key=<value pattern>`, sorted. */
  readonly tags: readonly string[];
}

const MAX_VALUE = 64;
const MAX_VERSION = 32;
/** Tags kept per agent; more than this is itself a difference (TOO_MANY_TAGS). */
export const MAX_AGENT_TAGS = 24;
const TOO_MANY_TAGS = `(more than ${MAX_AGENT_TAGS} tags)`;
/** Tags read from the event at most (an attacker may send thousands). */
const MAX_TAGS_READ = 200;

/** Escaped and cut to `max` characters. */
export function bounded(value: string, max = MAX_VALUE): string {
  const text = escapeControls(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A name with its numbers and hex ids blanked: `ci-linux-12` and `ci-linux-7` share `ci-linux-#`. */
export function nameShape(name: string | undefined): string {
  return bounded(
    (name ?? '')
      .slice(0, 4 * MAX_VALUE)
      .toLowerCase()
      .replace(/[0-9a-f]{6,}/g, '#')
      .replace(/\d+/g, '#'),
  );
}

function tagShape(tag: string): string {
  const eq = tag.indexOf('=');
  if (eq < 0) return nameShape(tag);
  const key = tag.slice(0, eq).trim().toLowerCase();
  // The queue decides which jobs the agent takes: compared exactly.
  const value = key === 'queue' ? bounded(tag.slice(eq + 1)) : nameShape(tag.slice(eq + 1));
  return `${bounded(key, 32)}=${value}`;
}

function agentDetail(event: OcsfEvent): Record<string, unknown> | undefined {
  const bk = (event.unmapped as { buildkite?: { agent?: unknown } } | undefined)?.buildkite?.agent;
  return typeof bk === 'object' && bk !== null ? (bk as Record<string, unknown>) : undefined;
}

/** The shape of the agent an Agent Connected event describes. */
export function agentShapeOf(event: OcsfEvent): AgentShape {
  const agent = agentDetail(event);
  const version = typeof agent?.['version'] === 'string' ? bounded(agent['version'], MAX_VERSION) : '';
  const hostname = event.src_endpoint?.hostname;
  const meta = Array.isArray(agent?.['meta_data']) ? (agent['meta_data'] as unknown[]) : [];
  const tags = new Set<string>();
  for (const m of meta.slice(0, MAX_TAGS_READ)) if (typeof m === 'string' && m !== '') tags.add(tagShape(m));
  // Queue tags first, so that a flood of other tags cannot push them out of the cap.
  const sorted = [...tags].sort();
  let list = [...sorted.filter((t) => t.startsWith('queue=')), ...sorted.filter((t) => !t.startsWith('queue='))];
  if (list.length > MAX_AGENT_TAGS || meta.length > MAX_TAGS_READ) list = [...list.slice(0, MAX_AGENT_TAGS), TOO_MANY_TAGS];
  return { version, host: typeof hostname === 'string' ? nameShape(hostname) : '', tags: list };
}

/** One roster field: JSON never holds a raw tab or newline, the roster's separators. */
export function encodeShape(shape: AgentShape): string {
  return JSON.stringify([shape.version, shape.host, shape.tags]);
}

export function decodeShape(text: string | undefined): AgentShape | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (!Array.isArray(v) || typeof v[0] !== 'string' || typeof v[1] !== 'string' || !Array.isArray(v[2])) return undefined;
    return { version: v[0], host: v[1], tags: (v[2] as unknown[]).filter((t): t is string => typeof t === 'string') };
  } catch {
    return undefined;
  }
}

/** [value, first seen, last seen] (epoch seconds). */
export type ProfileEntry = [string, number, number];

/** Per token: the values its agents reported, per dimension. */
export interface FleetProfile {
  v?: ProfileEntry[];
  h?: ProfileEntry[];
  n?: ProfileEntry[];
  t?: ProfileEntry[];
}

type Dimension = keyof FleetProfile;
/** Values remembered per dimension. */
export const PROFILE_CAPS: Readonly<Record<Dimension, number>> = { v: 8, h: 8, n: 8, t: 48 };
/** A value unseen for this long is forgotten (a retired agent version). */
const FORGET_SECONDS = 30 * 86_400;
/** last-seen is refreshed at most this often, so a steady fleet costs no write per event. */
const REFRESH_SECONDS = 3600;

/**
 * Adds one value. When the dimension is full, the least established value (the newest first
 * sighting) makes room: a flood of new values churns one slot, and cannot push out what the fleet
 * had before it. True when the profile changed.
 */
function learn(entries: ProfileEntry[], value: string, now: number, cap: number): boolean {
  const at = entries.findIndex((e) => e[0] === value);
  if (at >= 0) {
    const e = entries[at] as ProfileEntry;
    if (now - e[2] < REFRESH_SECONDS) return false;
    e[2] = now;
    return true;
  }
  for (let i = entries.length - 1; i >= 0; i--) if (now - (entries[i] as ProfileEntry)[2] > FORGET_SECONDS) entries.splice(i, 1);
  if (entries.length >= cap) {
    let newest = 0;
    for (let i = 1; i < entries.length; i++) if ((entries[i] as ProfileEntry)[1] > (entries[newest] as ProfileEntry)[1]) newest = i;
    entries.splice(newest, 1);
  }
  entries.push([value, now, now]);
  return true;
}

/** Learns one agent's shape into the profile (in place). True when it changed. */
export function learnShape(profile: FleetProfile, shape: AgentShape, name: string | undefined, now: number): boolean {
  let changed = false;
  const add = (d: Dimension, value: string): void => {
    const entries = (profile[d] ??= []);
    if (learn(entries, value, now, PROFILE_CAPS[d])) changed = true;
  };
  add('v', shape.version);
  add('h', shape.host);
  add('n', nameShape(name));
  for (const t of shape.tags) add('t', t);
  return changed;
}

/** The fleet as it was before `beforeSeconds`: values first seen earlier. */
export interface Fleet {
  readonly versions: ReadonlySet<string>;
  readonly hosts: ReadonlySet<string>;
  readonly names: ReadonlySet<string>;
  readonly tags: ReadonlySet<string>;
}

export function establishedFleet(profile: FleetProfile | undefined, beforeSeconds: number): Fleet {
  const of = (d: Dimension): Set<string> => new Set((profile?.[d] ?? []).filter((e) => e[1] < beforeSeconds).map((e) => e[0]));
  return { versions: of('v'), hosts: of('h'), names: of('n'), tags: of('t') };
}

const quoted = (values: Iterable<string>): string => {
  const all = [...values];
  const shown = all
    .slice(0, 3)
    .map((v) => `"${v}"`)
    .join(', ');
  return all.length > 3 ? `${shown} and ${all.length - 3} more` : shown;
};

/**
 * How an agent differs from the established fleet, one line per dimension (empty: it looks like
 * the fleet). A dimension the fleet has no value for yet is no evidence either way. Without a
 * recorded shape (a roster record older than shapes), only the name is compared.
 */
export function differences(shape: AgentShape | undefined, name: string | undefined, fleet: Fleet): string[] {
  const out: string[] = [];
  const n = nameShape(name);
  if (fleet.names.size > 0 && !fleet.names.has(n)) out.push(`name pattern "${n}" not in the fleet's (${quoted(fleet.names)})`);
  if (shape === undefined) return out;
  if (fleet.versions.size > 0 && !fleet.versions.has(shape.version)) out.push(`agent version "${shape.version}" not in the fleet's (${quoted(fleet.versions)})`);
  if (fleet.hosts.size > 0 && !fleet.hosts.has(shape.host)) out.push(`hostname pattern "${shape.host}" not in the fleet's (${quoted(fleet.hosts)})`);
  if (fleet.tags.size > 0) {
    const odd = shape.tags.filter((t) => !fleet.tags.has(t));
    if (odd.length > 0) out.push(`tags ${quoted(odd)} not in the fleet's`);
  }
  return out;
}
