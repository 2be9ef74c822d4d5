import { Logger } from '@aws-lambda-powertools/logger';
import type { LogLevel } from '@aws-lambda-powertools/logger/types';
import { redactReplacer } from './redact.ts';

/**
 * The one way Kitewatch functions get a logger: structured JSON with redaction. Service name
 * and level come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_LOG_LEVEL set by the construct.
 */
export function createLogger(options: { serviceName?: string; logLevel?: LogLevel } = {}): Logger {
  return new Logger({ ...options, jsonReplacerFn: redactReplacer });
}
