import type { DescribeSecretCommandOutput, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from '../aws/lazy.ts';
import { BuildkiteApi } from '../buildkite/api.ts';
import type { BuildkiteClient } from '../buildkite/client.ts';

/**
 * Secrets Manager rotation: the four steps of the rotation protocol (createSecret, setSecret,
 * testSecret, finishSecret) for the two kinds of secret Kitewatch knows how to renew, used both
 * by the rotation Lambda (lambdas/rotate-agent-token) and in process by rotate-secret when a
 * secret has no rotation Lambda. Every step is idempotent: the version id (ClientRequestToken)
 * names the rotation, and a step whose effect is already there does nothing.
 *
 * Secret values are read and written here and nowhere else; they never reach a log line, an
 * error message or a report.
 */
export type SecretsManagerPort = Pick<SecretsManagerClient, 'send'>;

export const TAG = {
  /** Rotation kind: `buildkite-agent-token` or `random`. */
  rotation: 'kitewatch:rotation',
  rotationJsonKey: 'kitewatch:rotation-json-key',
  buildkiteUid: 'kitewatch:buildkite-uid',
  buildkiteName: 'kitewatch:buildkite-name',
  buildkiteType: 'kitewatch:buildkite-type',
  org: 'kitewatch:buildkite-org',
  clusterId: 'kitewatch:buildkite-cluster-id',
  tokenId: 'kitewatch:buildkite-token-id',
} as const;

export type RotationKind = 'random' | 'buildkite-agent-token';
export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';
export const ROTATION_STEPS: readonly RotationStep[] = ['createSecret', 'setSecret', 'testSecret', 'finishSecret'];

export class RotationError extends Error {
  override readonly name = 'RotationError';
}

/**
 * What a secret holding a Buildkite cluster agent token contains: JSON with the token value and
 * its id (so the old token can be revoked after a rotation). `org` and `cluster_id` may come
 * from the tags `kitewatch:buildkite-org` / `kitewatch:buildkite-cluster-id` instead.
 */
export interface AgentTokenSecret {
  token: string;
  token_id?: string;
  cluster_id?: string;
  org?: string;
  [key: string]: unknown;
}

export interface RotationDeps {
  readonly secretsManager: SecretsManagerPort;
  /** Needed for `buildkite-agent-token`; absent fails that kind with a clear error. */
  readonly buildkite?: BuildkiteClient | undefined;
  /** Receives `METHOD /path` and `secretsmanager:Op` labels for reports (no values). */
  readonly record?: (call: string) => void;
  readonly log?: (line: string) => void;
}

export interface RotationRequest {
  readonly secretId: string;
  /** The new version's id (ClientRequestToken), a UUID. */
  readonly token: string;
  readonly kind: RotationKind;
  /** For `random` JSON secrets: the key whose value is replaced. */
  readonly jsonKey?: string;
}

export interface FinishResult {
  readonly promoted: boolean;
  /** For agent tokens: what happened to the previous token. */
  readonly oldToken?: 'revoked' | 'gone' | 'unknown-id' | 'same';
  readonly oldTokenId?: string;
  readonly newTokenId?: string;
}

const MARKER = /\s*\[kitewatch-rotation [^\]]*\]\s*$/;

function stagesOf(desc: DescribeSecretCommandOutput, versionId: string): readonly string[] {
  return desc.VersionIdsToStages?.[versionId] ?? [];
}

function versionWith(desc: DescribeSecretCommandOutput, stage: string): string | undefined {
  for (const [id, stages] of Object.entries(desc.VersionIdsToStages ?? {})) if (stages.includes(stage)) return id;
  return undefined;
}

function tagOf(desc: DescribeSecretCommandOutput, key: string): string | undefined {
  return desc.Tags?.find((t) => t.Key === key)?.Value;
}

