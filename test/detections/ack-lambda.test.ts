/**
 * lambdas/detections-ack/process.ts against moto: the acknowledgement lands in the DynamoDB
 * state table (detect: partition) and unusual-ip, reading the same table, stays quiet on it.
 */
import { DeleteTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAck } from '../../lambdas/detections-ack/process.ts';
import { parseConfig } from '../../lib/config/load.ts';
import { agentConnected, uid } from '../../lib/detections/builders.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import type { AnyDetector } from '../../lib/detections/types.ts';
import { unusualIp } from '../../lib/detections/unusual-ip.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';

let db: DynamoDBClient;
const tables: string[] = [];

beforeAll(() => {
  db = new DynamoDBClient(awsClientConfig());
});
afterAll(async () => {
  for (const t of tables) await db.send(new DeleteTableCommand({ TableName: t }));
});

async function freshTable(): Promise<string> {
  const name = await createStateTable(db, uniqueName('kw-ack'));
  tables.push(name);
  return name;
}

const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const at = (d: number) => `2026-03-${String(1 + d).padStart(2, '0')}T09:00:00Z`;
const connect = (d: number, name: string, ip: string): OcsfEvent => {
  const r = normalizeEnvelope(agentConnected({ at: at(d), agent: { uuid: uid('agent', name), name, ip }, token }));
  if (!r.ok) throw new Error(r.reason);
  return r.event;
};

async function run(tableName: string, events: readonly OcsfEvent[]): Promise<OcsfEvent[]> {
  const state = new DynamoDbState({ client: db, tableName });
  const stage = createDetectStage(parseConfig({}), state, { detectors: [unusualIp as AnyDetector] });
  const out: OcsfEvent[] = [];
  for (const e of events) out.push(...(await stage.detect(e)));
  out.push(...(await stage.drain()));
  await stage.flush();
  return out;
}

describe('detections-ack runbook (DynamoDB state)', () => {
  const learn = [connect(0, 'eu-1', '34.240.1.1'), connect(2, 'eu-2', '34.250.3.4'), connect(3, 'fra-1', '35.156.1.1')];
  const later = [connect(13, 'fra-2', '3.120.1.1')];

  it('acknowledges a finding: the same network raises nothing more, another still does', async () => {
    const table = await freshTable();
    const [finding] = await run(table, learn);
    expect(finding).toBeDefined();
    const report = await runAck({ finding }, new DynamoDbState({ client: db, tableName: table }));
    expect(report).toEqual({ acknowledged: true, kind: 'agentToken', entity: token.uuid, networks: ['AS16509', 'DE', 'aws:eu-central-1'] });
    expect(await run(table, later)).toEqual([]);
    expect(await run(table, [connect(15, 'sg-1', '52.220.1.1')])).toHaveLength(1);
    // Writes stay in the detector's partition.
    const items = await db.send(new ScanCommand({ TableName: table }));
    expect(items.Items?.every((i) => Object.values(i).some((v) => v.S?.startsWith('detect:')))).toBe(true);
  });

  it('without the ack the same network raises a new finding (the control)', async () => {
    const table = await freshTable();
    await run(table, learn);
    expect(await run(table, later)).toHaveLength(1);
  });

  it('takes entity type, uuid and networks; refuses bad ids, bad networks and foreign findings without writing', async () => {
    const table = await freshTable();
    const state = new DynamoDbState({ client: db, tableName: table });
    await run(table, learn);
    expect(await runAck({ entityType: 'AgentToken', entity: token.uuid, networks: ['aws:eu-central-1', 'DE', 'AS16509'] }, state)).toMatchObject({ acknowledged: true });
    expect(await run(table, later)).toEqual([]);

    const empty = await freshTable();
    const emptyState = new DynamoDbState({ client: db, tableName: empty });
    const refusals = [
      [{ entityType: 'AgentToken', entity: '../../admin', networks: ['DE'] }, 'not a Buildkite uuid'],
      [{ entityType: 'AgentToken', entity: token.uuid, networks: ['eu-central-1'] }, 'not a network: eu-central-1'],
      [{ entityType: 'Pipeline', entity: token.uuid, networks: ['DE'] }, 'entityType'],
      [{ finding: { class_uid: 2004, metadata: { product: { name: 'Other' } }, finding_info: { analytic: { uid: 'unusual-ip' } } } }, 'not an unusual-ip finding raised by Kitewatch'],
      ['not an object', 'input'],
    ] as const;
    for (const [input, message] of refusals) {
      const r = await runAck(input, emptyState);
      expect(r.acknowledged).toBe(false);
      expect(r.error).toContain(message);
    }
    expect((await db.send(new ScanCommand({ TableName: empty }))).Count).toBe(0);
  });
});
