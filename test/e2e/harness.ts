/**
 * The Kitewatch pipeline end to end on moto (server mode), wired as the CDK app wires it:
 *
 *   ingest bus ──buildkite-ingest──▶ normalize queue ─▶ normalizer ─PutEvents─▶ Kitewatch bus
 *   Kitewatch bus ──normalized-to-detect──▶ detect queue ─▶ detector (DynamoDB state) ─▶ findings
 *                 ──findings-to-containment──▶ contain queue ─▶ containment (Buildkite API, Secrets Manager)
 *                 ──findings-to-securityhub──▶ securityhub queue ─▶ Security Hub forwarder
 *                 ──ocsf-to-forwarding (one rule per stream)──▶ stream queue ─▶ Firehose ─▶ S3 / HTTP
 *
 * Rules and patterns are the synthesized CloudFormation's (every AWS::Events::Rule whose
 * description starts with a rules/ file name, as QueueRoute and the forwarding stack write them).
 * Each stage is its Lambda as deployed: the `compose(deps)` its handler.ts calls (lambdas/<stage>/compose.ts),
 * the whole middy chain, with real SDK clients on moto and a Powertools logger and metrics that
 * record what they would write. It runs in this process, fed by a poller
 * that does what the Lambda SQS event source does: receive up to 10, invoke, delete the successes,
 * make the batch item failures (or the whole batch, when the invocation throws) visible again.
 * Redelivery is immediate (ChangeMessageVisibility 0) instead of after the visibility timeout.
 *
 * Where moto differs, and what the harness does about it (each said again where it is done):
 * - rule targets carry an input transformer `<aws.events.event.json>` (the whole event, as a target
 *   without one gets it on AWS): without it moto drops `account` and parses eight JSONPaths per
 *   event and target; with it moto adds its internal `ingestion-time`, removed from bodies here;
 * - moto cannot target Firehose from a rule: a queue per stream stands in for that target, and
 *   InputPath $.detail is applied when a message is taken from it;
 * - moto's Firehose neither buffers, nor runs the transform Lambda, nor retries, nor backs up:
 *   FirehoseModel buffers (the processor's BufferSizeInMBs; delivered when the pipeline is idle,
 *   i.e. when the buffer interval would have elapsed), runs lambdas/forward's transform in process
 *   (with its state table check: a uid an earlier buffer delivered is Dropped),
 *   puts what it returns with PutRecordBatch, retries an HTTP delivery the endpoint did not accept
 *   (moto reports success whatever the endpoint answers, so the answer is read from the local
 *   server's request log), then writes what it could not deliver to the backup bucket
 *   (S3BackupMode FailedDataOnly), as Firehose does after RetryOptions.DurationInSeconds;
 * - moto's SQS scans every message of a queue on each call: keep queues shallow (feed in chunks).
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { App } from 'aws-cdk-lib';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateEventBusCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateDeliveryStreamCommand, DeleteDeliveryStreamCommand, DescribeDeliveryStreamCommand, FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetFindingsCommand, SecurityHubClient, type AwsSecurityFinding } from '@aws-sdk/client-securityhub';
import {
  ChangeMessageVisibilityBatchCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, FirehoseTransformationEvent, FirehoseTransformationResult, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type * as z from 'zod';
import { parseConfig } from '../../lib/config/load.ts';
import type { KitewatchConfig, KitewatchConfigInput } from '../../lib/config/schema.ts';
import { ContainmentConfig, type ContainmentConfigInput } from '../../lib/containment/config.ts';
import { DetectorsConfig } from '../../lib/detections/config.ts';
import type { Envelope } from '../../lib/detections/builders.ts';
import { loadRules, type RuleFile } from '../../lib/engine/rules.ts';
import type { QuarantineRecord } from '../../lib/engine/quarantine.ts';
import { defaultIpEnricher } from '../../lib/enrich/ip.ts';
import { ForwardingConfig } from '../../lib/forward/config.ts';
import { deliveryStreams, transformRoutes, type DeliveryStreamSpec } from '../../lib/forward/firehose-streams.ts';
import { defineKitewatch } from '../../lib/infra/app.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { compose as composeContain } from '../../lambdas/contain/compose.ts';
import { compose as composeDetect } from '../../lambdas/detect/compose.ts';
import { compose as composeForward } from '../../lambdas/forward/compose.ts';
import { compose as composeNormalize } from '../../lambdas/normalize/compose.ts';
import { compose as composeSecurityHub } from '../../lambdas/securityhub/compose.ts';
import { redactReplacer } from '../../lambdas/shared/redact.ts';
import type { FakeBuildkite } from '../support/fake-buildkite.ts';
import type { FakeSiem } from '../support/fake-siem.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';

/** moto's default account. */
export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

// ---------------------------------------------------------------- the CDK app's rules

export interface DeployedRule {
  readonly name: string;
  readonly bus: RuleFile['bus'];
  readonly target: RuleFile['target'];
  readonly eventPattern: Record<string, unknown>;
  /** `template`: the synthesized AWS::Events::Rule; `rules-file`: no stack of the app deploys this rule yet. */
  readonly from: 'template' | 'rules-file';
  /** The stack whose template holds it. */
  readonly stack?: string;
  /** Firehose rules (`<rule> -> <stream>: ...`): the delivery stream the synthesized rule feeds. */
  readonly stream?: string;
}

export interface SynthesizedRoutes {
  readonly rules: readonly DeployedRule[];
  readonly config: KitewatchConfig;
  readonly synthMs: number;
}

/**
 * Forwarding as the suite deploys it, for the synth and for the harness's delivery streams alike:
 * S3 in the ocsf layout, one HTTP endpoint (the local SIEM), and Security Hub.
 */
