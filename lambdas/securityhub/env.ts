import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';

/** Environment variable names of the Security Hub forwarder: the construct sets them, the handler parses them. */
export const SecurityHubEnv = {
  /** The account findings belong to (BatchImportFindings requires the caller's own account). */
  accountId: 'KITEWATCH_SECURITYHUB_ACCOUNT_ID',
  /** Region of the Security Hub to import into; unset: AWS_REGION. */
  region: 'KITEWATCH_SECURITYHUB_REGION',
  /** AWS partition of the product ARN; unset: aws. */
  partition: 'KITEWATCH_AWS_PARTITION',
} as const;

const Schema = z.object({
  [SecurityHubEnv.accountId]: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id')),
  [SecurityHubEnv.region]: z.optional(z.string().check(z.minLength(1))),
  [SecurityHubEnv.partition]: z.optional(z.enum(['aws', 'aws-cn', 'aws-us-gov'])),
  AWS_REGION: z.optional(z.string().check(z.minLength(1))),
});

export interface SecurityHubSettings {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot a variable. */
export function parseSecurityHubEnv(env: Record<string, string | undefined>): SecurityHubSettings {
  const d = parseEnv(Schema, env, 'Security Hub forwarder');
  const region = d[SecurityHubEnv.region] ?? d.AWS_REGION;
  if (region === undefined) throw new EnvError(`Security Hub forwarder environment is invalid: ${SecurityHubEnv.region} (or AWS_REGION) is not set`);
  return { accountId: d[SecurityHubEnv.accountId], region, partition: d[SecurityHubEnv.partition] ?? 'aws' };
}
