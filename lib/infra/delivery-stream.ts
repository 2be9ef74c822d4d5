import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import { Construct } from 'constructs';
import type { DeliveryStreamSpec } from '../forward/firehose-streams.ts';
import { RULE_TARGET_RETRY, type RuleDeadLetterQueue } from './rule-dead-letter-queue.ts';

/**
 * The name CDK's L1 classes give a CloudFormation property: `HECEndpoint` -> `hecEndpoint`,
 * `RoleARN` -> `roleArn`, `AWSKMSKeyARN` -> `awskmsKeyArn`, `SizeInMBs` -> `sizeInMBs`,
 * `S3BackupMode` -> `s3BackupMode`.
 */
export function cdkPropertyName(key: string): string {
  let out = key.replace(/^[A-Z]+(?=[a-z])/, (run) => run.slice(0, -1).toLowerCase() + run.slice(-1));
  if (out === key) out = key.replace(/^[A-Z]+/, (run) => run.toLowerCase());
  return out.replace(/(?<=.)([A-Z])([A-Z]+)$/, (_m, first: string, rest: string) => `${first}${rest.toLowerCase()}`);
}

/** CreateDeliveryStream input (the SDK's, which is CloudFormation's) -> CfnDeliveryStream props. Values are kept as they are. */
export function toCdkProps(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toCdkProps);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [cdkPropertyName(k), toCdkProps(v)]));
}

export interface DeliveryStreamProps {
  /** One stream of lib/forward/firehose-streams.ts deliveryStreams(). */
  readonly spec: DeliveryStreamSpec;
}

/**
 * One Firehose delivery stream exactly as lib/forward/firehose-streams.ts specifies it, as the
 * L1 CfnDeliveryStream (Splunk and HTTP endpoint destinations have no L2). CDK drops an L1
 * property it does not know, so test/infra compares every rendered stream with its spec.
 */
export class DeliveryStream extends Construct {
  readonly resource: firehose.CfnDeliveryStream;
  readonly spec: DeliveryStreamSpec;

  constructor(scope: Construct, id: string, props: DeliveryStreamProps) {
    super(scope, id);
    this.spec = props.spec;
    const { DeliveryStreamName, DeliveryStreamType, ...rest } = props.spec.input;
    this.resource = new firehose.CfnDeliveryStream(this, 'Resource', {
      deliveryStreamName: DeliveryStreamName,
      deliveryStreamType: DeliveryStreamType,
      ...(toCdkProps(rest) as Omit<firehose.CfnDeliveryStreamProps, 'deliveryStreamName' | 'deliveryStreamType'>),
    });
  }

  get deliveryStreamArn(): string {
    return this.resource.attrArn;
  }
}

/**
 * EventBridge -> Firehose with what CDK's Firehose target lacks: a dead-letter queue and a
 * retry policy. The record is the OCSF event itself (`$.detail`), one per record.
 */
export class FirehoseRuleTarget implements events.IRuleTarget {
  readonly #stream: DeliveryStream;
  readonly #role: iam.IRole;
  readonly #deadLetters: RuleDeadLetterQueue;
  readonly #input: events.RuleTargetInput;

  constructor(stream: DeliveryStream, role: iam.IRole, deadLetters: RuleDeadLetterQueue, input: events.RuleTargetInput) {
    this.#stream = stream;
    this.#role = role;
    this.#deadLetters = deadLetters;
    this.#input = input;
  }

  bind(rule: events.IRule): events.RuleTargetConfig {
    this.#deadLetters.allow(rule);
    return {
      arn: this.#stream.deliveryStreamArn,
      role: this.#role,
      input: this.#input,
      deadLetterConfig: { arn: this.#deadLetters.queue.queueArn },
      retryPolicy: { maximumRetryAttempts: RULE_TARGET_RETRY.retryAttempts, maximumEventAgeInSeconds: RULE_TARGET_RETRY.maxEventAge.toSeconds() },
      targetResource: this.#stream.resource,
    };
  }
}
