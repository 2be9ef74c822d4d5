import type { EventBridgeClient, PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { eventBridgeSdk } from '../aws/lazy.ts';

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

/** Entry error codes EventBridge documents as transient: worth sending again. Any other code is final. */
export const RETRYABLE_PUT_EVENTS_CODES: ReadonlySet<string> = new Set(['InternalFailure', 'ThrottlingException']);

/** The code of an entry never sent because it is over PUT_EVENTS_MAX_BYTES (EventBridge would refuse the whole call). */
export const ENTRY_TOO_LARGE = 'EntryTooLarge';

/** One item the bus did not take, and why. */
export interface PublishFailure<T> {
  readonly item: T;
  /** EventBridge's entry ErrorCode, ENTRY_TOO_LARGE, or the name of the error the call threw. */
  readonly errorCode: string;
  readonly errorMessage?: string | undefined;
  /** The call's own error, when the whole call failed (the SDK has already retried it). */
  readonly cause?: unknown;
}

export interface PublishOptions {
  /** Attempts per entry while its failure is retryable. @default 3 */
  readonly maxAttempts?: number;
  /** Wait before the n-th retry: `backoffMs * 2^(n-1)`. @default 50 */
  readonly backoffMs?: number;
}

type PutEventsPort = Pick<EventBridgeClient, 'send'>;

/**
 * Publishes to the bus: chunks of at most 10 entries and 256 KB, each sent once; entries that
 * failed with a retryable code are sent again (a bounded number of times, with backoff), every
 * other failure is final. Resolves with what the bus did not take, in input order; never throws
 * for a rejected entry or a failed call, so each caller decides what a failure means for its records.
 * A call that throws is not retried here: the SDK client has already retried it.
 */
export async function publishToBus<T extends { readonly entry: PutEventsRequestEntry }>(client: PutEventsPort, items: readonly T[], options: PublishOptions = {}): Promise<PublishFailure<T>[]> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const backoffMs = options.backoffMs ?? 50;
  const failures = new Map<number, PublishFailure<T>>();
  let pending: { index: number; item: T; size: number }[] = [];
  items.forEach((item, index) => {
    const size = putEventsEntrySize(item.entry);
    if (size > PUT_EVENTS_MAX_BYTES) failures.set(index, { item, errorCode: ENTRY_TOO_LARGE, errorMessage: `entry is ${size} bytes, over the ${PUT_EVENTS_MAX_BYTES}-byte PutEvents limit` });
    else pending.push({ index, item, size });
  });
  if (pending.length > 0) {
    const { PutEventsCommand } = await eventBridgeSdk();
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 2)));
      const retry: typeof pending = [];
      await Promise.all(
        chunkForPutEvents(pending).map(async (chunk) => {
          let out;
          try {
            out = await client.send(new PutEventsCommand({ Entries: chunk.map((p) => p.item.entry) }));
          } catch (cause) {
            const error = cause as Error;
            for (const p of chunk) failures.set(p.index, { item: p.item, errorCode: error?.name ?? 'Error', errorMessage: error?.message, cause });
            return;
          }
          const results = out.Entries ?? [];
          chunk.forEach((p, i) => {
            const result = results[i];
            // EventBridge answers every entry in request order; a missing answer is a failure, never a success.
            if (result === undefined) failures.set(p.index, { item: p.item, errorCode: 'NoResult', errorMessage: `PutEvents returned no result for entry ${i}` });
            else if (result.ErrorCode === undefined && result.EventId !== undefined) failures.delete(p.index);
            else {
              const code = result.ErrorCode ?? 'NoEventId';
              failures.set(p.index, { item: p.item, errorCode: code, errorMessage: result.ErrorMessage });
              if (RETRYABLE_PUT_EVENTS_CODES.has(code) && attempt < maxAttempts) retry.push(p);
            }
          });
        }),
      );
      pending = retry;
    }
  }
  return [...failures.entries()].sort(([a], [b]) => a - b).map(([, f]) => f);
}

/** `InternalFailure x2, MalformedDetail`: the codes of failures, for one log line or error message. */
export function describePublishFailures(failures: readonly PublishFailure<unknown>[]): string {
  const counts = new Map<string, number>();
  for (const f of failures) counts.set(f.errorCode, (counts.get(f.errorCode) ?? 0) + 1);
  return [...counts].map(([code, n]) => (n === 1 ? code : `${code} x${n}`)).join(', ');
}
