import { SecurityHubClient } from '@aws-sdk/client-securityhub';
import { createLogger } from '../shared/logger.ts';
import { createMetrics } from '../shared/metrics.ts';
import { compose } from './compose.ts';
import { parseSecurityHubEnv } from './env.ts';

const settings = parseSecurityHubEnv(process.env);
export const handler = compose({
  settings,
  securityHub: new SecurityHubClient({ region: settings.region }),
  logger: createLogger(),
  metrics: createMetrics(),
});
