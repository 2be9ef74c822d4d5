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
