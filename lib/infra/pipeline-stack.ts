import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { DetectEnv } from '../../lambdas/detect/env.ts';
import { AckEnv } from '../../lambdas/detections-ack/env.ts';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import type { DetectorsConfig } from '../detections/config.ts';
import { resentMemoryDays } from '../detections/seen.ts';
import { orgSlugFromSource } from '../contracts/buildkite.ts';
import { Backfill } from './backfill.ts';
import { BlindnessAlarms } from './blindness.ts';
import { grantPublish } from './bus-access.ts';
import type { AwsConfig } from './config.ts';
import { IpDataLayer } from './ip-data-layer.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { QueueRoute } from './queue-route.ts';
import { ruleNamed } from './rules.ts';
import type { StatefulResources } from './stateful-stack.ts';

/** The normalizer's Powertools service name: its metrics' `service` dimension, which the blindness alarms watch. */
const NORMALIZER_SERVICE = 'normalize';

export interface PipelineStackProps extends StackProps {
  readonly config: AwsConfig;
  /** The validated `detectors` block; the detector Lambda gets it as JSON. */
  readonly detectors: DetectorsConfig;
  readonly stateful: StatefulResources;
}

/**
 * The event path from Buildkite to findings: normalizer and detector, each a KitewatchFunction
 * behind a QueueRoute. Replaceable at any time; holds nothing that cannot be redelivered.
 * Containment and forwarding have stacks of their own.
 */
export class PipelineStack extends Stack {
  readonly normalizer: KitewatchFunction;
  readonly ingest: QueueRoute;
  readonly blindness: BlindnessAlarms;
  /** Absent without a partner event source (the org) or aws.containment.buildkiteApiTokenSecretArn (the token). */
  readonly backfill: Backfill | undefined;
  readonly ipData: IpDataLayer;
  readonly detector: KitewatchFunction;
  readonly detect: QueueRoute;
  /** The detections-ack runbook: `kitewatch detections ack` against the DynamoDB state. */
  readonly ack: KitewatchFunction;
  /** Lets responders invoke the detections-ack runbook (and nothing else). */
  readonly ackResponderPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const buses = { buildkite: stateful.ingestBus, kitewatch: stateful.kitewatchBus };

    this.normalizer = new KitewatchFunction(this, 'Normalizer', {
      entry: 'lambdas/normalize/handler.ts',
      serviceName: NORMALIZER_SERVICE,
      description: 'Kitewatch: Buildkite EventBridge events -> OCSF 1.8 on the Kitewatch bus; invalid ones to quarantine',
      memoryMiB: config.normalizer.memoryMiB,
      timeout: Duration.seconds(config.normalizer.timeoutSeconds),
      environment: {
        [NormalizeEnv.eventBusName]: stateful.kitewatchBus.eventBusName,
        [NormalizeEnv.quarantineBucket]: stateful.quarantineBucket.bucketName,
        // The partner source is the partner bus's name; a custom bus has no configured source.
        ...(config.partnerEventBusName === undefined ? {} : { [NormalizeEnv.expectedSource]: config.partnerEventBusName }),
      },
      key: stateful.key,
      config,
      invokedBy: 'sqs',
    });

    grantPublish(stateful.kitewatchBus, this.normalizer.role, 'normalize');
    stateful.grantQuarantineWrite(this.normalizer.fn);

    this.ingest = new QueueRoute(this, 'Ingest', {
      rule: ruleNamed('buildkite-ingest'),
      buses,
      consumer: this.normalizer,
      consumerTarget: 'normalize',
      key: stateful.key,
      alarmTopic: stateful.alarmTopic,
      maxReceiveCount: config.maxReceiveCount,
      retainDeadLetters: config.retainStatefulResources,
      batchSize: config.normalizer.batchSize,
      maxBatchingWindow: Duration.seconds(config.normalizer.maxBatchingWindowSeconds),
    });

    this.blindness = new BlindnessAlarms(this, 'Blindness', { normalizerService: NORMALIZER_SERVICE, alarmTopic: stateful.alarmTopic, config: config.blindness });

