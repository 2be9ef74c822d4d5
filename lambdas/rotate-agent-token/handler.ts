import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createLogger } from '../shared/logger.ts';
import { compose } from './compose.ts';
import { parseRotateAgentTokenEnv } from './env.ts';

// Every step of a rotation reads or writes the secret: Secrets Manager at cold start.
export const handler = compose({ settings: parseRotateAgentTokenEnv(process.env), secretsManager: new SecretsManagerClient({}), logger: createLogger() });
