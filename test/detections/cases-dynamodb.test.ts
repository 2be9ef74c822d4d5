/**
 * The detectors that keep their own state (windows, memories, remembered invitations) and the
 * stage's actor-network memory, run through their cases with state in DynamoDB (moto) instead
 * of the embedded store: the same findings on both.
 */
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES, runCase } from '../../lib/detections/cases.ts';
import { detectorById } from '../../lib/detections/index.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { awsClientConfig, createStateTable, uniqueName } from '../support/moto.ts';

let db: DynamoDBClient;
const tables: string[] = [];

beforeAll(() => {
  db = new DynamoDBClient(awsClientConfig());
});
afterAll(async () => {
  for (const t of tables) await db.send(new DeleteTableCommand({ TableName: t }));
  db.destroy();
});

async function freshTable(): Promise<DynamoDbState> {
  const name = await createStateTable(db, uniqueName('kw-cases'));
  tables.push(name);
  return new DynamoDbState({ client: db, tableName: name });
}

for (const id of ['privilege-grant', 'third-party-access', 'interactive-session', 'account-takeover', 'secret-access'] as const) {
  describe(`${id} cases on DynamoDB`, () => {
    const detector = detectorById(id);
    it.each(CASES[id].map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      if (detector === undefined) throw new Error(`no detector ${id}`);
      const onSqlite = await runCase(detector, c);
      const onDynamo = await runCase(detector, c, { state: freshTable });
      expect(onDynamo.problems).toEqual([]);
      expect(onDynamo.findings).toEqual(onSqlite.findings);
    });
  });
}
