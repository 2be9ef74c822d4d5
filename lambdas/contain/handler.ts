import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { lazyDynamoDbClient, lazyIamClient, lazySecretsManagerClient, lazySfnClient } from '../../lib/aws/lazy.ts';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseContainEnv } from './env.ts';

// EventBridge carries the Remediation Activities most findings produce: loaded at cold start. The
// others load on first use: the state table only in enforce mode when an action is taken, Secrets
// Manager for the Buildkite token or a rotation, IAM for revoke-role-sessions, Step Functions for approvals.
export const handler = compose({
  settings: parseContainEnv(process.env),
  eventBridge: new EventBridgeClient({}),
  dynamoDb: lazyDynamoDbClient(),
  secretsManager: lazySecretsManagerClient(),
  iam: lazyIamClient(),
  sfn: lazySfnClient(),
  logger: createLogger(),
});
