import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import type { AwsConfig } from './config.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { QueueRoute } from './queue-route.ts';
import { ruleNamed } from './rules.ts';
import type { StatefulResources } from './stateful-stack.ts';

export interface PipelineStackProps extends StackProps {
  readonly config: AwsConfig;
  readonly stateful: StatefulResources;
}

/**
 * Functions, queues and rules: replaceable at any time, holds nothing that cannot be redelivered.
 * Later stages (detect, contain, forward) add a KitewatchFunction and a QueueRoute each.
 */
export class PipelineStack extends Stack {
  readonly normalizer: KitewatchFunction;
  readonly ingest: QueueRoute;

  constructor(scope: Construct, id: string, props: PipelineStackProps) {
    super(scope, id, props);
    const { config, stateful } = props;
    const buses = { buildkite: stateful.ingestBus, kitewatch: stateful.kitewatchBus };

    this.normalizer = new KitewatchFunction(this, 'Normalizer', {
      entry: 'lambdas/normalize/handler.ts',
      serviceName: 'normalize',
      description: 'Kitewatch: Buildkite EventBridge events -> OCSF 1.8 on the Kitewatch bus; invalid ones to quarantine',
      memoryMiB: config.normalizer.memoryMiB,
      timeout: Duration.seconds(config.normalizer.timeoutSeconds),
      environment: {
        [NormalizeEnv.eventBusName]: stateful.kitewatchBus.eventBusName,
        [NormalizeEnv.quarantineBucket]: stateful.quarantineBucket.bucketName,
      },
      key: stateful.key,
      config,
    });

    stateful.kitewatchBus.grantPutEventsTo(this.normalizer.fn);
    stateful.grantQuarantineWrite(this.normalizer.fn);

    this.ingest = new QueueRoute(this, 'Ingest', {
      rule: ruleNamed('buildkite-ingest'),
      buses,
      consumer: this.normalizer,
      consumerTarget: 'normalize',
      key: stateful.key,
      alarmTopic: stateful.alarmTopic,
      maxReceiveCount: config.maxReceiveCount,
      batchSize: config.normalizer.batchSize,
      maxBatchingWindow: Duration.seconds(config.normalizer.maxBatchingWindowSeconds),
    });
  }
}