/** The rotation kind of a secret: explicit, else its `kitewatch:rotation` tag, else random. */
export function rotationKindOf(desc: DescribeSecretCommandOutput, explicit: 'auto' | RotationKind = 'auto'): RotationKind {
  if (explicit !== 'auto') return explicit;
  return tagOf(desc, TAG.rotation) === 'buildkite-agent-token' ? 'buildkite-agent-token' : 'random';
}

export function parseAgentTokenSecret(text: string | undefined, what: string): AgentTokenSecret {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    // The value itself must not appear in the message.
    throw new RotationError(`${what} is not JSON; an agent token secret holds {"token": "...", "token_id": "..."}`);
  }
  const token = (parsed as { token?: unknown } | null)?.token;
  if (typeof parsed !== 'object' || parsed === null || typeof token !== 'string' || token === '') {
    throw new RotationError(`${what} has no "token" string; an agent token secret holds {"token": "...", "token_id": "..."}`);
  }
  return parsed as AgentTokenSecret;
}

export class SecretRotation {
  readonly #sm: SecretsManagerPort;
  readonly #deps: RotationDeps;

  constructor(deps: RotationDeps) {
    this.#sm = deps.secretsManager;
    this.#deps = deps;
  }

  async describe(secretId: string): Promise<DescribeSecretCommandOutput> {
    const { DescribeSecretCommand } = await secretsManagerSdk();
    this.#deps.record?.('secretsmanager:DescribeSecret');
    return this.#sm.send(new DescribeSecretCommand({ SecretId: secretId }));
  }

  /** Runs one step of the protocol (the rotation Lambda's entry point). */
  async step(step: RotationStep, req: RotationRequest, options: { removePending?: boolean } = {}): Promise<FinishResult | undefined> {
    switch (step) {
      case 'createSecret':
        await this.createSecret(req);
        return undefined;
      case 'setSecret':
        // Both kinds are live once created (a new cluster token works at once; a random value has
        // no downstream system Kitewatch knows), so there is nothing to set.
        return undefined;
      case 'testSecret':
        await this.testSecret(req);
        return undefined;
      case 'finishSecret':
        return this.finishSecret(req, options);
    }
  }

  /** All four steps in process (rotate-secret on a secret without a rotation Lambda). */
  async rotateInProcess(req: RotationRequest): Promise<FinishResult> {
    await this.createSecret(req);
    await this.testSecret(req);
    return this.finishSecret(req, { removePending: true });
  }

  /** `RotateSecret` where a rotation Lambda is configured: it runs the steps itself. */
  async rotateWithLambda(secretId: string, token: string): Promise<string | undefined> {
    const { RotateSecretCommand } = await secretsManagerSdk();
    this.#deps.record?.('secretsmanager:RotateSecret');
    const out = await this.#sm.send(new RotateSecretCommand({ SecretId: secretId, ClientRequestToken: token, RotateImmediately: true }));
    return out.VersionId;
  }

  async createSecret(req: RotationRequest): Promise<void> {
    // AWS pre-creates the version id without a value when it calls a rotation Lambda, so "done"
    // means the AWSPENDING version has a value, not that the version exists.
    if (await this.#hasValue(req.secretId, req.token)) {
      this.#deps.log?.(`rotation ${req.token}: the AWSPENDING value exists; createSecret has nothing to do`);
      return;
    }
    const desc = await this.describe(req.secretId);
    const current = await this.#getValue(req.secretId, 'AWSCURRENT');
    const value = req.kind === 'buildkite-agent-token' ? await this.#newAgentToken(req, desc, current) : await this.#newRandom(req, current);
    const { PutSecretValueCommand } = await secretsManagerSdk();
    this.#deps.record?.('secretsmanager:PutSecretValue');
    await this.#sm.send(new PutSecretValueCommand({ SecretId: req.secretId, ClientRequestToken: req.token, SecretString: value, VersionStages: ['AWSPENDING'] }));
  }

