import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { stepFunctionsApprovalGateway } from '../../lib/containment/approval.ts';
import { ContainmentEngine } from '../../lib/containment/engine.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { createLogger } from '../shared/logger.ts';
import { parseContainEnv } from './env.ts';
import { createContainProcessor } from './process.ts';

// Built once per cold start and injected: the engine and process.ts hold the logic.
const settings = parseContainEnv(process.env);
const logger = createLogger();
const secretsManager = new SecretsManagerClient({});
const mode = settings.config.mode;
const engine =
  mode === 'off'
    ? undefined
    : new ContainmentEngine({
        config: settings.config,
        mode,
        state: new DynamoDbState({ client: new DynamoDBClient({}), tableName: settings.stateTable }),
        execution: {
          buildkite: new BuildkiteClient({
            apiUrl: settings.apiUrl,
            graphqlUrl: settings.graphqlUrl,
            token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }),
            // Leave room in the function timeout: a long rate-limit wait fails the record instead.
            maxWaitMs: 20_000,
          }),
          secretsManager,
          iam: new IAMClient({}),
          now: Date.now,
          log: (line) => logger.info(line),
        },
        ...(settings.approvalStateMachineArn !== undefined ? { approvals: stepFunctionsApprovalGateway(new SFNClient({}), settings.approvalStateMachineArn) } : {}),
      });
const processor = createContainProcessor({
  contain: async (finding) => (engine === undefined ? [] : engine.contain(finding)),
  eventBridge: new EventBridgeClient({}),
  eventBusName: settings.eventBusName,
  logger,
});

export const handler = middy(processor.processBatch).use(injectLambdaContext(logger, { resetKeys: true }));
