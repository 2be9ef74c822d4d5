import { stringifyFreeFormByDepth } from './glue-schema.ts';
import type { FirehoseTransformationEvent, FirehoseTransformationResult, FirehoseTransformationResultRecord } from 'aws-lambda';
import * as z from 'zod/mini';
import '../config/zod-en.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { toHecEvent, type HecOptions } from './hec.ts';
import { parseOcsf } from './ocsf-input.ts';
import { eventDay, ocsfPartition, PARTITION_KEY } from './s3-layout.ts';

/**
 * The Firehose record-transform core: what each delivery stream's records look like after the
 * transform Lambda. EventBridge puts one OCSF event per record (target InputPath `$.detail`; the
 * whole EventBridge event is accepted too). Per format, a record becomes:
 *
 * | format          | record data                                  | partition keys        |
 * |-----------------|----------------------------------------------|-----------------------|
 * | `splunk-hec`    | one HEC event object (lib/forward/hec.ts)    |                       |
 * | `ndjson`        | the OCSF event as one JSON line + "\n"       |                       |
 * | `s3-ocsf`       | the OCSF event as one JSON line + "\n"       | `class`, `eventDay`   |
 * | `security-lake` | the OCSF event as one JSON line + "\n" (Firehose converts it to Parquet) | `eventDay` |
 *
 * A record that is not an OCSF event, is of the wrong class for its Security Lake source, or is
 * too large is `ProcessingFailed` (Firehose writes it to the error prefix of the backup bucket:
 * nothing is lost). A second record with a `metadata.uid` already seen in the same invocation is
 * `Dropped`, so retried PutRecordBatch calls do not double-deliver within a batch; the transform
 * Lambda drops copies from earlier buffers with the state table (lambdas/forward/process.ts).
 */
export const FirehoseFormat = z.enum(['splunk-hec', 'ndjson', 's3-ocsf', 'security-lake']);
export type FirehoseFormat = z.infer<typeof FirehoseFormat>;

/** How one delivery stream's records are transformed. */
export const StreamRoute = z
  .strictObject({
    format: FirehoseFormat,
    /** security-lake: the one OCSF class its custom source takes. */
    classUid: z.optional(z.int().check(z.positive())),
    /** splunk-hec: index and sourcetype prefix. */
    index: z.optional(z.string().check(z.minLength(1))),
    sourcetypePrefix: z.optional(z.string().check(z.minLength(1))),
  })
  .check(
    z.refine((r) => r.format !== 'security-lake' || r.classUid !== undefined, {
      message: 'a security-lake route needs classUid',
      path: ['classUid'],
    }),
  );
export type StreamRoute = z.infer<typeof StreamRoute>;

/** Firehose's limit on one record after transformation (1,000 KiB). */
export const FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024;

export interface RecordFailure {
  readonly recordId: string;
  readonly reason: string;
}

export interface TransformOutcome {
  readonly result: FirehoseTransformationResult;
  readonly ok: number;
  readonly dropped: number;
  readonly failed: readonly RecordFailure[];
  /** recordId -> metadata.uid of each `Ok` record, for the cross-invocation check (lambdas/forward/process.ts). */
  readonly kept: ReadonlyMap<string, string>;
}

function encode(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function transformOne(event: OcsfEvent, route: StreamRoute): { data: string; partitionKeys?: Record<string, string> } | { error: string } {
  const hec: HecOptions = { index: route.index, sourcetypePrefix: route.sourcetypePrefix };
  switch (route.format) {
    case 'splunk-hec':
      return { data: JSON.stringify(toHecEvent(event, hec)) };
    case 'ndjson':
      return { data: `${JSON.stringify(event)}\n` };
    case 's3-ocsf': {
      const p = ocsfPartition(event);
      return { data: `${JSON.stringify(event)}\n`, partitionKeys: { [PARTITION_KEY.className]: p.className, [PARTITION_KEY.eventDay]: p.eventDay } };
    }
    case 'security-lake':
      if (event.class_uid !== route.classUid) {
        return { error: `class_uid ${event.class_uid} does not belong to this Security Lake source (class ${route.classUid})` };
      }
      // Free-form attributes (unmapped, data) and objects past the tables' depth become JSON text,
      // as the Glue tables declare them (lib/infra/security-lake-tables.ts).
      return { data: `${JSON.stringify(stringifyFreeFormByDepth(event))}\n`, partitionKeys: { [PARTITION_KEY.eventDay]: eventDay(event.time) } };
  }
}

export function transformFirehoseRecords(event: FirehoseTransformationEvent, route: StreamRoute): TransformOutcome {
  const seen = new Set<string>();
  const failed: RecordFailure[] = [];
  const kept = new Map<string, string>();
  let ok = 0;
  let dropped = 0;
  const records = event.records.map((record): FirehoseTransformationResultRecord => {
    const fail = (reason: string): FirehoseTransformationResultRecord => {
      failed.push({ recordId: record.recordId, reason });
      return { recordId: record.recordId, result: 'ProcessingFailed', data: record.data };
    };
    const parsed = parseOcsf(Buffer.from(record.data, 'base64').toString('utf8'));
    if (!parsed.ok) return fail(parsed.reason);
    const uid = parsed.event.metadata.uid;
    if (seen.has(uid)) {
      dropped++;
      return { recordId: record.recordId, result: 'Dropped', data: record.data };
    }
    seen.add(uid);
    const out = transformOne(parsed.event, route);
    if ('error' in out) return fail(out.error);
    const bytes = Buffer.byteLength(out.data, 'utf8');
    if (bytes > FIREHOSE_MAX_RECORD_BYTES) return fail(`transformed record is ${bytes} bytes, over Firehose's ${FIREHOSE_MAX_RECORD_BYTES}`);
    ok++;
    kept.set(record.recordId, uid);
    return {
      recordId: record.recordId,
      result: 'Ok',
      data: encode(out.data),
      ...(out.partitionKeys !== undefined ? { metadata: { partitionKeys: out.partitionKeys } } : {}),
    };
  });
  return { result: { records }, ok, dropped, failed, kept };
}

/** `arn:aws:firehose:region:account:deliverystream/NAME` -> NAME. */
export function streamNameOf(deliveryStreamArn: string): string | undefined {
  const m = /:deliverystream\/([A-Za-z0-9_.-]+)$/.exec(deliveryStreamArn);
  return m?.[1];
}
