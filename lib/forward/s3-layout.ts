import { SOURCETYPE_CLASS_NAMES } from './hec.ts';
import { sourceNameFor, type SourceNameOptions } from './security-lake.ts';

/**
 * S3 key layouts. Each layout is one function of its partition values; the Firehose prefix is the
 * same function applied to Firehose's `!{partitionKeyFromLambda:...}` placeholders, and the
 * transform Lambda returns exactly those partition keys, so keys written locally, keys Firehose
 * writes and the documented layout cannot disagree.
 *
 * - ocsf:          <prefix>class=<class_name>/eventDay=YYYYMMDD/<object>
 * - security-lake: ext/<source>[/<version>]/region=<region>/accountId=<account>/eventDay=YYYYMMDD/<object>.parquet
 *   (Amazon Security Lake custom source layout: one OCSF class per source, Parquet objects.)
 */

/** Names of the dynamic partition keys the transform Lambda returns. */
export const PARTITION_KEY = { className: 'class', eventDay: 'eventDay' } as const;

export interface OcsfPartition {
  /** OCSF class name (api_activity), or class_<uid> for a class without one. */
  readonly className: string;
  /** UTC day of the event's `time`, YYYYMMDD (Security Lake's eventDay format). */
  readonly eventDay: string;
}

export function classSlug(classUid: number): string {
  return SOURCETYPE_CLASS_NAMES[classUid] ?? `class_${classUid}`;
}

/** Epoch milliseconds -> YYYYMMDD in UTC. */
export function eventDay(ms: number): string {
  const d = new Date(ms);
  if (Number.isNaN(d.getTime())) throw new RangeError(`not a time: ${ms}`);
  const y = d.getUTCFullYear().toString().padStart(4, '0');
  const m = (d.getUTCMonth() + 1).toString().padStart(2, '0');
  const day = d.getUTCDate().toString().padStart(2, '0');
  return `${y}${m}${day}`;
}

/** Partitioned by event time, not arrival, so a late event lands in the day it happened. */
export function ocsfPartition(event: { readonly class_uid: number; readonly time: number }): OcsfPartition {
  return { className: classSlug(event.class_uid), eventDay: eventDay(event.time) };
}

export function ocsfPrefix(prefix: string, partition: OcsfPartition): string {
  return `${prefix}class=${partition.className}/eventDay=${partition.eventDay}/`;
}

export function ocsfObjectKey(prefix: string, partition: OcsfPartition, objectName: string): string {
  return `${ocsfPrefix(prefix, partition)}${objectName}`;
}

export interface SecurityLakeSource {
  readonly sourceName: string;
  readonly sourceVersion?: string | undefined;
  readonly region: string;
  readonly accountId: string;
}

/** One custom source per OCSF class: `kw-api` unless configured otherwise (lib/forward/security-lake.ts). */
export function securityLakeSourceName(classUid: number, opts: SourceNameOptions): string {
  return sourceNameFor(classUid, opts);
}

export function securityLakePrefix(source: SecurityLakeSource, day: string): string {
  const version = source.sourceVersion === undefined ? '' : `${source.sourceVersion}/`;
  return `ext/${source.sourceName}/${version}region=${source.region}/accountId=${source.accountId}/eventDay=${day}/`;
}

export function securityLakeObjectKey(source: SecurityLakeSource, day: string, objectName: string): string {
  return `${securityLakePrefix(source, day)}${objectName}`;
}

const placeholder = (key: string): string => `!{partitionKeyFromLambda:${key}}`;

/** Firehose `Prefix` of the ocsf layout (dynamic partitioning from the transform's keys). */
export function firehoseOcsfPrefix(prefix: string): string {
  return ocsfPrefix(prefix, { className: placeholder(PARTITION_KEY.className), eventDay: placeholder(PARTITION_KEY.eventDay) });
}

/** Firehose `Prefix` of one Security Lake custom source (one stream per class). */
export function firehoseSecurityLakePrefix(source: SecurityLakeSource): string {
  return securityLakePrefix(source, placeholder(PARTITION_KEY.eventDay));
}

/** Firehose `ErrorOutputPrefix`: failed records by error type and arrival day. */
export function firehoseErrorPrefix(base: string): string {
  return `${base}!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/`;
}

/**
 * Applies partition keys to a Firehose prefix template as Firehose does. Throws when the template
 * needs a key the transform did not return (Firehose would fail those records).
 */
export function expandFirehosePrefix(template: string, partitionKeys: Readonly<Record<string, string>>): string {
  return template.replace(/!\{partitionKeyFromLambda:([^}]+)\}/g, (_, key: string) => {
    const value = partitionKeys[key];
    if (value === undefined) throw new Error(`partition key "${key}" is missing`);
    return value;
  });
}
