import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { Context } from 'aws-lambda';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import type { RunbookId } from '../../lib/containment/actions.ts';
import type { SfnPort } from '../../lib/containment/approval.ts';
import type { CrossAccountAccess } from '../../lib/containment/cross-account.ts';
import type { SecretsManagerPort } from '../../lib/containment/rotation.ts';
import { runRunbook, type RunbookDeps, type RunbookReport } from '../../lib/containment/runbooks.ts';
import { describePublishFailures, publishToBus, toPutEventsEntry } from '../../lib/engine/bus.ts';
import { DRY_RUN_ALIAS, type RunbookSettings } from './env.ts';

/**
 * What every runbook Lambda shares: the thin middy chain around runRunbook
 * (lib/containment/runbooks.ts) and the Kitewatch bus, which every run publishes its Remediation
 * Activity to. compose.ts decides which clients each runbook's action may reach.
 */
export interface RunbookWiring {
  readonly buildkite?: BuildkiteClient | undefined;
  readonly secretsManager?: SecretsManagerPort;
  readonly iam?: Pick<IAMClient, 'send'>;
  readonly sfn?: SfnPort;
  readonly crossAccount?: CrossAccountAccess | undefined;
}

/** The Buildkite API with its token from Secrets Manager (read on the first call); none without the secret. */
export function buildkiteFromSecret(settings: RunbookSettings, secretsManager: SecretsManagerPort): BuildkiteClient | undefined {
  if (settings.apiTokenSecretArn === undefined) return undefined;
  return new BuildkiteClient({
    apiUrl: settings.apiUrl,
    graphqlUrl: settings.graphqlUrl,
    token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }),
  });
}

/** A client this runbook does not wire: reaching it is a wiring bug, said plainly. */
function notWired(runbook: RunbookId, what: string): { send(): Promise<never> } {
  return {
    send: async () => {
      throw new Error(`runbook ${runbook} has no ${what} client wired (lambdas/runbooks/compose.ts)`);
    },
  };
}

export function createRunbookDeps(
  runbook: RunbookId,
  settings: RunbookSettings,
  wiring: RunbookWiring,
  logger: Pick<Logger, 'info'>,
  eventBridge: Pick<EventBridgeClient, 'send'>,
  now: () => number = Date.now,
): RunbookDeps {
  const bus = settings.eventBusName;
  return {
    execution: {
      buildkite: wiring.buildkite,
      secretsManager: wiring.secretsManager ?? (notWired(runbook, 'Secrets Manager') as SecretsManagerPort),
      iam: wiring.iam ?? (notWired(runbook, 'IAM') as Pick<IAMClient, 'send'>),
      now,
      log: (line) => logger.info(line),
      crossAccount: wiring.crossAccount,
    },
    ...(wiring.sfn !== undefined ? { sfn: wiring.sfn } : {}),
    ...(bus !== undefined
      ? {
          publish: async (events) => {
            const failures = await publishToBus(
              eventBridge,
              events.map((e) => ({ entry: toPutEventsEntry(e, bus) })),
            );
            if (failures.length > 0) {
              const thrown = failures.find((f) => f.cause !== undefined);
              throw new Error(
                `PutEvents did not take ${failures.length} of ${events.length} Remediation Activities (${describePublishFailures(failures)})`,
                thrown === undefined ? {} : { cause: thrown.cause },
              );
            }
          },
        }
      : {}),
  };
}

/** `arn:aws:lambda:<region>:<account>:function:<name>:dry-run`: the invocation's qualifier is the dry-run alias. */
export function invokedThroughDryRunAlias(invokedFunctionArn: string | undefined): boolean {
  return invokedFunctionArn?.split(':')[7] === DRY_RUN_ALIAS;
}

/** The Lambda handler of one runbook: input in, report out. An invalid input fails naming the field. */
export function createRunbookLambda(runbook: RunbookId, deps: RunbookDeps, logger: Logger) {
  const run = async (event: unknown, context?: Pick<Context, 'invokedFunctionArn'>): Promise<RunbookReport> => {
    // Through the dry-run alias the input's dryRun is overridden: that alias is all a responder
    // may invoke unless direct action was opted into (aws.containment.respondersMayActDirectly).
    const forced = runbook !== 'approve-action' && invokedThroughDryRunAlias(context?.invokedFunctionArn);
    const input = forced && typeof event === 'object' && event !== null ? { ...event, dryRun: true } : event;
    // Never log the input: approve-action carries a task token.
    const report = await runRunbook(runbook, input, deps);
    logger.info('runbook finished', { runbook, dryRun: report.dryRun, outcome: report.outcome, detail: report.detail, targetType: report.target?.type, targetUid: report.target?.uid });
    return report;
  };
  return middy(run).use(injectLambdaContext(logger, { resetKeys: true }));
}
