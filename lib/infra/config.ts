import * as z from 'zod';

/** Retention values CloudWatch Logs accepts; anything else fails at deploy, so reject it at synth. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const PARTNER_BUS_PATTERN = /^aws\.partner\/buildkite\.com\/[a-z0-9][a-z0-9-]*\/[A-Za-z0-9._-]+$/;

/** Sizing of a Lambda that reads an SQS queue: memory, timeout and the event source batching. */
export interface QueueStageDefaults {
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
}

/** Extra words for a key's description (docs/configuration.md is generated from them). */
interface QueueStageNotes {
  readonly timeout?: string;
  readonly batchSize?: string;
}

function queueStageConfig(stage: string, defaults: QueueStageDefaults, notes: QueueStageNotes = {}) {
  return z
    .object({
      memoryMiB: z.number().int().min(128).max(10240).default(defaults.memoryMiB).describe(`Memory of the ${stage} Lambda in MiB (CPU scales with it).`),
      timeoutSeconds: z
        .number()
        .int()
        .min(5)
        .max(120)
        .default(defaults.timeoutSeconds)
        .describe(`Timeout of one ${stage} invocation; the queue visibility timeout is six times this.${notes.timeout ?? ''}`),
      batchSize: z
        .number()
        .int()
        .min(1)
        .max(100)
        .default(defaults.batchSize)
        .describe(`SQS messages per ${stage} invocation.${notes.batchSize ?? ''}`),
      maxBatchingWindowSeconds: z
        .number()
        .int()
        .min(0)
        .max(300)
        .default(defaults.maxBatchingWindowSeconds)
        .describe('How long the SQS poller waits to fill a batch before invoking (0: invoke at once).'),
    })
    .strict()
    .refine((n) => n.batchSize <= 10 || n.maxBatchingWindowSeconds >= 1, {
      message: 'SQS allows a batchSize above 10 only with maxBatchingWindowSeconds of at least 1',
      path: ['maxBatchingWindowSeconds'],
    });
}

export const NormalizerConfig = queueStageConfig(
  'normalizer',
  { memoryMiB: 256, timeoutSeconds: 30, batchSize: 25, maxBatchingWindowSeconds: 2 },
  { batchSize: ' Published to EventBridge in PutEvents calls of at most 10 entries.' },
).prefault({});

export const DetectorConfig = queueStageConfig(
  'detector',
  // The IP tables (about 40 MB of CSV) are parsed on the first lookup of a cold start.
  { memoryMiB: 1024, timeoutSeconds: 60, batchSize: 25, maxBatchingWindowSeconds: 2 },
  { timeout: ' A cold start also loads the IP enrichment tables from the layer.' },
).prefault({});

/** `aws.blindness`: the alarms that see Kitewatch going blind, and the backfill that fills the gap. */
export const BlindnessConfig = z
  .object({
    silenceMinutes: z
      .number()
      .int()
      .min(5)
      .max(1440)
      .default(60)
      .describe(
        'Minutes without any Buildkite event before the silence alarm fires (missing data counts as silence). An org with CI running sends agent and job events every few minutes; raise it for orgs idle for hours.',
      ),
    quarantineRatePercent: z.number().min(0).max(100).default(5).describe('Alarm when more than this percentage of the Buildkite events in 15 minutes is quarantined.'),
    backfillSeedDays: z.number().int().min(0).max(365).default(7).describe('Days of audit events the backfill Lambda reads at first deploy to seed detector baselines (0: none).'),
    backfillMaxReachDays: z
      .number()
      .int()
      .min(1)
      .max(365)
      .default(7)
      .describe(
        'After a silence or a monitoring-disabled finding, the backfill reaches back to the last event seen before the gap, but never more than this many days (nor more than backfillSeedDays when seeding is on).',
      ),
    resentEventMemoryDays: z
      .number()
      .int()
      .min(1)
      .max(400)
      .optional()
      .describe(
        'Days the detectors remember the ids of the events they counted, so a re-sent event (a backfill overlapping live delivery, a redelivered batch) is not counted twice. Default: the larger of backfillSeedDays and backfillMaxReachDays, plus one.',
      ),
  })
  .strict()
  .superRefine((b, ctx) => {
    const reach = Math.max(b.backfillSeedDays, b.backfillMaxReachDays);
    if (b.resentEventMemoryDays !== undefined && b.resentEventMemoryDays <= reach) {
      ctx.addIssue({
        code: 'custom',
        path: ['resentEventMemoryDays'],
        message: `must be more than the backfill's reach (${reach} days, the larger of backfillSeedDays and backfillMaxReachDays), or a backfill would count events again; set it to ${reach + 1} or more, or leave it out`,
      });
    }
  })
  .prefault({});
