import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import type { Logger } from '@aws-lambda-powertools/logger';
import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import type { BuildkiteClient } from '../../lib/buildkite/client.ts';
import { ROTATION_STEPS, RotationError, SecretRotation, type SecretsManagerPort } from '../../lib/containment/rotation.ts';

/**
 * The Secrets Manager rotation protocol for a secret holding a Buildkite cluster agent token
 * (JSON {"token", "token_id", "cluster_id", "org"}): createSecret makes a new cluster token
 * (same description and allowed IPs) and stores it as AWSPENDING; testSecret checks Buildkite
 * knows it; finishSecret promotes it to AWSCURRENT and only then revokes the old token.
 * Every step is idempotent (Secrets Manager retries them).
 */
export const RotationEvent = z.looseObject({
  SecretId: z.string().check(z.minLength(1)),
  ClientRequestToken: z.string().check(z.minLength(1)),
  Step: z.enum(ROTATION_STEPS),
  RotationToken: z.optional(z.string()),
});
export type RotationEvent = z.infer<typeof RotationEvent>;

export interface AgentTokenRotatorDeps {
  readonly secretsManager: SecretsManagerPort;
  readonly buildkite: BuildkiteClient;
  readonly logger: Pick<Logger, 'info' | 'warn'>;
}

export function createAgentTokenRotator(deps: AgentTokenRotatorDeps): (event: unknown) => Promise<void> {
  const rotation = new SecretRotation({
    secretsManager: deps.secretsManager,
    buildkite: deps.buildkite,
    log: (line) => deps.logger.info(line),
  });
  return async (raw: unknown): Promise<void> => {
    const parsed = RotationEvent.safeParse(raw);
    if (!parsed.success) {
      throw new RotationError(`rotation event is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
    }
    const { SecretId: secretId, ClientRequestToken: token, Step: step } = parsed.data;
    const desc = await deps.secretsManager.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (desc.RotationEnabled !== true) throw new RotationError(`secret ${secretId} does not have rotation enabled`);
    const stages = desc.VersionIdsToStages?.[token];
    if (stages?.includes('AWSCURRENT') === true && step !== 'finishSecret') {
      deps.logger.info('version is already AWSCURRENT; nothing to do', { secretId, step, versionId: token });
      return;
    }
    // AWS pre-creates the version; its absence is tolerated at createSecret only (PutSecretValue makes it).
    if (stages === undefined && step !== 'createSecret') throw new RotationError(`secret ${secretId} has no version ${token} to rotate`);
    if (stages !== undefined && !stages.includes('AWSPENDING') && !stages.includes('AWSCURRENT')) {
      throw new RotationError(`version ${token} of ${secretId} is not staged AWSPENDING`);
    }
    deps.logger.info('rotation step', { secretId, step, versionId: token });
    const result = await rotation.step(step, { secretId, token, kind: 'buildkite-agent-token' });
    if (result !== undefined) {
      deps.logger.info('rotation finished', { secretId, versionId: token, promoted: result.promoted, oldTokenOutcome: result.oldToken, oldTokenId: result.oldTokenId, newTokenId: result.newTokenId });
      if (result.oldToken === 'unknown-id') deps.logger.warn('the previous agent token id is unknown; revoke it by hand', { secretId });
    }
  };
}
