import { ArnFormat, CustomResource, Duration, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import { LakeSourcesEnv } from '../../lambdas/lake-sources/env.ts';
import type { SecurityLakeOptions } from '../forward/config.ts';
import { securityLakeSources } from '../forward/firehose-streams.ts';
import { SECURITY_LAKE_EVENT_CLASSES } from '../forward/security-lake.ts';
import type { AwsConfig } from './config.ts';
import { KitewatchFunction } from './kitewatch-function.ts';
import { nagResource, suppress } from './suppressions.ts';

/** The CloudFormation type of one registered custom source (a Lambda-backed custom resource). */
export const LAKE_SOURCE_RESOURCE_TYPE = 'Custom::KitewatchSecurityLakeSource';

/**
 * Encrypt and decrypt with the lake bucket's customer managed key, only through S3 for that bucket
 * (the statement Security Lake's guide gives for a KMS-encrypted lake).
 */
export function lakeKeyUse(sid: string, keyArn: string, bucketArn: string): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
    resources: [keyArn],
    conditions: { StringLike: { 'kms:EncryptionContext:aws:s3:arn': [bucketArn, `${bucketArn}/*`] } },
  });
}

export interface SecurityLakeSourcesProps {
  /** forwarding.destinations.s3.securityLake: bucket, names, classes, external id. */
  readonly lake: SecurityLakeOptions;
  /** Encrypts the function's log group and environment. */
  readonly key: kms.IKey;
  readonly config: Pick<AwsConfig, 'logRetentionDays' | 'logLevel' | 'tracing' | 'reservedConcurrency' | 'retainStatefulResources'>;
}

export interface RegisteredSource {
  readonly classUid: number;
  readonly sourceName: string;
  readonly resource: CustomResource;
}

/**
 * Registers one Amazon Security Lake custom source per forwarded class in this account and
 * Region (CloudFormation has no resource type for them): a `Custom::KitewatchSecurityLakeSource`
 * per class, backed by lambdas/lake-sources, and the Glue crawler role Security Lake needs for each
 * source. The function holds exactly what the Security Lake user guide lists for adding a custom
 * source, scoped to these sources where IAM allows it (docs/deploy.md, Security Lake).
 */
export class SecurityLakeSources extends Construct {
  readonly fn: KitewatchFunction;
  /** Role the Glue crawler of each source assumes (AWSGlueServiceRole + read the source prefixes). */
  readonly crawlerRole: iam.Role;
  readonly sources: readonly RegisteredSource[];

