import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IAMClient } from '@aws-sdk/client-iam';
import { stsCrossAccountAccess, type CrossAccountClientConfig } from '../../lib/aws/cross-account.ts';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import { stepFunctionsApprovalGateway, type SfnPort } from '../../lib/containment/approval.ts';
import { ContainmentEngine } from '../../lib/containment/engine.ts';
import type { SecretsManagerPort } from '../../lib/containment/rotation.ts';
import { DynamoDbState } from '../../lib/state/dynamodb.ts';
import type { ContainSettings } from './env.ts';
import { createContainProcessor, type ContainProcessorDeps } from './process.ts';

/** Everything the contain Lambda is made of. The handler passes clients that load on first use, except EventBridge. */
export interface ContainDeps {
  readonly settings: ContainSettings;
  /** Remediation Activities, which most findings produce. */
  readonly eventBridge: ContainProcessorDeps['eventBridge'];
  /** The state table: idempotency records and blast-radius counters (enforce mode, when an action is taken). */
  readonly dynamoDb: Pick<DynamoDBClient, 'send'>;
  /** The Buildkite API token, and rotate-secret. */
  readonly secretsManager: SecretsManagerPort;
  /** revoke-role-sessions. */
  readonly iam: Pick<IAMClient, 'send'>;
  /** Approvals, when settings name the approval state machine. */
  readonly sfn: SfnPort;
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
  /** STS and the assumed clients, for containment.accounts. @default the environment's region and credentials */
  readonly crossAccountClients?: CrossAccountClientConfig;
}

/** Leaves room in the function timeout: a longer Buildkite rate-limit wait fails the record instead. */
export const BUILDKITE_MAX_WAIT_MS = 20_000;

/** The contain Lambda, as handler.ts deploys it and test/e2e/harness.ts runs it on moto. */
export function compose(deps: ContainDeps) {
  const { settings, logger } = deps;
  const { config } = settings;
  const mode = config.mode;
  const engine =
    mode === 'off'
      ? undefined
      : new ContainmentEngine({
          config,
          mode,
          state: new DynamoDbState({ client: deps.dynamoDb, tableName: settings.stateTable }),
          execution: {
            buildkite: new BuildkiteClient({
              apiUrl: settings.apiUrl,
              graphqlUrl: settings.graphqlUrl,
              token: secretsManagerTokenProvider({ client: deps.secretsManager, secretId: settings.apiTokenSecretArn }),
              maxWaitMs: BUILDKITE_MAX_WAIT_MS,
              // Method, path, status and attempt: never a header or a body.
              log: (line) => logger.debug(line),
            }),
            secretsManager: deps.secretsManager,
            iam: deps.iam,
            now: deps.now ?? Date.now,
            log: (line) => logger.info(line),
            crossAccount: config.accounts.length > 0 ? stsCrossAccountAccess(config.accounts, deps.crossAccountClients) : undefined,
          },
          ...(settings.approvalStateMachineArn !== undefined ? { approvals: stepFunctionsApprovalGateway(deps.sfn, settings.approvalStateMachineArn) } : {}),
        });
  const processor = createContainProcessor({
    contain: async (finding) => (engine === undefined ? [] : engine.contain(finding)),
    eventBridge: deps.eventBridge,
    eventBusName: settings.eventBusName,
    logger,
  });
  return middy(processor.processBatch).use(injectLambdaContext(logger, { resetKeys: true }));
}