export type BlindnessConfig = z.infer<typeof BlindnessConfig>;
/** An SNS topic ARN; the region is checked against aws.region at synth. */
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d:\d{12}:[A-Za-z0-9_-]{1,256}$/;

/** Complete Secrets Manager ARN: IAM grants name the secret exactly, suffix included. */
const SECRET_COMPLETE_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const secretArn = (what: string) =>
  z.string().regex(SECRET_COMPLETE_ARN, 'must be the complete secret ARN, with the 6-character suffix Secrets Manager adds (Secrets Manager console > secret > Secret ARN)').describe(what);

/** `aws.containment`: what deploying containment needs beyond the `containment` policy block. */
export const ContainmentDeployConfig = z
  .object({
    buildkiteApiTokenSecretArn: secretArn(
      'Secret holding the Buildkite API token the contain, runbook and agent-token rotation Lambdas use (plain string, or JSON {"token": "..."}). Required unless containment.mode is off.',
    ).optional(),
    agentTokenSecretArns: z
      .array(secretArn('A secret holding a Buildkite cluster agent token as JSON {"token", "token_id", "cluster_id", "org"}.'))
      .default([])
      .describe('Secrets holding Buildkite agent tokens: each gets the agent-token rotation Lambda and a rotation schedule.'),
    agentTokenRotationDays: z.number().int().min(1).max(365).default(30).describe('Days between scheduled rotations of the agent token secrets.'),
    memoryMiB: z.number().int().min(128).max(10240).default(256).describe('Memory of the contain Lambda in MiB.'),
    timeoutSeconds: z
      .number()
      .int()
      .min(30, 'must be at least 30: a Buildkite rate-limit wait alone may take 20 s')
      .max(120)
      .default(60)
      .describe('Timeout of one contain invocation; the queue visibility timeout is six times this.'),
    batchSize: z.number().int().min(1).max(10).default(5).describe('Findings per contain invocation (each may call Buildkite several times).'),
    maxBatchingWindowSeconds: z.number().int().min(0).max(300).default(1).describe('How long the SQS poller waits to fill a batch before invoking the contain Lambda.'),
    runbookTimeoutSeconds: z.number().int().min(30).max(900).default(120).describe('Timeout of the runbook Lambdas (a responder, or the approval state machine, waits for the report).'),
    oidcRoleBoundaryPolicy: z
      .string()
      .regex(/^([A-Za-z0-9+=,.@_-]+\/)*[A-Za-z0-9+=,.@_-]{1,128}$/, 'must be a managed policy name, with its path if it has one (e.g. boundaries/buildkite-oidc)')
      .optional()
      .describe(
        'The permissions boundary every role in containment.oidcRoles carries (a managed policy name, with its path). revoke-role-sessions may call iam:PutRolePolicy only on roles with this boundary, so whatever it writes cannot grant beyond it. Required when containment.oidcRoles is not empty.',
      ),
    respondersMayActDirectly: z
      .boolean()
      .default(false)
      .describe(
        "Let the responder policy invoke the action runbooks for real. Off (the default), responders may invoke approve-action and each action runbook's dry-run alias only: every real action passes the approval state machine.",
      ),
  })
  .strict()
  .prefault({});

