import * as z from 'zod';
import { DEFAULT_SOURCE_BASE, SOURCE_NAME_MAX_LENGTH, SOURCE_NAME_PATTERN, SOURCE_SLUGS, sourceNameIssues } from './security-lake.ts';

/**
 * `forwarding` in kitewatch.config.json: which SIEMs receive Kitewatch's OCSF events, findings and
 * remediation activities on AWS. Owned by the forwarding module. Each destination present
 * here becomes one Firehose delivery stream (Security Hub: one queue and function); the local CLI
 * picks its sinks with `--sink` instead and reads only `splunkHec.index` / `sourcetypePrefix`.
 */

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+$/;
const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;
const ACCOUNT = /^\d{12}$/;
/** The OCSF classes Kitewatch emits (lib/ocsf/types.ts CLASSES). */
export const FORWARDED_CLASSES = [2004, 3001, 3002, 3004, 3005, 3006, 6003, 7001] as const;

/** Why an endpoint URL is unusable for Firehose, or undefined when it is fine. */
function httpsProblem(value: string, allowQuery: boolean): string | undefined {
  if (!URL.canParse(value)) return 'is not a URL';
  const url = new URL(value);
  if (url.protocol !== 'https:') return 'must use https:// (Firehose only delivers over TLS)';
  if (url.username !== '' || url.password !== '') return 'must not carry credentials; put them in Secrets Manager';
  if (url.hash !== '') return 'must not have a #fragment';
  if (!allowQuery && url.search !== '') return 'must not have a ?query';
  return undefined;
}