  async #hasValue(secretId: string, versionId: string): Promise<boolean> {
    try {
      await this.#getValue(secretId, 'AWSPENDING', versionId);
      return true;
    } catch (error) {
      if ((error as Error).name === 'ResourceNotFoundException') return false;
      throw error;
    }
  }

  async testSecret(req: RotationRequest): Promise<void> {
    const pending = await this.#getValue(req.secretId, 'AWSPENDING', req.token);
    if (req.kind === 'random') {
      if (pending === '') throw new RotationError(`the AWSPENDING version ${req.token} of ${req.secretId} is empty`);
      return;
    }
    const desc = await this.describe(req.secretId);
    const secret = parseAgentTokenSecret(pending, `the AWSPENDING version of ${req.secretId}`);
    const { org, clusterId } = this.#where(secret, desc, req.secretId);
    if (secret.token_id === undefined) throw new RotationError(`the AWSPENDING version of ${req.secretId} has no token_id`);
    const found = await this.#api().getClusterToken(org, clusterId, secret.token_id);
    if (found === undefined) throw new RotationError(`the new agent token ${secret.token_id} does not exist in cluster ${clusterId}`);
  }

  async finishSecret(req: RotationRequest, options: { removePending?: boolean } = {}): Promise<FinishResult> {
    const desc = await this.describe(req.secretId);
    const current = versionWith(desc, 'AWSCURRENT');
    const { UpdateSecretVersionStageCommand } = await secretsManagerSdk();
    let promoted = false;
    if (current !== req.token) {
      if (stagesOf(desc, req.token).length === 0) throw new RotationError(`version ${req.token} of ${req.secretId} does not exist; run createSecret first`);
      this.#deps.record?.('secretsmanager:UpdateSecretVersionStage');
      await this.#sm.send(new UpdateSecretVersionStageCommand({ SecretId: req.secretId, VersionStage: 'AWSCURRENT', MoveToVersionId: req.token, RemoveFromVersionId: current }));
      promoted = true;
    }
    if (options.removePending === true && stagesOf(desc, req.token).includes('AWSPENDING')) {
      // A finished rotation leaves no AWSPENDING behind (the next one starts clean).
      this.#deps.record?.('secretsmanager:UpdateSecretVersionStage');
      await this.#sm.send(new UpdateSecretVersionStageCommand({ SecretId: req.secretId, VersionStage: 'AWSPENDING', RemoveFromVersionId: req.token }));
    }
    if (req.kind !== 'buildkite-agent-token') return { promoted };
    // Only now that the new token is current may the old one go.
    const previousId = promoted ? current : versionWith(desc, 'AWSPREVIOUS');
    const newSecret = parseAgentTokenSecret(await this.#getValue(req.secretId, 'AWSCURRENT'), `the AWSCURRENT version of ${req.secretId}`);
    const base = { promoted, ...(newSecret.token_id !== undefined ? { newTokenId: newSecret.token_id } : {}) };
    if (previousId === undefined) return { ...base, oldToken: 'unknown-id' };
    let old: AgentTokenSecret;
    try {
      old = parseAgentTokenSecret(await this.#getValue(req.secretId, undefined, previousId), `the previous version of ${req.secretId}`);
    } catch (error) {
      if (error instanceof RotationError) return { ...base, oldToken: 'unknown-id' };
      throw error;
    }
    const oldTokenId = old.token_id ?? tagOf(desc, TAG.tokenId);
    if (oldTokenId === undefined) return { ...base, oldToken: 'unknown-id' };
    if (oldTokenId === newSecret.token_id) return { ...base, oldToken: 'same', oldTokenId };
    const { org, clusterId } = this.#where(old, desc, req.secretId);
    const result = await this.#api().revokeClusterToken(org, clusterId, oldTokenId);
    return { ...base, oldToken: result, oldTokenId };
  }

  async #getValue(secretId: string, stage: string | undefined, versionId?: string): Promise<string> {
    const { GetSecretValueCommand } = await secretsManagerSdk();
    this.#deps.record?.('secretsmanager:GetSecretValue');
    const out = await this.#sm.send(
      new GetSecretValueCommand({ SecretId: secretId, ...(stage !== undefined ? { VersionStage: stage } : {}), ...(versionId !== undefined ? { VersionId: versionId } : {}) }),
    );
    return out.SecretString ?? '';
  }

  #api(): BuildkiteApi {
    if (this.#deps.buildkite === undefined) throw new RotationError('rotating an agent token needs the Buildkite API, which is not configured');
    return new BuildkiteApi(this.#deps.buildkite, this.#deps.record);
  }

  #where(secret: AgentTokenSecret, desc: DescribeSecretCommandOutput, secretId: string): { org: string; clusterId: string } {
    const org = secret.org ?? tagOf(desc, TAG.org);
    const clusterId = secret.cluster_id ?? tagOf(desc, TAG.clusterId);
    if (org === undefined || clusterId === undefined) {
      throw new RotationError(`${secretId}: the organization and cluster of the agent token are unknown (add "org" and "cluster_id" to the secret, or the tags ${TAG.org} / ${TAG.clusterId})`);
    }
    return { org, clusterId };
  }

  async #newRandom(req: RotationRequest, current: string): Promise<string> {
    const { GetRandomPasswordCommand } = await secretsManagerSdk();
    this.#deps.record?.('secretsmanager:GetRandomPassword');
    const out = await this.#sm.send(new GetRandomPasswordCommand({ PasswordLength: 40, ExcludePunctuation: true }));
    const fresh = out.RandomPassword;
    if (fresh === undefined || fresh === '') throw new RotationError('GetRandomPassword returned no password');
    if (req.jsonKey === undefined) {
      if (current.trimStart().startsWith('{')) {
        throw new RotationError(`${req.secretId} holds JSON; name the key to replace (secretMappings[].jsonKey or the tag ${TAG.rotationJsonKey}), or give it a rotation Lambda`);
      }
      return fresh;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(current);
    } catch {
      throw new RotationError(`${req.secretId} is not JSON, but a jsonKey (${req.jsonKey}) is configured`);
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RotationError(`${req.secretId} is not a JSON object`);
    return JSON.stringify({ ...(doc as Record<string, unknown>), [req.jsonKey]: fresh });
  }

  async #newAgentToken(req: RotationRequest, desc: DescribeSecretCommandOutput, current: string): Promise<string> {
    const secret = parseAgentTokenSecret(current, `the AWSCURRENT version of ${req.secretId}`);
    const { org, clusterId } = this.#where(secret, desc, req.secretId);
    const api = this.#api();
    const marker = `[kitewatch-rotation ${req.token}]`;
    const tokens = await api.listClusterTokens(org, clusterId);
    // A token made by an earlier attempt of this same rotation whose value never reached the
    // secret (the function died in between): its value is lost, so revoke it and start over.
    for (const orphan of tokens.filter((t) => t.description?.includes(marker) === true)) {
      this.#deps.log?.(`rotation ${req.token}: revoking orphaned agent token ${orphan.id} from an earlier attempt`);
      await api.revokeClusterToken(org, clusterId, orphan.id);
    }
    const oldId = secret.token_id ?? tagOf(desc, TAG.tokenId);
    const old = oldId === undefined ? undefined : tokens.find((t) => t.id === oldId);
    const base = (old?.description ?? desc.Name ?? 'agent token').replace(MARKER, '');
    const created = await api.createClusterToken(org, clusterId, {
      description: `${base} ${marker}`,
      // Keep the old token's network restriction: a rotation must not widen access.
      ...(old?.allowed_ip_addresses ? { allowedIpAddresses: old.allowed_ip_addresses } : {}),
    });
    this.#deps.log?.(`rotation ${req.token}: created agent token ${created.id} in cluster ${clusterId}`);
    return JSON.stringify({ ...secret, token: created.token, token_id: created.id, cluster_id: clusterId, org });
  }
}