  constructor(scope: Construct, id: string, props: SecurityLakeSourcesProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { lake } = props;
    // region= is the Region the data is uploaded to, the lake's; the sources are registered in this stack's.
    if (lake.region !== undefined && !Token.isUnresolved(stack.region) && lake.region !== stack.region) {
      throw new Error(
        `forwarding.destinations.s3.securityLake.region is ${lake.region}, but the stack deploys to ${stack.region}: the stack registers custom sources in its own Region. Deploy Kitewatch in ${lake.region}, or set securityLake.register to false and register the sources in ${lake.region} yourself (docs/deploy.md).`,
      );
    }
    const registered = securityLakeSources(lake, { accountId: stack.account, region: stack.region });
    const bucketArn = stack.formatArn({ service: 's3', region: '', account: '', resource: lake.bucketName });
    const prefixes = registered.map((s) => `${bucketArn}/ext/${s.sourceName}/*`);

    // What CreateCustomLogSource asks for (user guide, "Create IAM role to permit write access to
    // Security Lake bucket location"): trusted by Glue, AWSGlueServiceRole, read/write the source data.
    this.crawlerRole = new iam.Role(this, 'CrawlerRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: 'Kitewatch: Glue crawler of the Security Lake custom sources (reads ext/<source>/ of the lake bucket)',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSGlueServiceRole')],
    });
    this.crawlerRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CrawlSourcePrefixes', actions: ['s3:GetObject', 's3:PutObject'], resources: prefixes }));
    if (lake.kmsKeyArn !== undefined) this.crawlerRole.addToPrincipalPolicy(lakeKeyUse('LakeBucketKey', lake.kmsKeyArn, bucketArn));
    suppress(this.crawlerRole, {
      nag: ['AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSGlueServiceRole]'],
      reason: 'Security Lake requires the AWSGlueServiceRole managed policy on the crawler role of a custom source (user guide, custom sources, API/CLI step).',
    });
    suppress(this.crawlerRole, {
      nag: [...prefixes.map((p) => `AwsSolutions-IAM5[${nagResource(this.crawlerRole, p)}]`), 'NIST.800.53.R5-IAMNoInlinePolicy'],
      reason: "The crawler reads the objects Firehose names by region, account and day under each Kitewatch custom source's prefix; the policy names those prefixes and dies with the role.",
    });

    this.fn = new KitewatchFunction(this, 'Function', {
      entry: 'lambdas/lake-sources/handler.ts',
      serviceName: 'lake-sources',
      description: 'Kitewatch: registers the Security Lake custom sources (CreateCustomLogSource / DeleteCustomLogSource) for CloudFormation',
      memoryMiB: 256,
      // Security Lake creates a role, a Glue table and a crawler per source.
      timeout: Duration.minutes(5),
      environment: { [LakeSourcesEnv.accountId]: stack.account },
      key: props.key,
      config: props.config,
      invokedBy: 'cloudformation',
    });
    const role = this.fn.role;
    const region = stack.region;
    const dataLake = stack.formatArn({ service: 'securitylake', resource: 'data-lake', resourceName: 'default', arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RegisterCustomSources', actions: ['securitylake:CreateCustomLogSource', 'securitylake:DeleteCustomLogSource'], resources: [dataLake] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'FindAdoptedSources', actions: ['securitylake:ListLogSources'], resources: ['*'] }));
    // Security Lake hands the crawler role to Glue.
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PassCrawlerRole',
        actions: ['iam:PassRole'],
        resources: [this.crawlerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'glue.amazonaws.com' } },
      }),
    );
    // The user guide's list for adding a custom source, each scoped as far as its service allows.
    const providerRoles = registered.map((s) => stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: `AmazonSecurityLake-Provider-${s.sourceName}-${region}` }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ProviderRoles', actions: ['iam:GetRole', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy'], resources: providerRoles }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'CrawlerRole', actions: ['iam:GetRole'], resources: [this.crawlerRole.roleArn] }));
    const lakeDb = `amazon_security_lake_glue_db_${region.replaceAll('-', '_')}`;
    const glueArn = (resource: string, resourceName?: string): string =>
      stack.formatArn({ service: 'glue', resource, ...(resourceName === undefined ? {} : { resourceName }), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const glueTables = glueArn('table', `${lakeDb}/*`);
    const glueCrawlers = glueArn('crawler', '*');
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'SecurityLakeCatalog', actions: ['glue:CreateDatabase', 'glue:CreateTable'], resources: [glueArn('catalog'), glueArn('database', lakeDb), glueTables] }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SourceCrawlers', actions: ['glue:CreateCrawler', 'glue:StopCrawlerSchedule'], resources: [glueCrawlers] }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'LakeFormation', actions: ['lakeformation:RegisterResource', 'lakeformation:GrantPermissions'], resources: ['*'] }));
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SourceLocations',
        actions: ['s3:ListBucket'],
        resources: [bucketArn],
        conditions: { StringLike: { 's3:prefix': registered.map((s) => `ext/${s.sourceName}/*`) } },
      }),
    );
    role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'SourcePrefixes', actions: ['s3:PutObject'], resources: prefixes }));
    // A KMS-encrypted lake: what the guide lists for adding a source (Security Lake grants the provider role the key).
    if (lake.kmsKeyArn !== undefined) {
      role.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'LakeKey', actions: ['kms:CreateGrant', 'kms:DescribeKey', 'kms:GenerateDataKey'], resources: [lake.kmsKeyArn] }));
    }
    suppress(role, {
      nag: [
        'AwsSolutions-IAM5[Resource::*]',
        `AwsSolutions-IAM5[${nagResource(role, glueTables)}]`,
        `AwsSolutions-IAM5[${nagResource(role, glueCrawlers)}]`,
        ...prefixes.map((p) => `AwsSolutions-IAM5[${nagResource(role, p)}]`),
      ],
      reason:
        "securitylake:ListLogSources and lakeformation:RegisterResource/GrantPermissions have no resource-level permissions; Security Lake names each source's Glue table and crawler itself (in its own database), and writes under each Kitewatch source prefix only.",
    });

    this.sources = registered.map((source) => {
      const eventClass = SECURITY_LAKE_EVENT_CLASSES[source.classUid] ?? null;
      const resource = new CustomResource(this, `Source${source.classUid}`, {
        serviceToken: this.fn.fn.functionArn,
        resourceType: LAKE_SOURCE_RESOURCE_TYPE,
        properties: {
          SourceName: source.sourceName,
          ...(source.sourceVersion === undefined ? {} : { SourceVersion: source.sourceVersion }),
          EventClasses: eventClass === null ? [] : [eventClass],
          CrawlerRoleArn: this.crawlerRole.roleArn,
          ProviderPrincipal: stack.account,
          ExternalId: lake.externalId,
        },
      });
      // The function's and the crawler role's policies must exist before Security Lake is called (and outlive the delete).
      resource.node.addDependency(this.fn.role, this.crawlerRole);
      return { classUid: source.classUid, sourceName: source.sourceName, resource };
    });
  }
}