export const FORWARDING: z.input<typeof ForwardingConfig> = {
  destinations: {
    s3: { layout: 'ocsf', prefix: 'ocsf/', compression: 'UNCOMPRESSED' },
    http: [{ name: 'siem', endpoint: 'https://siem.example/firehose', accessKeySecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kitewatch/siem-AbCdEf` }],
    securityHub: { enabled: true },
  },
};

/** What the app is synthesized with: a custom ingest bus (no partner bus in moto), containment and forwarding on. */
export const SYNTH_CONFIG = {
  aws: {
    createCustomBus: true,
    region: REGION,
    account: ACCOUNT,
    // Alarms are not what the e2e test reads.
    alarms: 'none',
    containment: { buildkiteApiTokenSecretArn: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kitewatch/buildkite-api-token-AbCdEf` },
  },
  containment: { mode: 'dry-run' },
  forwarding: FORWARDING,
} satisfies KitewatchConfigInput;

const CDK_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

/**
 * Synthesizes the app (no bundling, no CloudFormation validation: only the templates are read)
 * and returns every rule file's patterns as deployed. Rules are recognized by their description:
 * `<rule file name>: ...` (lib/infra/queue-route.ts) or `<rule file name> -> <stream>: ...` (one
 * rule per Firehose delivery stream, lib/infra/forwarding-stack.ts). A rule file no stack deploys
 * is used as it is, marked `rules-file`.
 */
export function synthesizeRoutes(): SynthesizedRoutes {
  const started = performance.now();
  const outdir = mkdtempSync(join(tmpdir(), 'kitewatch-e2e-cdk-'));
  try {
    const app = new App({ outdir, context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
    const config = parseConfig(SYNTH_CONFIG, 'e2e synth config');
    defineKitewatch(app, config);
    const assembly = app.synth();
    const files = loadRules();
    const rules: DeployedRule[] = [];
    for (const stack of assembly.stacks) {
      const resources = (stack.template as { Resources?: Record<string, { Type?: string; Properties?: { Description?: unknown; EventPattern?: unknown } }> }).Resources ?? {};
      for (const resource of Object.values(resources)) {
        const description = resource.Properties?.Description;
        const pattern = resource.Properties?.EventPattern;
        if (resource.Type !== 'AWS::Events::Rule' || typeof description !== 'string' || typeof pattern !== 'object' || pattern === null) continue;
        for (const f of files) {
          const m = new RegExp(`^${f.name}(?: -> ([A-Za-z0-9_.-]+))?: `).exec(description);
          if (m === null) continue;
          rules.push({
            name: f.name,
            bus: f.bus,
            target: f.target,
            eventPattern: pattern as Record<string, unknown>,
            from: 'template',
            stack: stack.stackName,
            ...(m[1] !== undefined ? { stream: m[1] } : {}),
          });
        }
      }
    }
    for (const f of files) {
      if (!rules.some((r) => r.name === f.name)) rules.push({ name: f.name, bus: f.bus, target: f.target, eventPattern: f.eventPattern, from: 'rules-file' });
    }
    return { rules, config, synthMs: performance.now() - started };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- fault injection

export interface ClientFault {
  /** SDK command class name, e.g. `PutEventsCommand`. */
  readonly command: string;
  /** Fails the k-th call (1-based) of that command on this stage's client. */
  readonly call: number;
  /**
   * `before`: the request never reaches AWS (throttled, network down). `after`: AWS did it and
   * the caller never learns (a timeout, or the Lambda dying right after the call).
   */
  readonly when: 'before' | 'after';
}

export interface FiredFault extends ClientFault {
  readonly stage: StageName;
}

export class InjectedFaultError extends Error {
  override readonly name = 'ServiceUnavailableException';
}

/** The client with `faults` injected into its `send`, and its calls timed; every other property is the client's own. */
function instrumented<C extends object>(client: C, stage: StageName, faults: readonly ClientFault[], fired: FiredFault[], profile: Map<string, { n: number; ms: number }>): C {
  const counts = new Map<string, number>();
  return new Proxy(client, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (prop !== 'send' || typeof value !== 'function') return typeof value === 'function' ? (value.bind(target) as unknown) : value;
      return async (command: object, ...rest: unknown[]): Promise<unknown> => {
        const name = command.constructor.name;
        const n = (counts.get(name) ?? 0) + 1;
        counts.set(name, n);
        const fault = faults.find((f) => f.command === name && f.call === n);
        if (fault?.when === 'before') {
          fired.push({ ...fault, stage });
          throw new InjectedFaultError(`injected: ${name} call ${n} failed before reaching AWS`);
        }
        const t0 = performance.now();
        const out: unknown = await Reflect.apply(value, target, [command, ...rest]);
        const p = profile.get(`${stage} ${name}`) ?? { n: 0, ms: 0 };
        p.n++;
        p.ms += performance.now() - t0;
        profile.set(`${stage} ${name}`, p);
        if (fault?.when === 'after') {
          fired.push({ ...fault, stage });
          throw new InjectedFaultError(`injected: ${name} call ${n} succeeded but its answer was lost`);
        }
        return out;
      };
    },
  });
}

// ---------------------------------------------------------------- logs and metrics the Lambdas write

export interface Recorder {
  /** Every log line, as the function's log would hold it (redacted, JSON). */
  readonly lines: string[];
  /** Every metric added, summed by name. */
  readonly metrics: Map<string, number>;
  readonly logger: Logger;
  readonly metricsPort: Metrics;
}

/** Powertools' Logger with the functions' redaction, at DEBUG, keeping its lines instead of printing them. */
class RecordingLogger extends Logger {
  readonly lines: string[] = [];
  protected override printLog(_level: number, log: Parameters<Logger['printLog']>[1]): void {
    this.lines.push(JSON.stringify(log.getAttributes(), this.getJsonReplacer()));
  }
}

/** Powertools' Metrics summing what is added, publishing nothing (EMF would go to stdout). */
class RecordingMetrics extends Metrics {
  readonly sums = new Map<string, number>();
  override addMetric(name: string, unit: Parameters<Metrics['addMetric']>[1], value: number): this {
    this.sums.set(name, (this.sums.get(name) ?? 0) + value);
    super.addMetric(name, unit, value);
    return this;
  }
  override captureColdStartMetric(): void {
    this.sums.set('ColdStart', (this.sums.get('ColdStart') ?? 0) + 1);
  }
  override publishStoredMetrics(): this {
    this.clearMetrics();
    return this;
  }
}

function recorder(stage: StageName): Recorder {
  const logger = new RecordingLogger({ serviceName: stage, logLevel: 'DEBUG', jsonReplacerFn: redactReplacer });
  const metrics = new RecordingMetrics({ namespace: 'Kitewatch', serviceName: stage });
  return { lines: logger.lines, metrics: metrics.sums, logger, metricsPort: metrics };
}

/** A Lambda context per stage: middy and Powertools read it. */
function lambdaContext(stage: StageName): Context {
  const functionName = `kitewatch-${stage}`;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2026/12/04/[$LATEST]e2e',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

// ---------------------------------------------------------------- queues and the poller

export type StageName = 'normalize' | 'detect' | 'contain' | 'securityhub' | 'forward';
/** Poll order: upstream first, so one round usually moves everything downstream. */
export const STAGES: readonly StageName[] = ['normalize', 'detect', 'contain', 'securityhub', 'forward'];

interface QueueRef {
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
}

export interface StageStats {
  /** Handler invocations (a duplicated delivery counts twice). */
  invocations: number;
  /** Records handed to the handler. */
  records: number;
  /** Records reported as batch item failures. */
  itemFailures: number;
  /** Invocations that threw (the whole batch is redelivered). */
  crashes: number;
  /** Records received with ApproximateReceiveCount > 1. */
  redelivered: number;
  /** Records deleted after success. */
  deleted: number;
  /** Time in the handler, and in the whole pump (SQS calls included). */
  handlerMs: number;
  pumpMs: number;
}

const newStats = (): StageStats => ({ invocations: 0, records: 0, itemFailures: 0, crashes: 0, redelivered: 0, deleted: 0, handlerMs: 0, pumpMs: 0 });

/**
 * moto's `<aws.events.event.json>` carries its internal `ingestion-time` key, which AWS does not
 * send: removed here, so the handlers see the event as EventBridge delivers it.
 */
function withoutMotoKeys(body: string): string {
  if (!body.includes('"ingestion-time"')) return body;
  try {
    const event = JSON.parse(body) as Record<string, unknown>;
    delete event['ingestion-time'];
    return JSON.stringify(event);
  } catch {
    return body;
  }
}

function toSqsRecord(m: Message, queueArn: string): SQSRecord {
  const a = m.Attributes ?? {};
  const body = withoutMotoKeys(m.Body ?? '');
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body,
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: createHash('md5').update(body).digest('hex'),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: REGION,
  };
}

// ---------------------------------------------------------------- Firehose, as moto cannot run it

export interface HttpRetry {
  /** Delivery attempts of one batch before it goes to the backup bucket (Firehose: RetryOptions.DurationInSeconds). */
  readonly attempts: number;
  /** Wait between attempts. */
  readonly delayMs: number;
}

export interface DeliveryAttempt {
  readonly stream: string;
  readonly records: number;
  readonly attempt: number;
  readonly ok: boolean;
  /** The endpoint's answer(s), for HTTP streams. */
  readonly answers?: readonly (number | 'reset')[];
}

interface StreamState {
  readonly spec: DeliveryStreamSpec;
  readonly arn: string;
  buffer: string[];
  bytes: number;
}

/**
 * One Firehose per delivery stream spec: buffer -> transform -> PutRecordBatch (moto delivers
 * synchronously) -> retry / backup for HTTP. ProcessingFailed records go to the stream's error
 * prefix, as Firehose writes them.
 */
class FirehoseModel {
  readonly attempts: DeliveryAttempt[] = [];
  readonly transformCalls: { stream: string; records: number; ok: number; dropped: number; failed: number }[] = [];
  readonly #streams: StreamState[];
  readonly #client: FirehoseClient;
  readonly #s3: S3Client;
  readonly #transform: (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;
  readonly #siem: FakeSiem;
  readonly #retry: HttpRetry;
  readonly #bufferBytes: number;
  /** Firehose's recordIds are unique per record: a redelivered copy gets a new one. */
  #nextRecordId = 0;

  constructor(deps: {
    streams: StreamState[];
    client: FirehoseClient;
    s3: S3Client;
    /** The transform Lambda (lambdas/forward), invoked once per buffer. */
    transform: (event: FirehoseTransformationEvent) => Promise<FirehoseTransformationResult>;
    siem: FakeSiem;
    retry: HttpRetry;
    bufferBytes: number;
  }) {
    this.#streams = deps.streams;
    this.#client = deps.client;
    this.#s3 = deps.s3;
    this.#transform = deps.transform;
    this.#siem = deps.siem;
    this.#retry = deps.retry;
    this.#bufferBytes = deps.bufferBytes;
  }

  /** One record, as an EventBridge target with InputPath $.detail puts it. */
  async put(stream: string, data: string): Promise<void> {
    const s = this.#streams.find((x) => x.spec.name === stream);
    if (s === undefined) throw new Error(`no delivery stream ${stream}`);
    s.buffer.push(data);
    s.bytes += Buffer.byteLength(data, 'utf8');
    if (s.bytes >= this.#bufferBytes) await this.#flush(s);
  }

  /** The buffer interval elapsed: deliver whatever is buffered. Returns the records flushed. */
  async flushAll(): Promise<number> {
    let n = 0;
    for (const s of this.#streams) {
      n += s.buffer.length;
      await this.#flush(s);
    }
    return n;
  }

  async #flush(s: StreamState): Promise<void> {
    if (s.buffer.length === 0) return;
    const data = s.buffer;
    s.buffer = [];
    s.bytes = 0;
    const event: FirehoseTransformationEvent = {
      invocationId: randomUUID(),
      deliveryStreamArn: s.arn,
      region: REGION,
      records: data.map((d) => ({ recordId: String(this.#nextRecordId++), approximateArrivalTimestamp: Date.now(), data: Buffer.from(d, 'utf8').toString('base64') })),
    };
    const out = await this.#transform(event);
    const ok: Buffer[] = [];
    const failed: Buffer[] = [];
    let dropped = 0;
    for (const r of out.records) {
      if (r.result === 'Ok') ok.push(Buffer.from(r.data ?? '', 'base64'));
      else if (r.result === 'ProcessingFailed') failed.push(Buffer.from(r.data ?? '', 'base64'));
      else dropped++;
    }
    this.transformCalls.push({ stream: s.spec.name, records: data.length, ok: ok.length, dropped, failed: failed.length });
    if (failed.length > 0) await this.#writeErrors(s, failed);
    // PutRecordBatch takes at most 500 records.
    for (let i = 0; i < ok.length; i += 500) await this.#deliver(s, ok.slice(i, i + 500));
  }

  async #deliver(s: StreamState, records: Buffer[]): Promise<void> {
    for (let attempt = 1; attempt <= this.#retry.attempts; attempt++) {
      const seen = this.#siem.requests.length;
      let ok: boolean;
      try {
        const res = await this.#client.send(new PutRecordBatchCommand({ DeliveryStreamName: s.spec.name, Records: records.map((Data) => ({ Data })) }));
        ok = (res.FailedPutCount ?? 0) === 0;
      } catch {
        // moto raises when the endpoint cannot be reached at all (connection refused).
        ok = false;
      }
      if (s.spec.kind === 'http') {
        // moto posts once per PutRecordBatch and reports success whatever the endpoint answers.
        const answers = this.#siem.requests.slice(seen).map((r) => r.outcome);
        ok = ok && answers.length === 1 && answers[0] === 200;
        this.attempts.push({ stream: s.spec.name, records: records.length, attempt, ok, answers });
      } else {
        this.attempts.push({ stream: s.spec.name, records: records.length, attempt, ok });
      }
      if (ok) return;
      if (attempt < this.#retry.attempts) await new Promise((resolve) => setTimeout(resolve, this.#retry.delayMs));
    }
    if (s.spec.kind !== 'http') throw new Error(`Firehose ${s.spec.name}: S3 delivery failed ${this.#retry.attempts} times`);
    await this.#backup(s, records);
  }

  /** S3BackupMode FailedDataOnly: what the endpoint never took, under the backup prefix. */
  async #backup(s: StreamState, records: Buffer[]): Promise<void> {
    const backup = s.spec.input.HttpEndpointDestinationConfiguration?.S3Configuration;
    if (backup?.BucketARN === undefined) throw new Error(`${s.spec.name} has no backup bucket`);
    await this.#s3.send(
      new PutObjectCommand({
        Bucket: bucketOf(backup.BucketARN),
        Key: `${backup.Prefix ?? ''}${utcPath()}/${s.spec.name}-${randomUUID()}.gz`,
        Body: gzipSync(Buffer.concat(records)),
      }),
    );
  }

  async #writeErrors(s: StreamState, records: Buffer[]): Promise<void> {
    const dest = s.spec.input.ExtendedS3DestinationConfiguration ?? s.spec.input.HttpEndpointDestinationConfiguration?.S3Configuration;
    if (dest?.BucketARN === undefined) throw new Error(`${s.spec.name} has no error bucket`);
    const prefix = (dest.ErrorOutputPrefix ?? 'errors/').replace('!{firehose:error-output-type}', 'processing-failed').replace(/!\{timestamp:[^}]+\}/, utcPath().slice(0, 10));
    await this.#s3.send(new PutObjectCommand({ Bucket: bucketOf(dest.BucketARN), Key: `${prefix}${s.spec.name}-${randomUUID()}`, Body: Buffer.concat(records) }));
  }
}

function bucketOf(arn: string): string {
  return arn.slice(arn.lastIndexOf(':') + 1);
}

function utcPath(): string {
  return new Date().toISOString().slice(0, 13).replace(/[-T]/g, '/');
}

// ---------------------------------------------------------------- the pipeline

export interface PipelineOptions {
  readonly routes: SynthesizedRoutes;
  /** The local SIEM behind the HTTP endpoint stream. */
  readonly siem: FakeSiem;
  /** The local Buildkite API; without it the API URL is a closed local port (dry-run calls nothing). */
  readonly buildkite?: FakeBuildkite;
  /** The `detectors` block. */
  readonly detectors?: unknown;
  /** The `containment` block; `secretMappings` may name `$MAPPED_SECRET`, replaced by the secret created here. */
  readonly containment?: ContainmentConfigInput;
  /** Faults per stage, on that stage's clients. */
  readonly faults?: Partial<Record<StageName, readonly ClientFault[]>>;
  /** Deliveries before a message goes to its DLQ. @default the synthesized config's maxReceiveCount */
  readonly maxReceiveCount?: number;
  readonly httpRetry?: HttpRetry;
  /** Firehose processor buffer. @default 1 MiB (BufferSizeInMBs 1) */
  readonly bufferBytes?: number;
}

export interface IngestInput {
  /** The EventBridge event id PutEvents returned (the normalized event's metadata.original_event_uid). */
  readonly eventId: string;
  readonly envelope: Envelope;
  /** Audit events: their uuid, which the normalizer uses as original_event_uid instead. */
  readonly auditUuid?: string;
}

export interface DrainOptions {
  /** Every batch of these stages is delivered to the handler twice (at-least-once delivery). */
  readonly duplicate?: readonly StageName[];
  /** @default 40 */
  readonly maxRounds?: number;
  /**
   * Deliver Firehose's buffers once the queues are empty (the buffer interval elapsed). Off:
   * they keep filling across drains, as within one interval. @default true
   */
  readonly flush?: boolean;
}

export interface Downstream {
  /** OCSF events in the forwarding bucket (S3 stream). */
  readonly s3: OcsfEvent[];
  /** OCSF events the local HTTP endpoint accepted. */
  readonly http: OcsfEvent[];
  /** OCSF events of the HTTP stream that went to the backup bucket instead. */
  readonly httpBackup: OcsfEvent[];
  /** Objects under the streams' error prefixes (transform failures). */
  readonly processingFailed: number;
}

export interface Pipeline {
  readonly names: { readonly ingestBus: string; readonly kitewatchBus: string; readonly table: string; readonly quarantineBucket: string; readonly mappedSecret: string };
  readonly stats: Readonly<Record<StageName, StageStats>>;
  readonly fired: readonly FiredFault[];
  /** `<stream> <metadata.uid>` -> copies its forwarding rule delivered (redeliveries included). */
  readonly busCopies: ReadonlyMap<string, number>;
  /** SDK calls per `stage Command`: count and milliseconds. */
  readonly profile: ReadonlyMap<string, { n: number; ms: number }>;
  readonly firehoseAttempts: readonly DeliveryAttempt[];
  readonly transformCalls: FirehoseModel['transformCalls'];
  /** Every log line and metric of every stage. */
  readonly logs: Readonly<Record<StageName, Recorder>>;
  /** Puts Buildkite envelopes on the ingest bus as the partner source would, in PutEvents calls of 10. */
  putIngest(envelopes: readonly Envelope[]): Promise<IngestInput[]>;
  /** A message straight onto a stage's queue(s) (every stream's, for `forward`), not through EventBridge; returns the message ids. */
  sendToQueue(stage: StageName, body: string): Promise<string[]>;
  /** Runs every stage until every queue is empty and Firehose has delivered its buffers. */
  drain(options?: DrainOptions): Promise<void>;
  /** Quarantine objects by key. */
  quarantined(): Promise<Map<string, QuarantineRecord>>;
  downstream(): Promise<Downstream>;
  /** Messages left in the dead-letter queues, per stage. */
  deadLettered(): Promise<Record<StageName, number>>;
  securityHubFindings(ids: readonly string[]): Promise<AwsSecurityFinding[]>;
  close(): Promise<void>;
}

const MAX_BATCHES_PER_PUMP = 2_000;

export async function createPipeline(opts: PipelineOptions): Promise<Pipeline> {
  const cfg = awsClientConfig();
  const sqs = new SQSClient(cfg);
  const eventBridge = new EventBridgeClient(cfg);
  const s3 = new S3Client({ ...cfg, forcePathStyle: true });
  const dynamo = new DynamoDBClient(cfg);
  const secrets = new SecretsManagerClient(cfg);
  const firehose = new FirehoseClient(cfg);
  const iam = new IAMClient(cfg);
  const securityHub = new SecurityHubClient(cfg);
  const owned = [sqs, eventBridge, s3, dynamo, secrets, firehose, iam, securityHub];

  const names = {
    ingestBus: uniqueName('buildkite-ingest'),
    kitewatchBus: uniqueName('kitewatch'),
    table: uniqueName('kitewatch-state'),
    quarantineBucket: uniqueName('kw-quarantine'),
    forwardingBucket: uniqueName('kw-forwarding'),
    backupBucket: uniqueName('kw-backup'),
    tokenSecret: uniqueName('kitewatch-buildkite-api-token'),
    mappedSecret: uniqueName('prod-db-password'),
    streamPrefix: uniqueName('kw'),
  };
  const maxReceiveCount = opts.maxReceiveCount ?? opts.routes.config.aws.maxReceiveCount;

  // Stateful resources.
  for (const bucket of [names.quarantineBucket, names.forwardingBucket, names.backupBucket]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await createStateTable(dynamo, names.table);
  const tokenSecret = await secrets.send(new CreateSecretCommand({ Name: names.tokenSecret, SecretString: opts.buildkite?.token ?? 'bkua_e2e_no_buildkite_api_configured' }));
  const mappedSecret = await secrets.send(new CreateSecretCommand({ Name: names.mappedSecret, SecretString: JSON.stringify({ password: 'initial-password-value' }) }));
  for (const bus of [names.ingestBus, names.kitewatchBus]) await eventBridge.send(new CreateEventBusCommand({ Name: bus }));

  // One queue (with its DLQ) per stage, and per delivery stream for forwarding; the deployed rules route into them.
  async function queue(stage: string): Promise<QueueRef> {
    const dlq = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(`${stage}-dlq`) }));
    const dlqUrl = dlq.QueueUrl as string;
    const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn'] as string;
    const q = await sqs.send(
      new CreateQueueCommand({
        QueueName: uniqueName(stage),
        Attributes: { VisibilityTimeout: '30', RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }) },
      }),
    );
    const url = q.QueueUrl as string;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn'] as string;
    return { url, arn, dlqUrl };
  }
  const queues = {} as Record<Exclude<StageName, 'forward'>, QueueRef>;
  for (const stage of STAGES) if (stage !== 'forward') queues[stage] = await queue(stage);

  // Firehose: the streams lib/forward/firehose-streams.ts makes of the same forwarding config the
  // app was synthesized with; the HTTP URL points at the local SIEM.
  const specs = deliveryStreams(ForwardingConfig.parse(FORWARDING), {
    namePrefix: names.streamPrefix,
    region: REGION,
    accountId: ACCOUNT,
    deliveryRoleArn: `arn:aws:iam::${ACCOUNT}:role/kitewatch-firehose`,
    backupBucketArn: `arn:aws:s3:::${names.backupBucket}`,
    forwardingBucketArn: `arn:aws:s3:::${names.forwardingBucket}`,
    transformFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:kitewatch-forward`,
  });
  /** `<prefix>-fwd-<destination>` -> `<destination>`: how a synthesized stream and a harness stream are paired. */
  const destinationOf = (stream: string): string => stream.slice(stream.indexOf('-fwd-') + 5);
  // Stands in for each stream's EventBridge -> Firehose target (moto has no such target).
  const streamQueues = new Map<string, QueueRef>();
  for (const spec of specs) streamQueues.set(spec.name, await queue(`fwd-${destinationOf(spec.name)}`));

  /** The queues a deployed rule delivers to. */
  function targetsOf(rule: DeployedRule): { id: string; queue: QueueRef }[] {
    if (rule.target !== 'forward') return [{ id: rule.target, queue: queues[rule.target] }];
    if (rule.stream !== undefined) {
      const spec = specs.find((s) => destinationOf(s.name) === destinationOf(rule.stream ?? ''));
      if (spec === undefined) throw new Error(`rule ${rule.name} feeds stream ${rule.stream}, which the harness does not have`);
      return [{ id: destinationOf(spec.name), queue: streamQueues.get(spec.name) as QueueRef }];
    }
    if (rule.name.includes('securityhub')) return [{ id: 'securityhub', queue: queues.securityhub }];
    // The rule file itself (no stack deploys it): one rule per stream, as the forwarding stack would.
    if (rule.from === 'rules-file') return specs.map((s) => ({ id: destinationOf(s.name), queue: streamQueues.get(s.name) as QueueRef }));
    throw new Error(`the harness does not know where rule ${rule.name} delivers`);
  }
  for (const rule of opts.routes.rules) {
    const ruleName = uniqueName(rule.name);
    const bus = rule.bus === 'buildkite' ? names.ingestBus : names.kitewatchBus;
    await eventBridge.send(new PutRuleCommand({ Name: ruleName, EventBusName: bus, EventPattern: JSON.stringify(rule.eventPattern), Description: `${rule.name} (${rule.from})` }));
    await eventBridge.send(
      new PutTargetsCommand({
        Rule: ruleName,
        EventBusName: bus,
        // The whole event, as a target without a transformer gets it on AWS. Without a transformer
        // moto rebuilds the event from a template (dropping `account`) with eight JSONPath
        // parses per event and target; with this one it parses once and keeps `account`.
        Targets: targetsOf(rule).map((t) => ({ Id: t.id, Arn: t.queue.arn, InputTransformer: { InputPathsMap: { id: '$.id' }, InputTemplate: '<aws.events.event.json>' } })),
      }),
    );
  }
  const streams: StreamState[] = [];
  for (const spec of specs) {
    const input = structuredClone(spec.input);
    // The config only takes https; moto posts to the local endpoint over plain http.
    const endpoint = input.HttpEndpointDestinationConfiguration?.EndpointConfiguration;
    if (endpoint !== undefined) endpoint.Url = opts.siem.firehoseUrl;
    await firehose.send(new CreateDeliveryStreamCommand(input));
    const described = await firehose.send(new DescribeDeliveryStreamCommand({ DeliveryStreamName: spec.name }));
    streams.push({ spec, arn: described.DeliveryStreamDescription?.DeliveryStreamARN ?? `arn:aws:firehose:${REGION}:${ACCOUNT}:deliverystream/${spec.name}`, buffer: [], bytes: 0 });
  }

  // The stages, each with its own clients (as separate Lambdas have), faults injected per stage.
  const fired: FiredFault[] = [];
  const logs = Object.fromEntries(STAGES.map((s) => [s, recorder(s)])) as Record<StageName, Recorder>;
  const profile = new Map<string, { n: number; ms: number }>();
  const faulty = <C extends object>(stage: StageName, client: C): C => instrumented(client, stage, opts.faults?.[stage] ?? [], fired, profile);
  const stageClients: { destroy(): void }[] = [];
  const client = <C extends { destroy(): void }>(c: C): C => {
    stageClients.push(c);
    return c;
  };

  // Each stage is the Lambda its handler.ts deploys: compose() with the settings that handler's
  // environment would give and the clients pointed at moto (or the local Buildkite API).
  const normalizer = composeNormalize({
    settings: { eventBusName: names.kitewatchBus, quarantineBucket: names.quarantineBucket, expectedSource: undefined },
    eventBridge: faulty('normalize', client(new EventBridgeClient(cfg))),
    s3: faulty('normalize', client(new S3Client({ ...cfg, forcePathStyle: true }))),
    logger: logs.normalize.logger,
    metrics: logs.normalize.metricsPort,
  });

  const detector = composeDetect({
    settings: { eventBusName: names.kitewatchBus, stateTableName: names.table, config: { detectors: DetectorsConfig.parse(opts.detectors ?? {}) }, ipDataDir: '' },
    eventBridge: faulty('detect', client(new EventBridgeClient(cfg))),
    dynamoDb: faulty('detect', client(new DynamoDBClient(cfg))),
    // The installed @ip-location-db packages, loaded once for every pipeline of the run (the layer holds the same files).
    enrich: defaultIpEnricher(),
    logger: logs.detect.logger,
    metrics: logs.detect.metricsPort,
  });

  const containment = ContainmentConfig.parse(JSON.parse(JSON.stringify(opts.containment ?? {}).replaceAll('$MAPPED_SECRET', mappedSecret.ARN ?? names.mappedSecret)) as unknown);
  const contain = composeContain({
    settings: {
      eventBusName: names.kitewatchBus,
      stateTable: names.table,
      config: containment,
      apiTokenSecretArn: tokenSecret.ARN ?? names.tokenSecret,
      // Without a local Buildkite, a closed local port: dry-run must call nothing.
      apiUrl: opts.buildkite?.url ?? 'http://127.0.0.1:9',
      graphqlUrl: opts.buildkite?.graphqlUrl ?? 'http://127.0.0.1:9/graphql',
      approvalStateMachineArn: undefined,
    },
    eventBridge: faulty('contain', client(new EventBridgeClient(cfg))),
    dynamoDb: faulty('contain', client(new DynamoDBClient(cfg))),
    secretsManager: faulty('contain', client(new SecretsManagerClient(cfg))),
    iam: faulty('contain', client(new IAMClient(cfg))),
    sfn: { send: () => Promise.reject(new Error('the e2e pipeline deploys no approval state machine')) },
    logger: logs.contain.logger,
    crossAccountClients: cfg,
  });

  const hub = composeSecurityHub({
    settings: { accountId: ACCOUNT, region: REGION, partition: 'aws' },
    securityHub: faulty('securityhub', client(new SecurityHubClient(cfg))),
    logger: logs.securityhub.logger,
    metrics: logs.securityhub.metricsPort,
  });

  // The state table check is on, as the CDK app sets KITEWATCH_STATE_TABLE on the transform.
  const transform = composeForward({
    settings: { routes: transformRoutes(specs), stateTable: names.table },
    dynamoDb: faulty('forward', client(new DynamoDBClient(cfg))),
    logger: logs.forward.logger,
    metrics: logs.forward.metricsPort,
  });
  const contexts = Object.fromEntries(STAGES.map((s) => [s, lambdaContext(s)])) as Record<StageName, Context>;

  const model = new FirehoseModel({
    streams,
    client: faulty('forward', client(new FirehoseClient(cfg))),
    s3,
    transform: (event) => transform(event, contexts.forward),
    siem: opts.siem,
    retry: opts.httpRetry ?? { attempts: 5, delayMs: 20 },
    bufferBytes: opts.bufferBytes ?? 1024 * 1024,
  });

  const busCopies = new Map<string, number>();
  /** One stream's EventBridge target: InputPath $.detail, one record per event, into Firehose. */
  const forwardTo =
    (stream: string) =>
    async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const failures: { itemIdentifier: string }[] = [];
      for (const r of event.Records) {
        const detail = (JSON.parse(r.body) as { detail?: unknown }).detail;
        if (typeof detail !== 'object' || detail === null) {
          failures.push({ itemIdentifier: r.messageId });
          continue;
        }
        const uid = (detail as { metadata?: { uid?: unknown } }).metadata?.uid;
        if (typeof uid === 'string') busCopies.set(`${stream} ${uid}`, (busCopies.get(`${stream} ${uid}`) ?? 0) + 1);
        await model.put(stream, JSON.stringify(detail));
      }
      return { batchItemFailures: failures };
    };

  interface Consumer {
    readonly stage: StageName;
    readonly queue: QueueRef;
    readonly handle: (event: SQSEvent) => Promise<SQSBatchResponse>;
  }
  const consumers: Consumer[] = [
    { stage: 'normalize', queue: queues.normalize, handle: (e) => normalizer(e, contexts.normalize) },
    { stage: 'detect', queue: queues.detect, handle: (e) => detector(e, contexts.detect) },
    { stage: 'contain', queue: queues.contain, handle: (e) => contain(e, contexts.contain) },
    { stage: 'securityhub', queue: queues.securityhub, handle: (e) => hub(e, contexts.securityhub) },
    ...specs.map((spec): Consumer => ({ stage: 'forward', queue: streamQueues.get(spec.name) as QueueRef, handle: forwardTo(spec.name) })),
  ];
  const stats = Object.fromEntries(STAGES.map((s) => [s, newStats()])) as Record<StageName, StageStats>;

  /** One Lambda invocation: the ids SQS must redeliver (all of them when the handler throws). */
  async function invoke(c: Consumer, records: SQSRecord[]): Promise<Set<string>> {
    const s = stats[c.stage];
    s.invocations++;
    s.records += records.length;
    const t0 = performance.now();
    try {
      const res = await c.handle({ Records: records });
      s.itemFailures += res.batchItemFailures.length;
      return new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    } catch {
      // Powertools throws when every record failed; any other throw is a crashed invocation.
      s.crashes++;
      return new Set(records.map((r) => r.messageId));
    } finally {
      s.handlerMs += performance.now() - t0;
    }
  }

  /** Receives and handles batches of one queue until it is empty; returns the messages taken. */
  async function pump(c: Consumer, duplicate: boolean): Promise<number> {
    const { stage, queue: q } = c;
    let taken = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PUMP; batch++) {
      const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: q.url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }));
      const messages = got.Messages ?? [];
      if (messages.length === 0) return taken;
      taken += messages.length;
      const records = messages.map((m) => toSqsRecord(m, q.arn));
      stats[stage].redelivered += records.filter((r) => Number(r.attributes.ApproximateReceiveCount) > 1).length;
      let failed = await invoke(c, records);
      if (duplicate) {
        // The same batch again, as SQS may deliver it to a second invocation.
        const again = records.map((r) => ({ ...r, attributes: { ...r.attributes, ApproximateReceiveCount: String(Number(r.attributes.ApproximateReceiveCount) + 1) } }));
        failed = await invoke(c, again);
      }
      const ok = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      const retry = messages.filter((m) => failed.has(m.MessageId ?? ''));
      if (ok.length > 0) {
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: q.url, Entries: ok.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })) }));
        stats[stage].deleted += ok.length;
      }
      if (retry.length > 0) {
        // The visibility timeout, elapsed at once.
        await sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: q.url, Entries: retry.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })) }));
      }
    }
    throw new Error(`${stage}: more than ${MAX_BATCHES_PER_PUMP} batches in one pump`);
  }

  async function depth(url: string): Promise<number> {
    const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(a.Attributes?.['ApproximateNumberOfMessages'] ?? 0) + Number(a.Attributes?.['ApproximateNumberOfMessagesNotVisible'] ?? 0);
  }

  async function listKeys(bucket: string, prefix = ''): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const res = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(res.Contents ?? []).map((o) => o.Key as string));
      token = res.NextContinuationToken;
      if (token === undefined) break;
    }
    return keys.sort();
  }

  async function read(bucket: string, key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from((await got.Body?.transformToByteArray()) ?? new Uint8Array());
  }

  const ndjson = (text: string): OcsfEvent[] =>
    text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as OcsfEvent);

  return {
    names: { ingestBus: names.ingestBus, kitewatchBus: names.kitewatchBus, table: names.table, quarantineBucket: names.quarantineBucket, mappedSecret: mappedSecret.ARN ?? names.mappedSecret },
    stats,
    fired,
    firehoseAttempts: model.attempts,
    transformCalls: model.transformCalls,
    logs,

    profile,
    busCopies,
    async putIngest(envelopes) {
      const out: IngestInput[] = [];
      for (let i = 0; i < envelopes.length; i += 10) {
        const chunk = envelopes.slice(i, i + 10);
        const res = await eventBridge.send(
          new PutEventsCommand({
            Entries: chunk.map((e) => ({
              EventBusName: names.ingestBus,
              Source: String(e['source']),
              DetailType: String(e['detail-type']),
              Detail: JSON.stringify(e['detail']),
              Time: new Date(String(e['time'])),
              Resources: Array.isArray(e['resources']) ? (e['resources'] as string[]) : [],
            })),
          }),
        );
        if ((res.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents onto the ingest bus rejected ${res.FailedEntryCount} entries`);
        chunk.forEach((envelope, j) => {
          const eventId = res.Entries?.[j]?.EventId;
          if (eventId === undefined) throw new Error('PutEvents returned no EventId');
          const detail = envelope['detail'] as { event?: { uuid?: unknown } } | undefined;
          const auditUuid = envelope['detail-type'] === 'Audit Event Logged' && typeof detail?.event?.uuid === 'string' ? detail.event.uuid : undefined;
          out.push({ eventId, envelope, ...(auditUuid !== undefined ? { auditUuid } : {}) });
        });
      }
      return out;
    },

    async sendToQueue(stage, body) {
      const ids: string[] = [];
      for (const c of consumers.filter((x) => x.stage === stage)) {
        const res = await sqs.send(new SendMessageCommand({ QueueUrl: c.queue.url, MessageBody: body }));
        ids.push(res.MessageId as string);
      }
      return ids;
    },

    async drain(options = {}) {
      const duplicate = new Set(options.duplicate ?? []);
      const maxRounds = options.maxRounds ?? 40;
      for (let round = 0; round < maxRounds; round++) {
        let moved = 0;
        const timed = async (c: Consumer): Promise<number> => {
          const t0 = performance.now();
          const n = await pump(c, duplicate.has(c.stage));
          stats[c.stage].pumpMs += performance.now() - t0;
          return n;
        };
        // Upstream to downstream, one batch at a time: moto is the bottleneck, and order keeps runs repeatable.
        for (const c of consumers) moved += await timed(c);
        // No consumer feeds a queue polled before it, and failures are retried inside a pump: after
        // one round every queue is empty. Between chunks of input that is enough; at the end, check.
        if (options.flush === false) return;
        if (moved > 0) continue;
        // Quiet: the buffer interval elapses and Firehose delivers what it holds.
        if ((await model.flushAll()) > 0) continue;
        let left = 0;
        for (const c of consumers) left += await depth(c.queue.url);
        if (left === 0) return;
      }
      throw new Error(`the pipeline did not drain in ${maxRounds} rounds`);
    },

    async quarantined() {
      const out = new Map<string, QuarantineRecord>();
      for (const key of await listKeys(names.quarantineBucket)) out.set(key, JSON.parse((await read(names.quarantineBucket, key)).toString('utf8')) as QuarantineRecord);
      return out;
    },

    async downstream() {
      const s3Events: OcsfEvent[] = [];
      for (const key of await listKeys(names.forwardingBucket, 'ocsf/')) s3Events.push(...ndjson((await read(names.forwardingBucket, key)).toString('utf8')));
      const http = opts.siem.firehose.map((a) => JSON.parse(a.data) as OcsfEvent);
      const httpStream = specs.find((s) => s.kind === 'http');
      const httpBackup: OcsfEvent[] = [];
      if (httpStream !== undefined) {
        for (const key of await listKeys(names.backupBucket, `${httpStream.name}/`)) {
          if (key.includes('/errors/')) continue;
          httpBackup.push(...ndjson(gunzipSync(await read(names.backupBucket, key)).toString('utf8')));
        }
      }
      const errorKeys = [...(await listKeys(names.forwardingBucket, 'errors/')), ...(await listKeys(names.backupBucket)).filter((k) => k.includes('/errors/'))];
      return { s3: s3Events, http, httpBackup, processingFailed: errorKeys.length };
    },

    async deadLettered() {
      const out = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<StageName, number>;
      for (const c of consumers) out[c.stage] += await depth(c.queue.dlqUrl);
      return out;
    },

    async securityHubFindings(ids) {
      const wanted = new Set(ids);
      const out: AwsSecurityFinding[] = [];
      let token: string | undefined;
      for (let page = 0; page < 200; page++) {
        const res = await securityHub.send(new GetFindingsCommand({ MaxResults: 100, NextToken: token }));
        out.push(...(res.Findings ?? []).filter((f) => wanted.has(f.Id ?? '')));
        token = res.NextToken;
        if (token === undefined || token === '') break;
      }
      return out;
    },

    async close() {
      for (const spec of specs) await firehose.send(new DeleteDeliveryStreamCommand({ DeliveryStreamName: spec.name })).catch(() => undefined);
      for (const c of [...stageClients, ...owned]) c.destroy();
    },
  };
}

