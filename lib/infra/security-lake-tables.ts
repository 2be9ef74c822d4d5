import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { SecurityLakeOptions } from '../forward/config.ts';
import { securityLakeSources } from '../forward/firehose-streams.ts';
import { DEFAULT_STRUCT_DEPTH, glueColumns, type GlueColumn } from '../forward/glue-schema.ts';
import { classSlug, securityLakePrefix } from '../forward/s3-layout.ts';
import { REPO_ROOT } from './kitewatch-function.ts';

/** Partition columns of a Security Lake custom source (ext/<source>/region=/accountId=/eventDay=); Glue keeps names lowercase. */
export const SECURITY_LAKE_PARTITION_KEYS: readonly GlueColumn[] = [
  { name: 'region', type: 'string' },
  { name: 'accountid', type: 'string' },
  { name: 'eventday', type: 'string' },
];

const SCHEMA_DIR = join(REPO_ROOT, 'data/ocsf/schemas');

/** The OCSF 1.8.0 JSON Schema of a class, from data/ocsf/schemas (index.json names the file). */
export function ocsfClassSchema(classUid: number): unknown {
  const index = JSON.parse(readFileSync(join(SCHEMA_DIR, 'index.json'), 'utf8')) as { classes: { class_uid: number; file: string }[] };
  const entry = index.classes.find((c) => c.class_uid === classUid);
  if (entry === undefined) throw new Error(`data/ocsf/schemas/index.json has no class ${classUid}`);
  return JSON.parse(readFileSync(join(SCHEMA_DIR, entry.file), 'utf8')) as unknown;
}

export interface SecurityLakeTablesProps {
  /** forwarding.destinations.s3.securityLake: bucket, sources, classes. */
  readonly lake: SecurityLakeOptions;
  /** Glue database name: lowercase letters, digits and _. */
  readonly databaseName: string;
  /**
   * Struct levels kept before an object becomes JSON text.
   * @default DEFAULT_STRUCT_DEPTH
   */
  readonly maxDepth?: number;
}

/**
 * The Glue tables Firehose reads to convert the security-lake layout to Parquet: one database,
 * one table per configured OCSF class, columns from the class's JSON Schema, located at the
 * class's custom source prefix. Security Lake's own catalog tables are left alone: these only
 * give the streams their schema.
 */
export class SecurityLakeTables extends Construct {
  readonly database: glue.CfnDatabase;
  readonly databaseName: string;
  readonly tables: ReadonlyMap<number, glue.CfnTable>;

  constructor(scope: Construct, id: string, props: SecurityLakeTablesProps) {
    super(scope, id);
    if (!/^[a-z0-9_]{1,255}$/.test(props.databaseName)) {
      throw new Error(`SecurityLakeTables: database name "${props.databaseName}" must be 1-255 of a-z 0-9 _`);
    }
    const stack = Stack.of(this);
    this.databaseName = props.databaseName;
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: stack.account,
      databaseInput: {
        name: props.databaseName,
        description: 'Kitewatch: schemas of the OCSF classes Firehose converts to Parquet for Amazon Security Lake custom sources',
      },
    });

    const tables = new Map<number, glue.CfnTable>();
    for (const source of securityLakeSources(props.lake, { accountId: stack.account, region: stack.region })) {
      const columns = glueColumns(ocsfClassSchema(source.classUid), { maxDepth: props.maxDepth ?? DEFAULT_STRUCT_DEPTH });
      // The source's root: its partitions (region=/accountId=/eventDay=) lie below.
      const root = securityLakePrefix(source, '').replace(/region=.*$/, '');
      const table = new glue.CfnTable(this, `Table-${classSlug(source.classUid)}`, {
        catalogId: stack.account,
        databaseName: this.database.ref,
        tableInput: {
          name: this.tableName(source.classUid),
          description: `OCSF ${classSlug(source.classUid)} (class_uid ${source.classUid}) of custom source ${source.sourceName}`,
          tableType: 'EXTERNAL_TABLE',
          parameters: { classification: 'parquet', 'parquet.compression': 'SNAPPY', 'ocsf.class_uid': String(source.classUid), 'ocsf.version': '1.8.0' },
          partitionKeys: [...SECURITY_LAKE_PARTITION_KEYS],
          storageDescriptor: {
            columns,
            location: `s3://${props.lake.bucketName}/${root}`,
            inputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat',
            serdeInfo: { serializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe', parameters: { 'serialization.format': '1' } },
            compressed: true,
            storedAsSubDirectories: false,
          },
        },
      });
      tables.set(source.classUid, table);
    }
    this.tables = tables;
  }

  /** Table of one class: its OCSF name (api_activity). */
  tableName(classUid: number): string {
    return classSlug(classUid);
  }

  /**
   * What Firehose's format conversion reads: these tables, their database and the catalog, and
   * nothing else in Glue.
   */
  grantSchemaRead(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const arn = (resource: string, resourceName?: string): string =>
      stack.formatArn({ service: 'glue', resource, ...(resourceName === undefined ? {} : { resourceName }), arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const resourceArns = [arn('catalog'), arn('database', this.databaseName), ...[...this.tables.keys()].map((classUid) => arn('table', `${this.databaseName}/${this.tableName(classUid)}`))];
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetTable', 'glue:GetTableVersion', 'glue:GetTableVersions'],
      resourceArns,
    });
  }
}
