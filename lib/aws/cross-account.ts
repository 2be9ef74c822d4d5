/**
 * The AWS adapter of lib/containment/cross-account.ts: STS AssumeRole, and Secrets Manager and
 * IAM clients acting with the assumed credentials. Every SDK package loads on first use: most
 * invocations never leave Kitewatch's own account.
 */
import type { Credentials } from '@aws-sdk/client-sts';
import { createCrossAccountAccess, type AccountClients, type CrossAccountAccess, type TargetAccount } from '../containment/cross-account.ts';
import type { SecretsManagerPort } from '../containment/rotation.ts';
import { iamSdk, lazyClient, secretsManagerSdk, stsSdk } from './lazy.ts';

/** Client settings shared by STS and the assumed clients (tests point them at moto). */
export interface CrossAccountClientConfig {
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function stsCrossAccountAccess(accounts: readonly TargetAccount[], config: CrossAccountClientConfig = {}): CrossAccountAccess {
  const sts = lazyClient(stsSdk, (m) => new m.STSClient({ ...config }));
  return createCrossAccountAccess({
    accounts,
    assumeRole: async (request) => {
      const { AssumeRoleCommand } = await stsSdk();
      const out = await sts.send(new AssumeRoleCommand(request));
      if (out.Credentials === undefined) throw new Error(`sts:AssumeRole ${request.RoleArn} returned no credentials`);
      return out.Credentials;
    },
    clientsWith: (credentials: Credentials, region: string | undefined): AccountClients => {
      const assumed = {
        ...config,
        ...(region !== undefined ? { region } : {}),
        credentials: { accessKeyId: credentials.AccessKeyId ?? '', secretAccessKey: credentials.SecretAccessKey ?? '', sessionToken: credentials.SessionToken ?? '' },
      };
      return {
        secretsManager: lazyClient(secretsManagerSdk, (m) => new m.SecretsManagerClient(assumed)) as unknown as SecretsManagerPort,
        iam: lazyClient(iamSdk, (m) => new m.IAMClient(assumed)),
      };
    },
  });
}
