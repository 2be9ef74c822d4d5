/**
 * The normalizer's AWS surroundings on moto: a quarantine bucket, a Kitewatch bus, and a queue
 * subscribed to the bus (as later stages will be) to read back what was published.
 */
import { CreateEventBusCommand, EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { KITEWATCH_SOURCE } from '../../../lib/engine/bus.ts';
import type { QuarantineRecord } from '../../../lib/engine/quarantine.ts';
import { awsClientConfig, uniqueName } from '../../support/moto.ts';

export interface IngestHarness {
  readonly eventBusName: string;
  readonly quarantineBucket: string;
  readonly eventBridge: EventBridgeClient;
  readonly s3: S3Client;
  /** Everything published on the bus since the last call (EventBridge envelopes). */
  drainPublished(expected: number): Promise<Record<string, unknown>[]>;
  /** Quarantine objects by key. */
  quarantined(): Promise<Map<string, QuarantineRecord>>;
}

export async function createIngestHarness(): Promise<IngestHarness> {
  const config = awsClientConfig();
  const eventBridge = new EventBridgeClient(config);
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sqs = new SQSClient(config);
  const eventBusName = uniqueName('kitewatch');
  const quarantineBucket = uniqueName('quarantine');

  await s3.send(new CreateBucketCommand({ Bucket: quarantineBucket }));
  await eventBridge.send(new CreateEventBusCommand({ Name: eventBusName }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('published') }));
  const queueUrl = QueueUrl as string;
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const ruleName = uniqueName('everything');
  await eventBridge.send(new PutRuleCommand({ Name: ruleName, EventBusName: eventBusName, EventPattern: JSON.stringify({ source: [KITEWATCH_SOURCE] }) }));
  await eventBridge.send(new PutTargetsCommand({ Rule: ruleName, EventBusName: eventBusName, Targets: [{ Id: 'q', Arn: attrs.Attributes?.['QueueArn'] }] }));

  return {
    eventBusName,
    quarantineBucket,
    eventBridge,
    s3,
    async drainPublished(expected) {
      const out: Record<string, unknown>[] = [];
      for (let attempt = 0; attempt < 10 && out.length < expected; attempt++) {
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        const messages = got.Messages ?? [];
        if (messages.length === 0) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        for (const m of messages) out.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
        await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
      return out;
    },
    async quarantined() {
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: quarantineBucket }));
      const out = new Map<string, QuarantineRecord>();
      for (const object of listed.Contents ?? []) {
        const got = await s3.send(new GetObjectCommand({ Bucket: quarantineBucket, Key: object.Key }));
        out.set(object.Key as string, JSON.parse(await (got.Body?.transformToString() ?? Promise.resolve('{}'))) as QuarantineRecord);
      }
      return out;
    },
  };
}
