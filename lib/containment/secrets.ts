import type { SecretListEntry } from '@aws-sdk/client-secrets-manager';
import { secretsManagerSdk } from '../aws/lazy.ts';
import type { Target } from './activity.ts';
import type { ContainmentConfig, SecretMapping } from './config.ts';
import { TAG, type SecretsManagerPort } from './rotation.ts';

/**
 * Which Secrets Manager secrets hold the credential behind a Buildkite entity (usually a
 * Buildkite secret a finding says was read): `containment.secretMappings`, and secrets tagged
 * `kitewatch:buildkite-uid=<uuid>` or `kitewatch:buildkite-name=<name>` (with an optional
 * `kitewatch:buildkite-type`, default `Secret`).
 */
export interface MappedSecret {
  readonly target: Target;
  readonly rotation: SecretMapping['rotation'];
  readonly jsonKey?: string;
  readonly via: 'config' | 'tag';
}

/** `arn:aws:secretsmanager:r:a:secret:NAME-AbCdEf` -> `NAME`; a name stays as it is. */
export function secretNameOf(id: string): string {
  const m = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(id);
  return m?.[1] ?? id;
}

function matchesMapping(m: SecretMapping, entity: Target): boolean {
  if (m.buildkite.type !== entity.type) return false;
  if (m.buildkite.uid !== undefined && m.buildkite.uid !== entity.uid) return false;
  // Names only for Buildkite secrets (their keys); the config refuses them for other types.
  if (m.buildkite.name !== undefined && (entity.type !== 'Secret' || m.buildkite.name !== entity.name)) return false;
  return true;
}

function smTarget(id: string, from: Target, arn?: string): Target {
  return {
    type: 'SecretsManagerSecret',
    uid: arn ?? id,
    name: secretNameOf(arn ?? id),
    attrs: { buildkite_type: from.type, buildkite_uid: from.uid, ...(from.name !== undefined ? { buildkite_name: from.name } : {}) },
  };
}

async function listByTag(sm: SecretsManagerPort, key: string, value: string): Promise<SecretListEntry[]> {
  const { ListSecretsCommand } = await secretsManagerSdk();
  const out: SecretListEntry[] = [];
  let next: string | undefined;
  do {
    const page = await sm.send(
      new ListSecretsCommand({
        Filters: [
          { Key: 'tag-key', Values: [key] },
          { Key: 'tag-value', Values: [value] },
        ],
        ...(next !== undefined ? { NextToken: next } : {}),
      }),
    );
    // The two filters are not paired by AWS: keep only secrets with exactly key=value.
    out.push(...(page.SecretList ?? []).filter((s) => s.Tags?.some((t) => t.Key === key && t.Value === value) === true));
    next = page.NextToken;
  } while (next !== undefined);
  return out;
}

/**
 * The mapped secrets, config first, then tags when `sm` is given (enforce mode with
 * `secretTagLookup`); each secret once, by name.
 */
export async function secretsFor(entity: Target, config: ContainmentConfig, sm: SecretsManagerPort | undefined): Promise<MappedSecret[]> {
  const found = new Map<string, MappedSecret>();
  for (const m of config.secretMappings.filter((x) => matchesMapping(x, entity))) {
    for (const id of m.secretsManager) {
      const target = smTarget(id, entity);
      if (!found.has(target.name ?? target.uid)) found.set(target.name ?? target.uid, { target, rotation: m.rotation, ...(m.jsonKey !== undefined ? { jsonKey: m.jsonKey } : {}), via: 'config' });
    }
  }
  if (sm !== undefined) {
    const lookups: [string, string][] = [[TAG.buildkiteUid, entity.uid]];
    // By name only for Buildkite secrets: any other entity's name is its owner's to choose.
    if (entity.name !== undefined && entity.type === 'Secret') lookups.push([TAG.buildkiteName, entity.name]);
    for (const [key, value] of lookups) {
      for (const s of await listByTag(sm, key, value)) {
        const type = s.Tags?.find((t) => t.Key === TAG.buildkiteType)?.Value ?? 'Secret';
        if (type !== entity.type || s.ARN === undefined) continue;
        const target = smTarget(s.ARN, entity, s.ARN);
        if (!found.has(target.name ?? target.uid)) found.set(target.name ?? target.uid, { target, rotation: 'auto', via: 'tag' });
      }
    }
  }
  return [...found.values()];
}