    // The backfill needs the org (from the partner source) and a Buildkite token (containment's secret).
    const org = config.partnerEventBusName === undefined ? undefined : orgSlugFromSource(config.partnerEventBusName);
    const apiTokenSecretArn = config.containment.buildkiteApiTokenSecretArn;
    if (org !== undefined && apiTokenSecretArn !== undefined) {
      this.backfill = new Backfill(this, 'AuditBackfill', {
        config,
        key: stateful.key,
        kitewatchBus: stateful.kitewatchBus,
        alarmTopic: stateful.alarmTopic,
        ingestQueue: this.ingest.queue,
        silenceAlarm: this.blindness.silence,
        org,
        apiTokenSecretArn,
        stateTable: stateful.stateTable,
        grantStateItemsRead: (role, keys) => stateful.grantStateItemsRead(role, keys),
      });
    }

    this.ipData = new IpDataLayer(this, 'IpData');
    this.detector = new KitewatchFunction(this, 'Detector', {
      entry: 'lambdas/detect/handler.ts',
      serviceName: 'detect',
      description: 'Kitewatch: normalized OCSF events -> detectors (state in DynamoDB) -> Detection Findings on the Kitewatch bus',
      memoryMiB: config.detector.memoryMiB,
      timeout: Duration.seconds(config.detector.timeoutSeconds),
      environment: {
        [DetectEnv.eventBusName]: stateful.kitewatchBus.eventBusName,
        [DetectEnv.stateTableName]: stateful.stateTable.tableName,
        [DetectEnv.detectorsConfig]: JSON.stringify(props.detectors),
        [DetectEnv.ipDataDir]: this.ipData.dataDir,
        [DetectEnv.resentMemoryDays]: String(resentMemoryDays(config.blindness)),
      },
      layers: [this.ipData.layer],
      key: stateful.key,
      config,
      invokedBy: 'sqs',
    });
    stateful.grantStateReadWrite(this.detector.role, 'detect');
    grantPublish(stateful.kitewatchBus, this.detector.role, 'detect');

    this.detect = new QueueRoute(this, 'Detect', {
      rule: ruleNamed('normalized-to-detect'),
      buses,
      consumer: this.detector,
      consumerTarget: 'detect',
      key: stateful.key,
      alarmTopic: stateful.alarmTopic,
      maxReceiveCount: config.maxReceiveCount,
      retainDeadLetters: config.retainStatefulResources,
      batchSize: config.detector.batchSize,
      maxBatchingWindow: Duration.seconds(config.detector.maxBatchingWindowSeconds),
    });

    // Acknowledging writes the detector's partition only: the same grant as the detector's.
    this.ack = new KitewatchFunction(this, 'DetectionsAck', {
      entry: 'lambdas/detections-ack/handler.ts',
      functionName: `${config.stackPrefix}-detections-ack`,
      serviceName: 'detections-ack',
      description: 'Kitewatch runbook: acknowledge the network of an unusual-ip finding (no finding for it again)',
      memoryMiB: 256,
      timeout: Duration.seconds(30),
      environment: { [AckEnv.stateTableName]: stateful.stateTable.tableName },
      key: stateful.key,
      config,
      invokedBy: 'responder',
    });
    stateful.grantStateReadWrite(this.ack.role, 'detect');
    this.ackResponderPolicy = new iam.ManagedPolicy(this, 'DetectionsAckResponderPolicy', {
      description: 'Kitewatch responders: acknowledge an unusual-ip finding (the detections-ack runbook)',
      statements: [new iam.PolicyStatement({ sid: 'AcknowledgeFindings', actions: ['lambda:InvokeFunction'], resources: [this.ack.fn.functionArn] })],
    });
    new CfnOutput(this, 'DetectionsAckFunction', {
      value: this.ack.fn.functionName,
      description: 'aws lambda invoke --function-name <this> with {"finding": ...} or {"entityType","entity","networks"}',
    });
    new CfnOutput(this, 'DetectionsAckResponderPolicyArn', { value: this.ackResponderPolicy.managedPolicyArn, description: 'Attach to the people or roles who acknowledge findings' });
  }
}