/** `aws` in kitewatch.config.json: what `cdk deploy` needs. Owned by the CDK app. */
export const AwsConfig = z
  .object({
    partnerEventBusName: z
      .string()
      .regex(PARTNER_BUS_PATTERN, 'must look like aws.partner/buildkite.com/<org-slug>/<id> (EventBridge console > Partner event sources)')
      .optional()
      .describe(
        "Buildkite's partner event bus, aws.partner/buildkite.com/<org>/<id> (EventBridge console > Partner event sources). Required unless createCustomBus is true. When set, events whose source is not this partner source are quarantined (kitewatch replay too).",
      ),
    createCustomBus: z
      .boolean()
      .default(false)
      .describe(
        'Create a custom ingest bus instead of consuming the partner bus: for test accounts, or when another account forwards Buildkite events here. Mutually exclusive with partnerEventBusName.',
      ),
    customBusAllowedAccounts: z
      .array(z.string().regex(/^\d{12}$/, 'must be a 12-digit AWS account id'))
      .default([])
      .describe('With createCustomBus: AWS accounts allowed to PutEvents onto the ingest bus (cross-account forwarding).'),
    account: z
      .string()
      .regex(/^\d{12}$/, 'must be a 12-digit AWS account id')
      .optional()
      .describe('AWS account to deploy to. Unset: environment-agnostic templates (the CLI credentials decide).'),
    region: z
      .string()
      .regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, 'must be an AWS region such as eu-west-1')
      .optional()
      .describe('AWS region to deploy to; must be the region where the Buildkite partner event source was created.'),
    stackPrefix: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,40}$/, 'letters, digits and dashes, starting with a letter')
      .default('Kitewatch')
      .describe('Prefix of the CloudFormation stack names (<prefix>-Stateful, <prefix>-Pipeline); change it to deploy a second copy.'),
    eventBusName: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,256}$/, 'letters, digits, dot, dash and underscore')
      .default('kitewatch')
      .describe("Name of Kitewatch's own event bus, where normalized OCSF events, findings and remediations are published."),
    archiveRetentionDays: z.number().int().min(0).default(90).describe('Days the EventBridge archive on the Kitewatch bus keeps events for replay (0: indefinitely).'),
    quarantineRetentionDays: z.number().int().min(1).default(365).describe('Days rejected events stay in the quarantine bucket for inspection and replay.'),
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(', ')} (CloudWatch Logs retention values)`,
      })
      .default(365)
      .describe('Retention of the Lambda log groups in days (a CloudWatch Logs retention value).'),
    logLevel: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO').describe('Powertools log level of the Lambdas. DEBUG may log event payloads; do not leave it on.'),
    tracing: z.boolean().default(true).describe('Turn on AWS X-Ray active tracing for the Lambdas.'),
    reservedConcurrency: z
      .number()
      .int()
      .min(2, 'must be at least 2 (the SQS event source maximum concurrency is capped to it, and its minimum is 2)')
      .nullable()
      .default(5)
      .describe('Reserved concurrency of each Lambda: caps parallel writes downstream and guarantees capacity. null: none (needed on new accounts whose concurrency quota is 10).'),
    maxReceiveCount: z.number().int().min(1).max(1000).default(5).describe('Deliveries of an SQS message before it moves to the dead-letter queue (and raises the alarm).'),
    alarmEmail: z.email().optional().describe('Email subscribed to the alarm topic (every alarm, and approval requests); confirm the subscription mail after deploy.'),
    alarmTopicArns: z
      .array(z.string().regex(SNS_TOPIC_ARN, 'must be an SNS topic ARN, arn:aws:sns:<region>:<account>:<topic-name> (SNS console > Topics > ARN)'))
      .default([])
      .describe(
        'Existing SNS topics every alarm and approval request is also sent to: a pager integration, or a topic Amazon Q Developer in chat applications (AWS Chatbot) posts to Slack or Teams. Same region as the deployment.',
      ),
    alarms: z
      .enum(['notify', 'none'])
      .default('notify')
      .describe(
        'notify: synth refuses a deployment without alarmEmail or alarmTopicArns, so alarms and approval requests reach someone. none: deploy with alarms that notify no one (synth warns); for test accounts.',
      ),
    retainStatefulResources: z.boolean().default(true).describe('Keep the key, table, buckets and archive when the stack is deleted. Set false only for throwaway test stacks.'),
    normalizer: NormalizerConfig.describe('Sizing of the normalizer Lambda and its SQS event source.'),
    blindness: BlindnessConfig.describe('Alarms on silence, quarantine rate and format drift, and the backfill after a gap.'),
    detector: DetectorConfig.describe('Sizing of the detector Lambda and its SQS event source.'),
    containment: ContainmentDeployConfig.describe('Deploying containment: secrets the Lambdas read and the contain Lambda sizing. The policy itself is the top-level `containment` block.'),
  })
  .strict()
  .superRefine((aws, ctx) => {
    if (aws.createCustomBus && aws.partnerEventBusName !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['createCustomBus'],
        message: 'set either partnerEventBusName or createCustomBus: true, not both',
      });
    }
    if (aws.alarms === 'none' && (aws.alarmEmail !== undefined || aws.alarmTopicArns.length > 0)) {
      ctx.addIssue({
        code: 'custom',
        path: ['alarms'],
        message: 'is "none" but alarmEmail or alarmTopicArns names a destination: remove one or the other',
      });
    }
    if (!aws.createCustomBus && aws.customBusAllowedAccounts.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['customBusAllowedAccounts'],
        message: 'only applies with createCustomBus: true',
      });
    }
  })
  .prefault({});

export type AwsConfig = z.infer<typeof AwsConfig>;
export type NormalizerConfig = z.infer<typeof NormalizerConfig>;
export type DetectorConfig = z.infer<typeof DetectorConfig>;
export type ContainmentDeployConfig = z.infer<typeof ContainmentDeployConfig>;

export class DeployConfigError extends Error {
  override readonly name = 'DeployConfigError';
}

/** Where Buildkite events enter: the partner bus by name, or a custom bus this app creates. */
export type IngestSource = { readonly kind: 'partner'; readonly busName: string } | { readonly kind: 'custom' };

/**
 * The synth-time check the schema cannot make on its own: the CLI runs happily without a bus,
 * `cdk synth` cannot.
 */
export function ingestSourceOf(aws: AwsConfig): IngestSource {
  if (aws.createCustomBus) return { kind: 'custom' };
  if (aws.partnerEventBusName !== undefined) return { kind: 'partner', busName: aws.partnerEventBusName };
  throw new DeployConfigError(
    'aws.partnerEventBusName is not set. Set it to the Buildkite partner event bus ' +
      '(aws.partner/buildkite.com/<org-slug>/<id>, EventBridge console > Partner event sources), ' +
      'or set aws.createCustomBus: true for a test deployment. Pass the config with ' +
      '`-c configFile=path/to/kitewatch.config.json` (see docs/deploy.md).',
  );
}

/** The Buildkite API token secret containment needs; its absence stops the synth with the fix. */
export function buildkiteApiTokenSecretArnOf(aws: AwsConfig, containmentMode: string): string {
  const arn = aws.containment.buildkiteApiTokenSecretArn;
  if (arn !== undefined) return arn;
  throw new DeployConfigError(
    `aws.containment.buildkiteApiTokenSecretArn is not set, and containment.mode is "${containmentMode}". ` +
      'The contain, runbook and agent-token rotation Lambdas read the Buildkite API token from Secrets Manager: ' +
      'store the token in a secret and set its complete ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf), ' +
      'or set containment.mode: "off" to deploy without containment (see docs/deploy.md).',
  );
}

/** Where alarms and approval requests go; a deployment must name one, or say `alarms: "none"`. */
export interface AlarmDestinations {
  readonly email: string | undefined;
  readonly topicArns: readonly string[];
  /** `alarms: "none"`: the synth warns. */
  readonly none: boolean;
}

export function alarmDestinationsOf(aws: AwsConfig): AlarmDestinations {
  const destinations = { email: aws.alarmEmail, topicArns: aws.alarmTopicArns, none: aws.alarms === 'none' };
  if (!destinations.none && destinations.email === undefined && destinations.topicArns.length === 0) {
    throw new DeployConfigError(
      'aws.alarmEmail and aws.alarmTopicArns are both unset, so every alarm (dead letters, Lambda errors, stuck queues, failed approvals) ' +
        'and every approval request would go nowhere. Set aws.alarmEmail to a mailbox, or aws.alarmTopicArns to SNS topics ' +
        '(a pager, or a topic Amazon Q Developer in chat applications posts to a channel), or set aws.alarms: "none" for a test account (see docs/deploy.md).',
    );
  }
  return destinations;
}
