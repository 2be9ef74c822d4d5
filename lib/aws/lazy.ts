/**
 * AWS SDK clients that a function needs only on some paths, loaded on first use.
 *
 * The Lambda runtime ships the SDK, but evaluating one client package costs 60-110 ms of cold
 * start. A client that every invocation uses is imported statically and built at module init
 * (the cost belongs to the cold start, not to the first request); one that only some paths use
 * (quarantine, approvals, one action of many) comes through here: a dynamic `import()` that
 * esbuild leaves external, done once. A failed import is not remembered: the next call tries again.
 */

/** An SDK package could not be imported (or its client not built): names the package, keeps the cause. */
export class SdkLoadError extends Error {
  override readonly name = 'SdkLoadError';
}

/** Imports the package on the first call; every later call gets the same module. */
export interface LazySdk<M> {
  (): Promise<M>;
  /** The package, for messages and figures. */
  readonly specifier: string;
}

export function lazySdk<M>(specifier: string, load: () => Promise<M>): LazySdk<M> {
  let pending: Promise<M> | undefined;
  const get = (): Promise<M> => {
    pending ??= load().catch((cause: unknown) => {
      pending = undefined;
      throw new SdkLoadError(`could not load ${specifier}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    });
    return pending;
  };
  return Object.assign(get, { specifier });
}

interface Sender {
  send(command: never, options?: never): Promise<unknown>;
}

/**
 * A client of a lazily loaded package: built on the first `send`, once, then used for every
 * call. It stands in wherever a port asks for `Pick<Client, 'send'>` (promise style only).
 */
export interface LazyClient<C extends Sender> extends Pick<C, 'send'> {
  /** The client itself, loading its package if needed. */
  client(): Promise<C>;
  readonly specifier: string;
}

export function lazyClient<M, C extends Sender>(sdk: LazySdk<M>, make: (module: M) => C): LazyClient<C> {
  let pending: Promise<C> | undefined;
  const client = (): Promise<C> => {
    pending ??= sdk()
      .then(make)
      .catch((cause: unknown) => {
        pending = undefined;
        if (cause instanceof SdkLoadError) throw cause;
        throw new SdkLoadError(`could not create a client of ${sdk.specifier}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
      });
    return pending;
  };
  const send = async (command: never, options?: never): Promise<unknown> => (await client()).send(command, options);
  return { client, send, specifier: sdk.specifier };
}

// The packages, each written once. Pure, so a bundle keeps only the ones its code uses.
export const dynamoDbSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-dynamodb', () => import('@aws-sdk/client-dynamodb'));
export const eventBridgeSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-eventbridge', () => import('@aws-sdk/client-eventbridge'));
export const iamSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-iam', () => import('@aws-sdk/client-iam'));
export const lambdaSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-lambda', () => import('@aws-sdk/client-lambda'));
export const s3Sdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-s3', () => import('@aws-sdk/client-s3'));
export const secretsManagerSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-secrets-manager', () => import('@aws-sdk/client-secrets-manager'));
export const sfnSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-sfn', () => import('@aws-sdk/client-sfn'));

/** Client settings a caller may pin; anything not given comes from the environment. */
export interface LazyClientConfig {
  readonly region?: string;
}

// Their default clients (the region and credentials of the environment), built on first send.
export const lazyDynamoDbClient = () => lazyClient(dynamoDbSdk, (m) => new m.DynamoDBClient({}));
export const lazyEventBridgeClient = () => lazyClient(eventBridgeSdk, (m) => new m.EventBridgeClient({}));
export const lazyIamClient = () => lazyClient(iamSdk, (m) => new m.IAMClient({}));
export const lazyS3Client = () => lazyClient(s3Sdk, (m) => new m.S3Client({}));
export const lazySecretsManagerClient = (config: LazyClientConfig = {}) => lazyClient(secretsManagerSdk, (m) => new m.SecretsManagerClient({ ...config }));
export const lazySfnClient = (config: LazyClientConfig = {}) => lazyClient(sfnSdk, (m) => new m.SFNClient({ ...config }));
export const stsSdk = /* @__PURE__ */ lazySdk('@aws-sdk/client-sts', () => import('@aws-sdk/client-sts'));