function httpsUrl(allowQuery: boolean) {
  return z.string().superRefine((value, ctx) => {
    const problem = httpsProblem(value, allowQuery);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem} (got "${value}")` });
  });
}

function buffering(limits: { interval: [number, number, number]; size: [number, number, number] }, what: string) {
  const [iMin, iMax, iDef] = limits.interval;
  const [sMin, sMax, sDef] = limits.size;
  return z
    .object({
      intervalSeconds: z.number().int().min(iMin).max(iMax).default(iDef).describe(`Longest time Firehose buffers before delivering to ${what} (${iMin}-${iMax} s).`),
      sizeMiB: z.number().int().min(sMin).max(sMax).default(sDef).describe(`Buffer size that triggers a delivery to ${what} (${sMin}-${sMax} MiB).`),
    })
    .strict()
    .prefault({})
    .describe(`Firehose buffering hints for ${what}: records are delivered when either limit is reached.`);
}

const retryDurationSeconds = (what: string) =>
  z.number().int().min(0).max(7200).default(3600).describe(`How long Firehose keeps retrying ${what} before the records go to the encrypted backup bucket (0-7200 s).`);

export const SplunkHecDestination = z
  .object({
    endpoint: httpsUrl(false).describe('HEC base URL, e.g. https://http-inputs-firehose-acme.splunkcloud.com:443. Events are posted to /services/collector/event under it.'),
    tokenSecretArn: z
      .string()
      .regex(SECRET_ARN, 'must be a Secrets Manager secret ARN')
      .describe('Secrets Manager secret holding the HEC token as JSON {"hec_token": "..."} (the key Firehose reads). Never put the token in config.'),
    index: z
      .string()
      .regex(/^[a-z0-9_][a-z0-9_-]{0,79}$/, 'a Splunk index name: lowercase letters, digits, _ and -')
      .optional()
      .describe("Splunk index of every event. Unset: the HEC token's default index."),
    sourcetypePrefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,40}$/, 'letters, digits, _ . : -')
      .default('ocsf:')
      .describe('Prefix of the per-class sourcetype: ocsf:api_activity, ocsf:detection_finding, ...'),
    ackTimeoutSeconds: z.number().int().min(180).max(600).default(180).describe('How long Firehose waits for the HEC indexer acknowledgment (180-600 s).'),
    retryDurationSeconds: retryDurationSeconds('Splunk'),
    buffering: buffering({ interval: [0, 60, 60], size: [1, 5, 5] }, 'Splunk'),
  })
  .strict();

export const HttpDestination = z
  .object({
    name: z
      .string()
      .regex(/^[a-z][a-z0-9-]{0,31}$/, 'lowercase letters, digits and dashes, starting with a letter')
      .describe('Short name of the destination (datadog, elastic, ...): names the delivery stream, its metrics and its alarm.'),
    endpoint: httpsUrl(true).describe("The destination's Firehose HTTP endpoint URL (Datadog, Elastic, Sumo Logic, ... document theirs). HTTPS only."),
    accessKeySecretArn: z
      .string()
      .regex(SECRET_ARN, 'must be a Secrets Manager secret ARN')
      .describe('Secrets Manager secret holding the access key as JSON {"api_key": "..."}; Firehose sends it in X-Amz-Firehose-Access-Key.'),
    contentEncoding: z.enum(['NONE', 'GZIP']).default('GZIP').describe('Compression of the request body (the destination must support it).'),
    commonAttributes: z
      .record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/), z.string().max(256))
      .default({})
      .describe('Attributes sent with every request in X-Amz-Firehose-Common-Attributes (e.g. tags the destination understands).'),
    retryDurationSeconds: retryDurationSeconds('the endpoint'),
    buffering: buffering({ interval: [0, 900, 60], size: [1, 64, 1] }, 'the endpoint'),
  })
  .strict();

export const SecurityLakeOptions = z
  .object({
    bucketName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
      .describe('The Security Lake bucket of the region (aws-security-data-lake-<region>-<id>).'),
    sourceName: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,18}$/, 'letters, digits, _ . and -')
      .default(DEFAULT_SOURCE_BASE)
      .describe(
        `Base of the custom source names. Security Lake wants one OCSF class per source and names of at most ${SOURCE_NAME_MAX_LENGTH} characters, so each class gets <sourceName>-<short class>: ${Object.values(
          SOURCE_SLUGS,
        )
          .map((slug) => `${DEFAULT_SOURCE_BASE}-${slug}`)
          .join(', ')}. Keep it stable: it names the S3 prefix, the Glue table and the provider role.`,
      ),
    sourceNames: z
      .record(z.string().regex(/^\d{4}$/, 'an OCSF class_uid'), z.string().regex(SOURCE_NAME_PATTERN, 'letters, digits, _ . and -').max(SOURCE_NAME_MAX_LENGTH))
      .default({})
      .describe(`Custom source name per class_uid, where it differs from <sourceName>-<short class> (e.g. {"6003": "bk-api"}; at most ${SOURCE_NAME_MAX_LENGTH} characters).`),
    sourceVersion: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,32}$/)
      .optional()
      .describe('Custom source version, when the source location Security Lake shows has a version segment (ext/<source>/<version>/).'),
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)')
      .optional()
      .describe(
        "The customer managed KMS key of the Security Lake bucket, when the lake has one: Kitewatch's delivery role, the crawler role and the registration function get the key permissions Security Lake documents. Its key policy must allow them too.",
      ),
    register: z
      .boolean()
      .default(true)
      .describe(
        'Register the custom sources in Security Lake from the stack (CreateCustomLogSource on deploy, DeleteCustomLogSource on destroy). Needs the data lake in this account and aws.region; false: register them yourself (docs/deploy.md).',
      ),
    externalId: z
      .string()
      .regex(/^[\w+=,.@:/-]{2,1224}$/, '2-1224 of letters, digits and +=,.@:/-')
      .default('kitewatch')
      .describe('External id in the trust policy of the provider role Security Lake creates for each source (providerIdentity.externalId; the principal is this account). Not a secret.'),
    accountId: z.string().regex(ACCOUNT, 'must be a 12-digit AWS account id').optional().describe('accountId= partition value. Unset: aws.account.'),
    region: z.string().regex(REGION, 'must be an AWS region').optional().describe('region= partition value. Unset: aws.region.'),
    classes: z
      .array(z.literal([...FORWARDED_CLASSES]))
      .min(1)
      .default([...FORWARDED_CLASSES])
      .describe('OCSF classes delivered to Security Lake (one custom source and delivery stream each).'),
  })
  .strict()
  .superRefine((lake, ctx) => {
    for (const issue of sourceNameIssues(lake.classes, lake)) ctx.addIssue({ code: 'custom', path: [...issue.path], message: issue.message });
  });

export const S3Destination = z
  .object({
    layout: z
      .enum(['ocsf', 'security-lake'])
      .default('ocsf')
      .describe('ocsf: NDJSON under <prefix>class=<class>/eventDay=YYYYMMDD/; security-lake: Parquet under ext/<source>/region=/accountId=/eventDay=/ in the Security Lake bucket.'),
    prefix: z
      .string()
      .regex(/^([A-Za-z0-9_.=-]+\/)*$/, 'path segments ending with "/", e.g. ocsf/')
      .default('ocsf/')
      .describe('Key prefix of the ocsf layout.'),
    bucketName: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name')
      .optional()
      .describe("Existing bucket for the ocsf layout. Unset: Kitewatch's own encrypted forwarding bucket."),
    compression: z.enum(['UNCOMPRESSED', 'GZIP']).default('GZIP').describe('Compression of the ocsf-layout objects (security-lake writes Parquet, compressed by Firehose).'),
    buffering: buffering({ interval: [60, 900, 300], size: [64, 128, 128] }, 'S3'),
    securityLake: SecurityLakeOptions.optional().describe('Required with layout security-lake.'),
  })
  .strict()
  .superRefine((s3, ctx) => {
    if (s3.layout === 'security-lake' && s3.securityLake === undefined) {
      ctx.addIssue({ code: 'custom', path: ['securityLake'], message: 'is required with layout "security-lake" (at least bucketName)' });
    }
    if (s3.layout === 'ocsf' && s3.securityLake !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['securityLake'], message: 'only applies with layout "security-lake"' });
    }
  });

export const SecurityHubDestination = z
  .object({
    enabled: z.boolean().default(false).describe('Import Detection Findings into AWS Security Hub (ASFF, BatchImportFindings).'),
    region: z.string().regex(REGION, 'must be an AWS region').optional().describe('Region of the Security Hub to import into. Unset: the deployment region.'),
    batchSize: z.number().int().min(1).max(100).default(100).describe('Findings per invocation of the forwarder (one BatchImportFindings call holds at most 100).'),
    maxBatchingWindowSeconds: z.number().int().min(0).max(300).default(5).describe('How long the SQS poller waits to fill a batch.'),
  })
  .strict()
  .refine((h) => h.batchSize <= 10 || h.maxBatchingWindowSeconds >= 1, {
    message: 'SQS allows a batchSize above 10 only with maxBatchingWindowSeconds of at least 1',
    path: ['maxBatchingWindowSeconds'],
  })
  .prefault({});

export const ForwardingConfig = z
  .object({
    destinations: z
      .object({
        splunkHec: SplunkHecDestination.optional().describe('Splunk HTTP Event Collector (Firehose Splunk destination).'),
        http: z.array(HttpDestination).max(5).default([]).describe('Generic HTTPS endpoints (Datadog, Elastic, ...): one Firehose HTTP endpoint stream each.'),
        s3: S3Destination.optional().describe('S3, partitioned by OCSF class and day, or in the Security Lake custom source layout.'),
        securityHub: SecurityHubDestination.describe('AWS Security Hub, for Detection Findings only.'),
      })
      .strict()
      .superRefine((d, ctx) => {
        const seen = new Set<string>();
        d.http.forEach((h, i) => {
          if (seen.has(h.name)) ctx.addIssue({ code: 'custom', path: ['http', i, 'name'], message: `"${h.name}" is used twice` });
          seen.add(h.name);
        });
      })
      .prefault({})
      .describe('Where Kitewatch events go. None configured: events stay on the Kitewatch bus and its archive.'),
    backupRetentionDays: z.number().int().min(1).default(365).describe('Days the encrypted backup bucket keeps records that no destination accepted.'),
    alarmFreshnessSeconds: z.number().int().min(60).max(86400).default(900).describe('Alarm when the oldest undelivered record of a stream is older than this (DataFreshness).'),
  })
  .strict()
  .prefault({});

export type ForwardingConfig = z.infer<typeof ForwardingConfig>;
export type SplunkHecDestination = z.infer<typeof SplunkHecDestination>;
export type HttpDestination = z.infer<typeof HttpDestination>;
export type S3Destination = z.infer<typeof S3Destination>;
export type SecurityLakeOptions = z.infer<typeof SecurityLakeOptions>;
export type SecurityHubDestination = z.infer<typeof SecurityHubDestination>;
