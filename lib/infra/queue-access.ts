/**
 * Queue access for functions, with the key used only through SQS. CDK's grants on a KMS-encrypted
 * queue (grantConsumeMessages, grantSendMessages, and so SqsEventSource) add kms:Decrypt (and
 * more, for senders) on the key with no condition: the role could then decrypt anything the
 * Kitewatch key protects, directly. These grant the queue actions, and the key actions only when
 * SQS makes the call (kms:ViaService): the role reads and writes only the queues it is granted.
 */
import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** The key condition of a data-key call SQS makes for `queue`. */
export function viaSqsFor(queue: sqs.IQueue): Record<string, Record<string, string>> {
  return { StringEquals: { 'kms:ViaService': `sqs.${Stack.of(queue).region}.amazonaws.com` } };
}

/**
 * The same queue without its key, for grants and event sources: SQS actions only. The key
 * actions come from grantKeyViaSqs.
 */
export function withoutKey(scope: Construct, id: string, queue: sqs.IQueue): sqs.IQueue {
  return sqs.Queue.fromQueueAttributes(scope, id, { queueArn: queue.queueArn, queueUrl: queue.queueUrl, queueName: queue.queueName });
}

/** kms actions on `key` for `grantee`, only as SQS uses them for `queue`. */
export function grantKeyViaSqs(grantee: iam.IGrantable, key: kms.IKey, queue: sqs.IQueue, actions: readonly string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...actions], resources: [key.keyArn], conditions: viaSqsFor(queue) }));
}

/** What a consumer needs: receive and delete, and kms:Decrypt through SQS. */
export function grantConsumeViaSqs(scope: Construct, id: string, grantee: iam.IGrantable, queue: sqs.IQueue, key: kms.IKey): sqs.IQueue {
  const plain = withoutKey(scope, id, queue);
  grantKeyViaSqs(grantee, key, queue, ['kms:Decrypt']);
  return plain;
}

/** What a sender needs: SendMessage, and the data key through SQS (GenerateDataKey, and Decrypt to check it). */
export function grantSendViaSqs(scope: Construct, id: string, grantee: iam.IGrantable, queue: sqs.IQueue, key: kms.IKey): void {
  withoutKey(scope, id, queue).grantSendMessages(grantee);
  grantKeyViaSqs(grantee, key, queue, ['kms:GenerateDataKey', 'kms:Decrypt']);
}
