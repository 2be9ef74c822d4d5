/**
 * What the `forwarding` config block asks the CDK app to build, decided in one place for the
 * stateful stack (buckets) and the forwarding stack (streams, Security Hub).
 */
import type { ForwardingConfig } from '../forward/config.ts';

export interface ForwardingPlan {
  /** Any Firehose destination (Splunk, HTTP, S3): a backup bucket, the transform Lambda, streams. */
  readonly firehose: boolean;
  /** The ocsf S3 layout without bucketName: Kitewatch's own forwarding bucket. */
  readonly ownBucket: boolean;
  /** Key prefix of the ocsf layout in whichever bucket it writes to. */
  readonly s3Prefix: string | undefined;
  readonly securityHub: boolean;
  /** The security-lake layout: Glue tables for its Parquet conversion, one stream per OCSF class. */
  readonly securityLake: boolean;
  /** `<namePrefix>-fwd-<destination>`: stream names, and the backup bucket's top-level prefixes. */
  readonly streamNamePrefix: string;
}

export function forwardingPlan(forwarding: ForwardingConfig, stackPrefix: string): ForwardingPlan {
  const d = forwarding.destinations;
  const s3 = d.s3?.layout === 'ocsf' ? d.s3 : undefined;
  return {
    firehose: d.splunkHec !== undefined || d.http.length > 0 || d.s3 !== undefined,
    ownBucket: s3 !== undefined && s3.bucketName === undefined,
    s3Prefix: s3?.prefix,
    securityHub: d.securityHub.enabled,
    securityLake: d.s3?.layout === 'security-lake',
    streamNamePrefix: stackPrefix.toLowerCase(),
  };
}

/** Whether the app needs a forwarding stack at all. */
export function forwardsAnything(plan: ForwardingPlan): boolean {
  return plan.firehose || plan.securityHub;
}
