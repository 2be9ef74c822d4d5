import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { stsCrossAccountAccess } from '../../lib/aws/cross-account.ts';
import { lazyDynamoDbClient, lazyIamClient, lazySecretsManagerClient, lazySfnClient } from '../../lib/aws/lazy.ts';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { stepFunctionsApprovalGateway } from '../../lib/containment/approval.ts';
import { ContainmentEngine } from '../../lib/containment/engine.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import { createLogger } from '../shared/logger.ts';
import { parseContainEnv } from './env.ts';
import { createContainProcessor } from './process.ts';

// Built once per cold start and injected: the engine and process.ts hold the logic. EventBridge
// carries the Remediation Activities most findings produce: loaded at cold start. The others load
// on first use: the state table only in enforce mode when an action is taken, Secrets Manager for
// the Buildkite token or a rotation, IAM for revoke-role-sessions, Step Functions for approvals.
const settings = parseContainEnv(process.env);
const logger = createLogger();
const secretsManager = lazySecretsManagerClient();
const mode = settings.config.mode;
const engine =
  mode === 'off'
    ? undefined
    : new ContainmentEngine({
        config: settings.config,
        mode,
        state: new DynamoDbState({ client: lazyDynamoDbClient(), tableName: settings.stateTable }),
        execution: {
          buildkite: new BuildkiteClient({
            apiUrl: settings.apiUrl,
            graphqlUrl: settings.graphqlUrl,
            token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }),
            // Leave room in the function timeout: a long rate-limit wait fails the record instead.
            maxWaitMs: 20_000,
          }),
          secretsManager,
          iam: lazyIamClient(),
          now: Date.now,
          log: (line) => logger.info(line),
          crossAccount: settings.config.accounts.length > 0 ? stsCrossAccountAccess(settings.config.accounts) : undefined,
        },
        ...(settings.approvalStateMachineArn !== undefined ? { approvals: stepFunctionsApprovalGateway(lazySfnClient(), settings.approvalStateMachineArn) } : {}),
      });
const processor = createContainProcessor({
  contain: async (finding) => (engine === undefined ? [] : engine.contain(finding)),
  eventBridge: new EventBridgeClient({}),
  eventBusName: settings.eventBusName,
  logger,
});

export const handler = middy(processor.processBatch).use(injectLambdaContext(logger, { resetKeys: true }));
