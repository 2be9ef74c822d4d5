import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { LogLevel, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, PowertoolsEnv } from '../../lambdas/shared/env.ts';
import type { AwsConfig } from './config.ts';
import { suppress } from './suppressions.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The Lambda runtime every Kitewatch function uses; tests assert the synthesized value. */
export const RUNTIME = lambda.Runtime.NODEJS_24_X;

export interface KitewatchFunctionProps {
  /** Handler file relative to the repository root, e.g. `lambdas/normalize/handler.ts`. */
  readonly entry: string;
  /** Powertools service name (logs and metrics dimension). */
  readonly serviceName: string;
  readonly description: string;
  readonly memoryMiB: number;
  readonly timeout: Duration;
  /** Function-specific variables; names come from the function's env.ts. */
  readonly environment: Readonly<Record<string, string>>;
  /** Encrypts the log group and the environment variables. */
  readonly key: kms.IKey;
  readonly config: Pick<AwsConfig, 'logRetentionDays' | 'logLevel' | 'tracing' | 'reservedConcurrency' | 'retainStatefulResources'>;
}

/**
 * A Node.js 24 / arm64 Lambda bundled locally with esbuild (no Docker), with its own role (no
 * AWS managed policies), a KMS-encrypted log group with retention, and Powertools settings.
 */
export class KitewatchFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly timeout: Duration;
  /** Reserved concurrency, when configured; event sources cap their pollers to it. */
  readonly reservedConcurrency: number | undefined;

  constructor(scope: Construct, id: string, props: KitewatchFunctionProps) {
    super(scope, id);
    const { config } = props;
    this.timeout = props.timeout;
    this.reservedConcurrency = config.reservedConcurrency ?? undefined;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: config.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.key,
      // Logs outlive a function replacement, but follow the stack's retention choice.
      removalPolicy: config.retainStatefulResources ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // Own role instead of AWSLambdaBasicExecutionRole: log writes scoped to this log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Kitewatch ${props.serviceName} function`,
    });
    this.logGroup.grant(this.role, 'logs:CreateLogStream', 'logs:PutLogEvents');
    suppress(this.role, {
      nag: ['NIST.800.53.R5-IAMNoInlinePolicy'],
      reason: "CDK grant calls write this role's own policy (AWS::IAM::Policy), which dies with the role; shared permissions are managed policies.",
    });

    this.fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, props.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      description: props.description,
      runtime: RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB,
      timeout: props.timeout,
      role: this.role,
      logGroup: this.logGroup,
      tracing: config.tracing ? lambda.Tracing.ACTIVE : lambda.Tracing.DISABLED,
      reservedConcurrentExecutions: this.reservedConcurrency,
      environmentEncryption: props.key,
      environment: {
        [PowertoolsEnv.serviceName]: props.serviceName,
        [PowertoolsEnv.metricsNamespace]: METRICS_NAMESPACE,
        [PowertoolsEnv.logLevel]: config.logLevel,
        ...props.environment,
      },
      bundling: {
        minify: true,
        format: OutputFormat.ESM,
        target: 'node24',
        mainFields: ['module', 'main'],
        // The runtime ships AWS SDK v3; bundling it would triple the size for no gain. No
        // createRequire banner: nothing bundled calls require() (test/infra checks the bundle).
        externalModules: ['@aws-sdk/*'],
        sourceMap: false,
        logLevel: LogLevel.WARNING,
      },
    });

    if (config.tracing) {
      suppress(this.role, {
        nag: ['AwsSolutions-IAM5[Resource::*]'],
        reason: 'Only xray:PutTraceSegments and xray:PutTelemetryRecords use "*": X-Ray has no resource-level permissions.',
      });
    } else {
      suppress(this.fn, {
        nag: ['Serverless-LambdaTracing'],
        reason: 'Tracing is turned off by configuration (aws.tracing: false) for this deployment.',
      });
    }
    if (this.reservedConcurrency === undefined) {
      suppress(this.fn, {
        nag: ['NIST.800.53.R5-LambdaConcurrency'],
        checkov: ['CKV_AWS_115'],
        reason: 'aws.reservedConcurrency is null for this deployment: new accounts (quota 10) cannot reserve any; the account quota bounds it.',
      });
    }
    suppress(this.fn, {
      nag: ['Serverless-LambdaDLQ', 'NIST.800.53.R5-LambdaDLQ'],
      checkov: ['CKV_AWS_116'],
      reason: 'Invoked only by an SQS event source mapping (synchronously); a function DLQ covers async invokes. Failures go to the queue DLQ.',
    });
    suppress(this.fn, {
      nag: ['NIST.800.53.R5-LambdaInsideVPC'],
      checkov: ['CKV_AWS_117'],
      reason: 'Reaches only AWS APIs (SQS, EventBridge, S3, KMS) over TLS with IAM auth; a VPC adds NAT or endpoints, no control.',
    });
  }

  /** Visibility timeout for a queue this function reads: AWS recommends six times the function timeout. */
  get visibilityTimeout(): Duration {
    return Duration.seconds(this.timeout.toSeconds() * 6);
  }
}
