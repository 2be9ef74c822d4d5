import { SQSClient } from '@aws-sdk/client-sqs';
import { lazySecretsManagerClient } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseBackfillEnv } from './env.ts';

// Every run sends to the ingest queue: SQS at cold start. Secrets Manager for the token, on the first API call.
export const handler = compose({ settings: parseBackfillEnv(process.env), secretsManager: lazySecretsManagerClient(), sqs: new SQSClient({}), logger: createLogger() });
