import { describeIssues } from '../../lib/config/issues.ts';

/** Environment variables Powertools reads by itself; the CDK constructs set them from here. */
export const PowertoolsEnv = {
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** CloudWatch metrics namespace of every Kitewatch function. */
export const METRICS_NAMESPACE = 'Kitewatch';

/** Key prefix of quarantine records in the quarantine bucket; IAM write access is scoped to it. */
export const QUARANTINE_PREFIX = 'quarantine/';

/** A deployment mistake in a function's environment: fails the cold start, not each record. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

type Issues = Parameters<typeof describeIssues>[0];

/** Parses a function's environment with its schema; the error names the function and each bad variable. */
export function parseEnv<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Issues } }, env: Record<string, string | undefined>, fn: string): T {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new EnvError(`${fn} environment is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Parses a variable that holds JSON (a config block) with its schema. */
export function parseJsonEnv<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: Issues } }, raw: string, name: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new EnvError(`${name} is not valid JSON`, { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new EnvError(`${name}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
