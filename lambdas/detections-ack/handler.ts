import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseAckEnv } from './env.ts';

export const handler = compose({ settings: parseAckEnv(process.env), dynamoDb: new DynamoDBClient({}), logger: createLogger() });
