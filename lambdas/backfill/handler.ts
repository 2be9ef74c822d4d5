import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { lazyDynamoDbClient, lazySecretsManagerClient } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseBackfillEnv } from './env.ts';

// Every run sends to the ingest queue: SQS at cold start. Secrets Manager for the token, on the first API call.
const settings = parseBackfillEnv(process.env);
export const handler = compose({
  settings,
  secretsManager: lazySecretsManagerClient(),
  sqs: new SQSClient({}),
  logger: createLogger(),
  ...(settings.stateTableName !== undefined ? { state: new DynamoDbState({ client: lazyDynamoDbClient(), tableName: settings.stateTableName }) } : {}),
});
