/**
 * rules/findings-to-containment.json on moto's EventBridge: a finding published on the bus reaches
 * the containment queue once; an archive replay of it (which carries a top-level `replay-name`)
 * does not, while the forwarding rule takes both. The local matcher agrees on the same envelopes.
 */
import { readFileSync } from 'node:fs';
import {
  CreateArchiveCommand,
  CreateEventBusCommand,
  DescribeReplayCommand,
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  StartReplayCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetailType, KITEWATCH_SOURCE } from '../../lib/engine/bus.ts';
import { loadRules } from '../../lib/engine/rules.ts';
import { awsClientConfig, uniqueName } from '../support/moto.ts';

const eb = new EventBridgeClient(awsClientConfig());
const sqs = new SQSClient(awsClientConfig());
const rules = loadRules();
const ruleFile = (name: string): { eventPattern: unknown } => JSON.parse(readFileSync(new URL(`../../rules/${name}.json`, import.meta.url), 'utf8')) as { eventPattern: unknown };

let busArn: string;
let busName: string;
const queues: Record<string, string> = {};

async function queueFor(rule: string): Promise<void> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName(`kw-${rule}`).slice(0, 80) }))).QueueUrl ?? '';
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.['QueueArn'];
  const name = uniqueName(rule).slice(0, 64);
  // The rule file's pattern, verbatim, as the CDK app deploys it.
  await eb.send(new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify(ruleFile(rule).eventPattern) }));
  await eb.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'q', Arn: arn }] }));
  queues[rule] = url;
}

async function drain(rule: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (;;) {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues[rule], MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    const messages = res.Messages ?? [];
    if (messages.length === 0) return out;
    for (const m of messages) out.push(JSON.parse(m.Body ?? '{}') as Record<string, unknown>);
  }
}

beforeAll(async () => {
  busName = uniqueName('kw-replay');
  busArn = (await eb.send(new CreateEventBusCommand({ Name: busName }))).EventBusArn ?? '';
  await queueFor('findings-to-containment');
  await queueFor('ocsf-to-forwarding');
});

afterAll(() => {
  eb.destroy();
  sqs.destroy();
});

describe('archive replays do not reach containment', () => {
  it('delivers the live finding to containment once, and the replayed copy only to forwarding', async () => {
    const archive = uniqueName('kw-arch').slice(0, 48);
    await eb.send(new CreateArchiveCommand({ ArchiveName: archive, EventSourceArn: busArn }));
    const before = new Date(Date.now() - 60_000);
    const finding = { class_uid: 2004, finding_info: { uid: 'kw-replay-test' }, time: Date.now() };
    const put = await eb.send(
      new PutEventsCommand({
        Entries: [{ EventBusName: busName, Source: KITEWATCH_SOURCE, DetailType: DetailType.finding, Detail: JSON.stringify(finding) }],
      }),
    );
    expect(put.FailedEntryCount).toBe(0);
    const live = await drain('findings-to-containment');
    expect(live.map((e) => (e['detail'] as typeof finding).finding_info.uid)).toEqual(['kw-replay-test']);
    expect(live[0]).not.toHaveProperty('replay-name');
    expect(await drain('ocsf-to-forwarding')).toHaveLength(1);

    const replayName = uniqueName('kw-rp').slice(0, 64);
    await eb.send(
      new StartReplayCommand({
        ReplayName: replayName,
        EventSourceArn: `${busArn.replace(':event-bus/', ':archive/').replace(busName, archive)}`,
        EventStartTime: before,
        EventEndTime: new Date(Date.now() + 60_000),
        Destination: { Arn: busArn },
      }),
    );
    expect((await eb.send(new DescribeReplayCommand({ ReplayName: replayName }))).State).toBe('COMPLETED');

    // The replay happened (forwarding got it, named by the replay) but containment did not.
    const replayedToForwarding = await drain('ocsf-to-forwarding');
    expect(replayedToForwarding.map((e) => e['replay-name'])).toEqual([replayName]);
    expect(await drain('findings-to-containment')).toEqual([]);

    // The local engine's matcher decides the same on the same two envelopes.
    const contain = rules.find((r) => r.name === 'findings-to-containment');
    expect(contain?.matches(live[0])).toBe(true);
    expect(contain?.matches(replayedToForwarding[0])).toBe(false);
  });
});
