import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SQSClient } from '@aws-sdk/client-sqs';
import { lazySecretsManagerClient } from '../../lib/aws/lazy.ts';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { createLogger } from '../shared/logger.ts';
import { parseBackfillEnv } from './env.ts';
import { runBackfill } from './process.ts';

// Built once per cold start and injected: process.ts holds the logic and is tested without Lambda.
const settings = parseBackfillEnv(process.env);
const logger = createLogger();
const deps = {
  buildkite: new BuildkiteClient({
    apiUrl: settings.apiUrl,
    token: secretsManagerTokenProvider({ client: lazySecretsManagerClient(), secretId: settings.apiTokenSecretArn }),
    log: (line: string) => logger.debug(line),
  }),
  sqs: new SQSClient({}),
  queueUrl: settings.ingestQueueUrl,
  org: settings.org,
  envelope: { source: settings.source },
  settings,
  log: (message: string, attributes: Record<string, unknown>) => logger.info(message, attributes),
};

/** Seed at first deploy, fill a gap after monitoring-disabled or a silence, or run by hand (docs/runbooks.md). */
export const handler = middy((event: unknown) => runBackfill(event, deps)).use(injectLambdaContext(logger, { resetKeys: true }));
