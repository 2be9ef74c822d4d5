import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { createLogger } from '../shared/logger.ts';
import { parseAckEnv } from './env.ts';
import { runAck, type AckReport } from './process.ts';

// Built once per cold start; process.ts holds the logic and is tested against moto.
const settings = parseAckEnv(process.env);
const logger = createLogger();
const state = new DynamoDbState({ client: new DynamoDBClient({}), tableName: settings.stateTableName });

export const handler = middy(async (event: unknown): Promise<AckReport> => {
  const report = await runAck(event, state);
  logger.info(report.acknowledged ? 'acknowledged' : 'refused', { report });
  return report;
}).use(injectLambdaContext(logger, { resetKeys: true }));
