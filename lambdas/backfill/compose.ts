import middy from '@middy/core';
import type { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { secretsManagerTokenProvider } from '../../lib/buildkite/token.ts';
import type { SecretsManagerPort } from '../../lib/containment/rotation.ts';
import { LAST_EVENT_KEY, type LastEvent } from '../../lib/detections/seen.ts';
import { STATE_PARTITIONS, type StatePort } from '../../lib/state/port.ts';
import type { BackfillSettings } from './env.ts';
import { runBackfill, type BackfillDeps } from './process.ts';

/** Everything the backfill Lambda is made of. */
export interface BackfillLambdaDeps {
  readonly settings: BackfillSettings;
  /** The Buildkite API token. */
  readonly secretsManager: SecretsManagerPort;
  /** The ingest queue the envelopes go to. */
  readonly sqs: BackfillDeps['sqs'];
  readonly logger: Logger;
  /** The state table (read only: the detectors' last-event); without it a silence backfill uses the alarm's estimate. */
  readonly state?: StatePort;
  /** @default Date.now */
  readonly now?: () => number;
}

/** The backfill Lambda, as handler.ts deploys it. */
export function compose(deps: BackfillLambdaDeps) {
  const { settings, logger } = deps;
  const run: BackfillDeps = {
    buildkite: new BuildkiteClient({
      apiUrl: settings.apiUrl,
      token: secretsManagerTokenProvider({ client: deps.secretsManager, secretId: settings.apiTokenSecretArn }),
      log: (line: string) => logger.debug(line),
    }),
    sqs: deps.sqs,
    queueUrl: settings.ingestQueueUrl,
    org: settings.org,
    envelope: { source: settings.source },
    settings,
    ...(deps.now !== undefined ? { now: deps.now } : {}),
    log: (message: string, attributes: Record<string, unknown>) => logger.info(message, attributes),
    ...(deps.state !== undefined ? { lastEvent: lastEventReader(deps.state, logger) } : {}),
  };
  /** Seed at first deploy, fill a gap after monitoring-disabled or a silence, or run by hand (docs/runbooks.md). */
  return middy((event: unknown) => runBackfill(event, run)).use(injectLambdaContext(logger, { resetKeys: true }));
}

/** Reads the detectors' last-event; a failed read is logged and treated as unknown (the window falls back, never fails). */
export function lastEventReader(state: StatePort, logger: Logger): () => Promise<LastEvent | undefined> {
  return async () => {
    try {
      const value = (await state.get<LastEvent>(STATE_PARTITIONS.detect + LAST_EVENT_KEY))?.value;
      return typeof value?.t === 'number' && Array.isArray(value.gaps) ? value : undefined;
    } catch (error) {
      logger.warn('could not read the last event time from the state table; reaching back as far as allowed', { error: (error as Error).name });
      return undefined;
    }
  };
}
