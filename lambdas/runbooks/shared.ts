import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import type { RunbookId } from '../../lib/containment/actions.ts';
import { runRunbook, type RunbookDeps, type RunbookReport } from '../../lib/containment/runbooks.ts';
import { lazyClient } from '../../lib/containment/stage.ts';
import { toPutEventsEntry } from '../../lib/engine/bus.ts';
import { createLogger } from '../shared/logger.ts';
import { parseRunbookEnv, type RunbookSettings } from './env.ts';

/**
 * What every runbook Lambda shares: the dependencies built once per cold start, and the thin
 * middy chain around runRunbook (lib/containment/runbooks.ts). Each
 * `lambdas/runbooks/<runbook>/handler.ts` is one line naming its runbook.
 */
export function createRunbookDeps(settings: RunbookSettings, logger: Pick<Logger, 'info'>): RunbookDeps {
  const secretsManager = lazyClient(() => new SecretsManagerClient({}));
  const eventBridge = settings.eventBusName === undefined ? undefined : lazyClient(() => new EventBridgeClient({}));
  return {
    execution: {
      buildkite:
        settings.apiTokenSecretArn === undefined
          ? undefined
          : new BuildkiteClient({
              apiUrl: settings.apiUrl,
              graphqlUrl: settings.graphqlUrl,
              token: secretsManagerTokenProvider({ client: secretsManager, secretId: settings.apiTokenSecretArn }),
            }),
      secretsManager,
      iam: lazyClient(() => new IAMClient({})),
      now: Date.now,
      log: (line) => logger.info(line),
    },
    sfn: lazyClient(() => new SFNClient({})),
    ...(eventBridge !== undefined && settings.eventBusName !== undefined
      ? {
          publish: async (events) => {
            if (events.length === 0) return;
            const bus = settings.eventBusName as string;
            const out = await eventBridge.send(new PutEventsCommand({ Entries: events.map((e) => toPutEventsEntry(e, bus)) }));
            if ((out.FailedEntryCount ?? 0) > 0) throw new Error(`PutEvents rejected ${out.FailedEntryCount} Remediation Activities`);
          },
        }
      : {}),
  };
}

/** The Lambda handler of one runbook: input in, report out. An invalid input fails naming the field. */
export function createRunbookLambda(runbook: RunbookId, deps: RunbookDeps, logger: Logger) {
  const run = async (event: unknown): Promise<RunbookReport> => {
    // Never log the input: approve-action carries a task token.
    const report = await runRunbook(runbook, event, deps);
    logger.info('runbook finished', { runbook, dryRun: report.dryRun, outcome: report.outcome, detail: report.detail, targetType: report.target?.type, targetUid: report.target?.uid });
    return report;
  };
  return middy(run).use(injectLambdaContext(logger, { resetKeys: true }));
}

let shared: { deps: RunbookDeps; logger: Logger } | undefined;

/** For handler.ts files: deps from the environment, built on the first cold-start call. */
export function runbookHandler(runbook: RunbookId): ReturnType<typeof createRunbookLambda> {
  if (shared === undefined) {
    const logger = createLogger();
    shared = { deps: createRunbookDeps(parseRunbookEnv(process.env), logger), logger };
  }
  return createRunbookLambda(runbook, shared.deps, shared.logger);
}
