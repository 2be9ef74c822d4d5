import { SecurityLakeClient } from '@aws-sdk/client-securitylake';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseLakeSourcesEnv } from './env.ts';

const settings = parseLakeSourcesEnv(process.env);
export const handler = compose({ settings, securityLake: new SecurityLakeClient({ region: settings.region }), logger: createLogger() });
