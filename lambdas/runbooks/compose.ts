import type { Logger } from '@aws-lambda-powertools/logger';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { IAMClient } from '@aws-sdk/client-iam';
import { stsCrossAccountAccess, type CrossAccountClientConfig } from '../../lib/aws/cross-account.ts';
import type { RunbookId } from '../../lib/containment/actions.ts';
import type { SfnPort } from '../../lib/containment/approval.ts';
import type { SecretsManagerPort } from '../../lib/containment/rotation.ts';
import type { RunbookSettings } from './env.ts';
import { buildkiteFromSecret, createRunbookDeps, createRunbookLambda, type RunbookWiring } from './shared.ts';

type Reach = 'buildkite' | 'secretsManager' | 'iam' | 'sfn' | 'crossAccount';

/**
 * What each runbook's action may reach. Any other client is wired as an error that names the
 * runbook, so a runbook can never act through a service its own IAM policy was not meant for.
 */
export const RUNBOOK_REACH: Readonly<Record<RunbookId, readonly Reach[]>> = {
  'approve-action': ['sfn'],
  'archive-pipeline': ['buildkite'],
  'cancel-build': ['buildkite'],
  'cancel-job': ['buildkite'],
  'pause-queue': ['buildkite'],
  'remove-member': ['buildkite'],
  'revoke-agent-token': ['buildkite'],
  'revoke-grant': ['buildkite'],
  'stop-agent': ['buildkite'],
  'revoke-role-sessions': ['iam', 'crossAccount'],
  // Secrets Manager, and the Buildkite API for agent-token secrets.
  'rotate-secret': ['secretsManager', 'buildkite', 'crossAccount'],
};

/** Everything a runbook Lambda is made of. The handler passes clients that load on first use, except EventBridge. */
export interface RunbookLambdaDeps {
  readonly settings: RunbookSettings;
  /** The Kitewatch bus, when settings name it: every run publishes its Remediation Activity. */
  readonly eventBridge: Pick<EventBridgeClient, 'send'>;
  /** The Buildkite API token, and rotate-secret's secrets. */
  readonly secretsManager: SecretsManagerPort;
  readonly iam: Pick<IAMClient, 'send'>;
  readonly sfn: SfnPort;
  readonly logger: Logger;
  /** @default Date.now */
  readonly now?: () => number;
  /** STS and the assumed clients, for containment.accounts. @default the environment's region and credentials */
  readonly crossAccountClients?: CrossAccountClientConfig;
}

/** One runbook Lambda, as lambdas/runbooks/<runbook>/handler.ts deploys it. */
export function compose(runbook: RunbookId, deps: RunbookLambdaDeps) {
  const { settings } = deps;
  const reach = new Set(RUNBOOK_REACH[runbook]);
  const wiring: RunbookWiring = {
    ...(reach.has('buildkite') ? { buildkite: buildkiteFromSecret(settings, deps.secretsManager) } : {}),
    ...(reach.has('secretsManager') ? { secretsManager: deps.secretsManager } : {}),
    ...(reach.has('iam') ? { iam: deps.iam } : {}),
    ...(reach.has('sfn') ? { sfn: deps.sfn } : {}),
    ...(reach.has('crossAccount') && settings.accounts.length > 0 ? { crossAccount: stsCrossAccountAccess(settings.accounts, deps.crossAccountClients) } : {}),
  };
  return createRunbookLambda(runbook, createRunbookDeps(runbook, settings, wiring, deps.logger, deps.eventBridge, deps.now), deps.logger);
}
