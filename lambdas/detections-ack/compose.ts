import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { runAck, type AckReport } from './process.ts';

/** Everything the detections-ack runbook is made of. */
export interface AckDeps {
  readonly settings: { readonly stateTableName: string };
  readonly dynamoDb: Pick<DynamoDBClient, 'send'>;
  readonly logger: Logger;
}

/** The detections-ack runbook Lambda, as handler.ts deploys it. */
export function compose(deps: AckDeps) {
  const state = new DynamoDbState({ client: deps.dynamoDb, tableName: deps.settings.stateTableName });
  return middy(async (event: unknown): Promise<AckReport> => {
    const report = await runAck(event, state);
    deps.logger.info(report.acknowledged ? 'acknowledged' : 'refused', { report });
    return report;
  }).use(injectLambdaContext(deps.logger, { resetKeys: true }));
}
