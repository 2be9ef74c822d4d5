import * as z from 'zod';

/** Retention values CloudWatch Logs accepts; anything else fails at deploy, so reject it at synth. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const PARTNER_BUS_PATTERN = /^aws\.partner\/buildkite\.com\/[a-z0-9][a-z0-9-]*\/[A-Za-z0-9._-]+$/;

export const NormalizerConfig = z
  .object({
    memoryMiB: z
      .number()
      .int()
      .min(128)
      .max(10240)
      .default(256)
      .describe('Memory of the normalizer Lambda in MiB (CPU scales with it).'),
    timeoutSeconds: z
      .number()
      .int()
      .min(5)
      .max(120)
      .default(30)
      .describe('Timeout of one normalizer invocation; the queue visibility timeout is six times this.'),
    batchSize: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(25)
      .describe('SQS messages per invocation. Published to EventBridge in PutEvents calls of at most 10 entries.'),
    maxBatchingWindowSeconds: z
      .number()
      .int()
      .min(0)
      .max(300)
      .default(2)
      .describe('How long the SQS poller waits to fill a batch before invoking (0: invoke at once).'),
  })
  .strict()
  .refine((n) => n.batchSize <= 10 || n.maxBatchingWindowSeconds >= 1, {
    message: 'SQS allows a batchSize above 10 only with maxBatchingWindowSeconds of at least 1',
    path: ['maxBatchingWindowSeconds'],
  })
  .prefault({});

/** `aws` in kitewatch.config.json: what `cdk deploy` needs. Owned by the CDK app (issue 3). */
export const AwsConfig = z
  .object({
    partnerEventBusName: z
      .string()
      .regex(
        PARTNER_BUS_PATTERN,
        'must look like aws.partner/buildkite.com/<org-slug>/<id> (EventBridge console > Partner event sources)',
      )
      .optional()
      .describe(
        "Buildkite's partner event bus, aws.partner/buildkite.com/<org>/<id> (EventBridge console > Partner event sources). Required unless createCustomBus is true.",
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
    archiveRetentionDays: z
      .number()
      .int()
      .min(0)
      .default(90)
      .describe('Days the EventBridge archive on the Kitewatch bus keeps events for replay (0: indefinitely).'),
    quarantineRetentionDays: z
      .number()
      .int()
      .min(1)
      .default(365)
      .describe('Days rejected events stay in the quarantine bucket for inspection and replay.'),
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(', ')} (CloudWatch Logs retention values)`,
      })
      .default(365)
      .describe('Retention of the Lambda log groups in days (a CloudWatch Logs retention value).'),
    logLevel: z
      .enum(['DEBUG', 'INFO', 'WARN', 'ERROR'])
      .default('INFO')
      .describe('Powertools log level of the Lambdas. DEBUG may log event payloads; do not leave it on.'),
    tracing: z.boolean().default(true).describe('Turn on AWS X-Ray active tracing for the Lambdas.'),
    reservedConcurrency: z
      .number()
      .int()
      .min(2, 'must be at least 2 (the SQS event source maximum concurrency is capped to it, and its minimum is 2)')
      .nullable()
      .default(5)
      .describe(
        'Reserved concurrency of each Lambda: caps parallel writes downstream and guarantees capacity. null: none (needed on new accounts whose concurrency quota is 10).',
      ),
    maxReceiveCount: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(5)
      .describe('Deliveries of an SQS message before it moves to the dead-letter queue (and raises the alarm).'),
    alarmEmail: z
      .email()
      .optional()
      .describe('Email subscribed to the alarm topic (dead-letter queues); confirm the subscription mail after deploy.'),
    retainStatefulResources: z
      .boolean()
      .default(true)
      .describe(
        'Keep the key, table, buckets and archive when the stack is deleted. Set false only for throwaway test stacks.',
      ),
    normalizer: NormalizerConfig.describe('Sizing of the normalizer Lambda and its SQS event source.'),
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
