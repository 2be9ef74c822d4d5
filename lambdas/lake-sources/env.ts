import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv } from '../shared/env.ts';

/** Environment variable names of the Security Lake source registration: the construct sets them, the handler parses them. */
export const LakeSourcesEnv = {
  /** The account the sources are registered in (the data lake's, which is this stack's). */
  accountId: 'KITEWATCH_LAKE_ACCOUNT_ID',
} as const;

const Schema = z.object({
  [LakeSourcesEnv.accountId]: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id')),
  AWS_REGION: z.string().check(z.minLength(1)),
});

export interface LakeSourcesSettings {
  readonly account: string;
  readonly region: string;
}

export { EnvError };

/** Fails the cold start when the deployment forgot a variable. */
export function parseLakeSourcesEnv(env: Record<string, string | undefined>): LakeSourcesSettings {
  const d = parseEnv(Schema, env, 'Security Lake source registration');
  return { account: d[LakeSourcesEnv.accountId], region: d.AWS_REGION };
}