// ---------------------------------------------------------------- accounting

export interface Conservation {
  /** Input key -> metadata.uid of the normalized event delivered for it. */
  readonly delivered: Map<string, string>;
  /** Input key -> quarantine object key. */
  readonly quarantined: Map<string, string>;
  /** Inputs neither delivered nor quarantined. */
  readonly missing: string[];
  /** Inputs both delivered and quarantined, or delivered as two different events. */
  readonly doubleCounted: string[];
  /** Delivered normalized events or quarantine objects that belong to no input. */
  readonly strays: string[];
}

/**
 * Every input (an EventBridge event id, or `sqs:<message id>` for a message put straight on the
 * queue) against what came out: a normalized event whose metadata.original_event_uid names it
 * (the event id, or the audit uuid of an audit event), or a quarantine record whose input is that
 * event (or whose origin is that message).
 */
export function account(inputs: readonly IngestInput[], rawMessageIds: readonly string[], delivered: readonly OcsfEvent[], quarantine: ReadonlyMap<string, QuarantineRecord>): Conservation {
  const keys = new Set<string>([...inputs.map((i) => i.eventId), ...rawMessageIds.map((id) => `sqs:${id}`)]);
  const alias = new Map<string, string>();
  for (const i of inputs) {
    if (i.auditUuid === undefined) continue;
    // One audit event sent twice is one OCSF event by design (same uid): not countable per input.
    if (alias.has(i.auditUuid)) throw new Error(`two inputs carry audit event ${i.auditUuid}: give each input its own audit uuid`);
    alias.set(i.auditUuid, i.eventId);
  }
  const out: Conservation = { delivered: new Map(), quarantined: new Map(), missing: [], doubleCounted: [], strays: [] };
  for (const e of delivered) {
    if (e.class_uid === 2004 || e.class_uid === 7001) continue;
    const original = String(e.metadata['original_event_uid'] ?? '');
    const key = alias.get(original) ?? original;
    if (!keys.has(key)) {
      out.strays.push(`event ${e.metadata.uid}`);
      continue;
    }
    const prior = out.delivered.get(key);
    if (prior !== undefined && prior !== e.metadata.uid) out.doubleCounted.push(key);
    out.delivered.set(key, e.metadata.uid);
  }
  for (const [objectKey, record] of quarantine) {
    const id = (record.input as { id?: unknown } | undefined)?.id;
    const key = typeof id === 'string' && keys.has(id) ? id : (record.origin ?? '');
    if (!keys.has(key)) {
      out.strays.push(`quarantine ${objectKey}`);
      continue;
    }
    if (out.delivered.has(key) || out.quarantined.has(key)) out.doubleCounted.push(key);
    out.quarantined.set(key, objectKey);
  }
  for (const key of keys) if (!out.delivered.has(key) && !out.quarantined.has(key)) out.missing.push(key);
  return out;
}

/** How many times each metadata.uid occurs. */
export function countByUid(events: readonly OcsfEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events) out.set(e.metadata.uid, (out.get(e.metadata.uid) ?? 0) + 1);
  return out;
}

/** The uids that occur more than once. */
export function repeatedUids(events: readonly OcsfEvent[]): string[] {
  return [...countByUid(events)].filter(([, n]) => n > 1).map(([uid]) => uid);
}

/** Attack fixture envelopes, in file order. */
export function readScenario(name: string): Envelope[] {
  const text = readFileSync(new URL(`../fixtures/scenarios/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Envelope);
}
