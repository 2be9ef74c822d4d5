/**
 * What the `forwarding` config block asks the CDK app to build, decided in one place for the
 * stateful stack (buckets) and the forwarding stack (streams, Security Hub).
 */
import type { ForwardingConfig } from '../forward/config.ts';
import { DeployConfigError } from './config.ts';

export interface ForwardingPlan {
  /** Any Firehose destination (Splunk, HTTP, S3): a backup bucket, the transform Lambda, streams. */
  readonly firehose: boolean;
  /** The ocsf S3 layout without bucketName: Kitewatch's own forwarding bucket. */
  readonly ownBucket: boolean;
  /** Key prefix of the ocsf layout in whichever bucket it writes to. */
  readonly s3Prefix: string | undefined;
  readonly securityHub: boolean;
  /** `<namePrefix>-fwd-<destination>`: stream names, and the backup bucket's top-level prefixes. */
  readonly streamNamePrefix: string;
}

export function forwardingPlan(forwarding: ForwardingConfig, stackPrefix: string): ForwardingPlan {
  const d = forwarding.destinations;
  if (d.s3?.layout === 'security-lake') {
    throw new DeployConfigError(
      'forwarding.destinations.s3.layout "security-lake" cannot be deployed by the CDK app yet: its Parquet conversion needs a Glue table per OCSF class, which the app does not create. ' +
        'Use layout "ocsf" (NDJSON partitioned by class and day) for now (see docs/deploy.md).',
    );
  }
  const s3 = d.s3?.layout === 'ocsf' ? d.s3 : undefined;
  return {
    firehose: d.splunkHec !== undefined || d.http.length > 0 || s3 !== undefined,
    ownBucket: s3 !== undefined && s3.bucketName === undefined,
    s3Prefix: s3?.prefix,
    securityHub: d.securityHub.enabled,
    streamNamePrefix: stackPrefix.toLowerCase(),
  };
}

/** Whether the app needs a forwarding stack at all. */
export function forwardsAnything(plan: ForwardingPlan): boolean {
  return plan.firehose || plan.securityHub;
}
