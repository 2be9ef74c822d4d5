/**
 * Which agents are connected with each agent token, learned from Agent events: findings on a
 * token name the agents of a burst (`implicated`) and its other agents (`related`).
 *
 * One item per token, most recent connect first, capped. It is stored as a plain string
 * (`<count>\n` then records split by \n, fields by \t) because it is read and rewritten on
 * every agent event:
 * the state cache copies objects on each get and put but hands strings through as they are,
 * and a burst of thousands of agents stays one key and one write per batch.
 */
import type { OcsfEvent } from '../ocsf/types.ts';
import type { StatePort } from '../state/port.ts';
import { isUuid } from '../contracts/ids.ts';
import { agentOf } from './entities.ts';
import { agentShapeOf, decodeShape, encodeShape } from './fleet-shape.ts';
import type { RosterAgent } from './types.ts';

/** Agents remembered per token (a burst beyond this keeps only the most recent). */
export const ROSTER_CAP = 100;
/** An agent not seen connecting for this long (event time) is no longer listed. */
export const ROSTER_MAX_AGE_SECONDS = 24 * 3600;
const RETENTION_SECONDS = 7 * 24 * 3600;

const key = (tokenUid: string): string => `roster:${tokenUid}`;
const LOGOFF = new Set(['Agent Disconnected', 'Agent Lost', 'Agent Stopped']);
const clean = (s: string | undefined): string => (s === undefined ? '' : s.replace(/[\t\n]/g, ' '));

export function isRosterEvent(event: OcsfEvent): boolean {
  const code = event.metadata.event_code ?? '';
  return event.class_uid === 3002 && (code === 'Agent Connected' || LOGOFF.has(code));
}

/** Start and end (exclusive, without its \n) of the agent's record, or undefined. */
function find(roster: string, agentUid: string): [number, number] | undefined {
  let start: number;
  if (roster.startsWith(`${agentUid}\t`)) start = 0;
  else {
    const at = roster.indexOf(`\n${agentUid}\t`);
    if (at < 0) return undefined;
    start = at + 1;
  }
  const nl = roster.indexOf('\n', start);
  return [start, nl < 0 ? roster.length : nl];
}

function remove(roster: string, [start, end]: [number, number]): string {
  if (end >= roster.length) return start === 0 ? '' : roster.slice(0, start - 1);
  return roster.slice(0, start) + roster.slice(end + 1);
}

/** Connect time (epoch ms) of a record: its 4th field. */
function recordTime(record: string): number {
  const f = record.split('\t');
  return Number(f[3]);
}

interface Parsed {
  count: number;
  body: string;
}

function parse(value: unknown): Parsed {
  if (typeof value !== 'string' || value === '') return { count: 0, body: '' };
  const nl = value.indexOf('\n');
  const count = nl < 0 ? Number.NaN : Number(value.slice(0, nl));
  return Number.isInteger(count) && count > 0 ? { count, body: value.slice(nl + 1) } : { count: 0, body: '' };
}

/** Drops the oldest (last) record. */
function dropLast(body: string): string {
  const nl = body.lastIndexOf('\n');
  return nl < 0 ? '' : body.slice(0, nl);
}

/** Updates the token's roster from an Agent Connected / Disconnected / Lost / Stopped event. */
export async function trackAgent(event: OcsfEvent, state: StatePort, expiresAt: (seconds: number) => number): Promise<void> {
  const agent = agentOf(event);
  // Ids are fields of the stored record: one carrying a tab or newline would forge another agent's
  // record (and get that agent stopped). Only well-formed uuids are tracked.
  if (!isUuid(agent.tokenUid) || !isUuid(agent.uid)) return;
  const k = key(agent.tokenUid);
  const item = await state.get<string>(k);
  let { count, body } = parse(item?.value);
  const at = find(body, agent.uid);
  if (event.metadata.event_code === 'Agent Connected') {
    if (at !== undefined) {
      // Out-of-order delivery: an older connect must not move the agent or its time.
      if (recordTime(body.slice(at[0], at[1])) >= event.time) return;
      body = remove(body, at);
      count--;
    }
    // The shape (version, hostname pattern, tags) is what the token-spike response compares with the fleet.
    const record = `${agent.uid}\t${clean(agent.name)}\t${clean(agent.ip)}\t${event.time}\t${clean(event.metadata.uid)}\t${encodeShape(agentShapeOf(event))}`;
    body = body === '' ? record : `${record}\n${body}`;
    count++;
    while (count > ROSTER_CAP) {
      body = dropLast(body);
      count--;
    }
  } else {
    if (at === undefined) return;
    // A logoff older than the last connect belongs to an earlier session.
    if (recordTime(body.slice(at[0], at[1])) > event.time) return;
    body = remove(body, at);
    count--;
  }
  await state.put<string>(k, count > 0 ? `${count}\n${body}` : '', { expiresAt: expiresAt(RETENTION_SECONDS) });
}

/** Agents connected with the token as of `nowMs` (event time), most recent connect first. */
export async function connectedAgents(state: StatePort, tokenUid: string, nowMs: number): Promise<RosterAgent[]> {
  const item = await state.get<string>(key(tokenUid));
  const { count, body } = parse(item?.value);
  if (count === 0) return [];
  const out: RosterAgent[] = [];
  for (const line of body.split('\n')) {
    const [uid, name, ip, seenText, eventUid, shapeText] = line.split('\t');
    const seen = Number(seenText);
    if (uid === undefined || uid === '' || !Number.isFinite(seen)) continue;
    if (Math.abs(nowMs - seen) > ROSTER_MAX_AGE_SECONDS * 1000) continue;
    const shape = decodeShape(shapeText);
    out.push({ uid, seen, ...(name ? { name } : {}), ...(ip ? { ip } : {}), ...(eventUid ? { event: eventUid } : {}), ...(shape !== undefined ? { shape } : {}) });
  }
  return out;
}
