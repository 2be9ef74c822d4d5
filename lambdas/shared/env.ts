import { describeIssues } from '../../lib/config/issues.ts';

/** Environment variables Powertools reads by itself; the CDK constructs set them from here. */
export const PowertoolsEnv = {
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
} as const;

/** CloudWatch metrics namespace of every Kitewatch function. */
export const METRICS_NAMESPACE = 'Kitewatch';

/**
 * Metrics the blindness alarms watch (lib/infra/blindness.ts), emitted by the normalizer with
 * the Powertools `service` dimension. One name each, shared by the handler and the alarm.
 */
export const FORMAT_DRIFT_METRIC = 'FormatDrift';
export const EVENTS_QUARANTINED_METRIC = 'EventsQuarantined';
export const EVENTS_PUBLISHED_METRIC = 'EventsPublished';

/** Key prefix of quarantine records in the quarantine bucket; IAM write access is scoped to it. */
export const QUARANTINE_PREFIX = 'quarantine/';

/** A deployment mistake in a function's environment: fails the cold start, not each record. */
export class EnvError extends Error {
  override readonly name = 'EnvError';
}

type Issues = Parameters<typeof describeIssues>[0];
type Schema<T> = { safeParse(v: unknown, params?: { jitless?: boolean }): { success: true; data: T } | { success: false; error: Issues } };

// The environment is parsed once per cold start: zod's JIT fast path (generating and compiling a
// parser per object schema) costs more than it saves on a single parse, so skip it here. Same
// validation, same result.
const ONCE = { jitless: true } as const;

/** Parses a function's environment with its schema; the error names the function and each bad variable. */
export function parseEnv<T>(schema: Schema<T>, env: Record<string, string | undefined>, fn: string): T {
  const parsed = schema.safeParse(env, ONCE);
  if (!parsed.success) throw new EnvError(`${fn} environment is invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Parses a variable that holds JSON (a config block) with its schema. */
export function parseJsonEnv<T>(schema: Schema<T>, raw: string, name: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new EnvError(`${name} is not valid JSON`, { cause });
  }
  const parsed = schema.safeParse(json, ONCE);
  if (!parsed.success) throw new EnvError(`${name}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}
