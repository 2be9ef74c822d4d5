import type { PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';

/**
 * How Kitewatch events look on its own EventBridge bus. One definition, used by the
 * handlers that publish, by the rules in rules/ and by the local engine.
 */
export const KITEWATCH_SOURCE = 'kitewatch';

export const DetailType = {
  event: 'OCSF Event',
  finding: 'OCSF Detection Finding',
  remediation: 'OCSF Remediation Activity',
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** OCSF class_uid -> the detail-type it travels under. */
export function detailTypeFor(classUid: number): DetailType {
  if (classUid === 2004) return DetailType.finding;
  if (classUid === 7001) return DetailType.remediation;
  return DetailType.event;
}

export interface BusEnvelope<T = Record<string, unknown>> {
  readonly source: typeof KITEWATCH_SOURCE;
  readonly 'detail-type': DetailType;
  readonly time: string;
  readonly detail: T;
}

/**
 * The envelope as EventBridge would deliver it; the local engine matches rules against this.
 * `time` is a getter: no rule matches on it today, so the ISO conversion is skipped on the hot path.
 */
export function toBusEnvelope<T extends { class_uid: number; time: number }>(event: T): BusEnvelope<T> {
  return {
    source: KITEWATCH_SOURCE,
    'detail-type': detailTypeFor(event.class_uid),
    get time() {
      return new Date(event.time).toISOString();
    },
    detail: event,
  };
}

/** A PutEvents entry (max 256 KB; OCSF events are far below that). */
export function toPutEventsEntry(event: { class_uid: number; time: number }, eventBusName: string): { Source: string; DetailType: string; Detail: string; Time: Date; EventBusName: string } {
  return {
    Source: KITEWATCH_SOURCE,
    DetailType: detailTypeFor(event.class_uid),
    Detail: JSON.stringify(event),
    Time: new Date(event.time),
    EventBusName: eventBusName,
  };
}

/** PutEvents limits: 10 entries and 256 KB per request. Every publisher to the bus chunks with these. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
export const PUT_EVENTS_MAX_BYTES = 256 * 1024;

/** Entry size as EventBridge counts it against the 256 KB limit. */
export function putEventsEntrySize(entry: PutEventsRequestEntry): number {
  let size = entry.Time === undefined ? 0 : 14;
  for (const part of [entry.Source, entry.DetailType, entry.Detail, ...(entry.Resources ?? [])]) {
    if (part !== undefined) size += Buffer.byteLength(part, 'utf8');
  }
  return size;
}

/** Splits into PutEvents-sized chunks: at most 10 entries and 256 KB each, order kept. */
export function chunkForPutEvents<T extends { readonly size: number }>(items: readonly T[]): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    if (current.length === PUT_EVENTS_MAX_ENTRIES || (current.length > 0 && bytes + item.size > PUT_EVENTS_MAX_BYTES)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
