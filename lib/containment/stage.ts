import type { IAMClient } from '@aws-sdk/client-iam';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { lazyIamClient, lazySecretsManagerClient } from '../aws/lazy.ts';
import { BuildkiteClient } from '../buildkite/client.ts';
import { envTokenProvider } from '../buildkite/token.ts';
import type { KitewatchConfig } from '../config/schema.ts';
import type { ContainStage } from '../engine/stages.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { BatchStateCache } from '../state/batch-cache.ts';
import type { StatePort } from '../state/port.ts';
import { ContainmentEngine } from './engine.ts';
import { escapeControls } from '../contracts/terminal.ts';

/**
 * The containment stage of `kitewatch replay`: the same engine as the contain Lambda, with the
 * embedded state store, the Buildkite API at --buildkite-api-url / --buildkite-graphql-url with
 * BUILDKITE_API_TOKEN, and AWS clients from the usual environment. Approvals are reported as
 * pending only (there is no state machine locally).
 */
/** What the containment stage needs to know; `kitewatch replay` fills it from its flags and config. */
export interface ContainStageOptions {
  readonly config: KitewatchConfig;
  readonly containment: 'off' | 'dry-run' | 'enforce';
  readonly buildkiteApiUrl: string;
  readonly buildkiteGraphqlUrl: string;
}

export interface ContainStageDeps {
  readonly fetch?: typeof fetch;
  readonly secretsManager?: Pick<SecretsManagerClient, 'send'>;
  readonly iam?: Pick<IAMClient, 'send'>;
  readonly env?: NodeJS.ProcessEnv;
  /** Diagnostics (one line each; never a token or secret value). @default stderr */
  readonly log?: (line: string) => void;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

export function createContainStage(opts: ContainStageOptions, state: StatePort, deps: ContainStageDeps = {}): ContainStage {
  // One diagnostic per line: names in it come from event data, so no control character gets through.
  const log = deps.log ?? ((line: string) => void process.stderr.write(`kitewatch: ${escapeControls(line)}\n`));
  if (opts.containment === 'off') return { contain: async () => [], flush: async () => {} };
  const env = deps.env ?? process.env;
  const buildkite = new BuildkiteClient({
    apiUrl: opts.buildkiteApiUrl,
    graphqlUrl: opts.buildkiteGraphqlUrl,
    token: envTokenProvider(env),
    ...(deps.fetch !== undefined ? { fetch: deps.fetch } : {}),
    ...(deps.log !== undefined ? { log: deps.log } : {}),
  });
  const engine = new ContainmentEngine({
    config: opts.config.containment,
    mode: opts.containment,
    state,
    execution: {
      buildkite,
      // On first use: dry-run and Buildkite-only runs never load these packages nor need credentials.
      secretsManager: deps.secretsManager ?? lazySecretsManagerClient(),
      iam: deps.iam ?? lazyIamClient(),
      now: deps.now ?? Date.now,
      log,
    },
  });
  return {
    async contain(finding: OcsfEvent): Promise<readonly OcsfEvent[]> {
      try {
        return await engine.contain(finding);
      } catch (error) {
        // The stage must not throw (stages.ts): a state-store failure loses this finding's actions, loudly.
        log(`containment failed on finding ${finding.metadata?.uid ?? '(no uid)'}: ${(error as Error).name}: ${(error as Error).message}`);
        return [];
      }
    },
    async flush(): Promise<void> {
      if (state instanceof BatchStateCache) await state.flush();
    },
  };
}
