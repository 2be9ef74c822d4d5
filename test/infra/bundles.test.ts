/**
 * The Lambda bundles as they will ship: built by NodejsFunction with local esbuild (one
 * bundling synth for this file), measured, inspected, and the normalizer and detector bundles
 * run against moto (the detector with the IP data layer as assembled).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DetectEnv } from '../../lambdas/detect/env.ts';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import { PowertoolsEnv } from '../../lambdas/shared/env.ts';
import { toBusEnvelope } from '../../lib/engine/bus.ts';
import { BUNDLE_CEILING_BYTES, bundleSizes, type BundleSize } from '../../lib/infra/gates.ts';
import { IP_DATA_MOUNT, ipDataLayerFiles } from '../../lib/infra/ip-data-layer.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { sample } from '../support/fixtures.ts';
import { awsClientConfig, createStateTable, motoEndpoint, uniqueName } from '../support/moto.ts';
import { createIngestHarness } from './support/ingest-harness.ts';
import { lambdaContext, sqsEvent, sqsRecord } from './support/sqs-event.ts';
import { logicalId, synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';

const FUNCTIONS = [
  'Kitewatch-Containment/AgentTokenRotation/Function/Resource',
  'Kitewatch-Containment/Contain/Function/Resource',
  'Kitewatch-Containment/Runbook-approve-action/Function/Resource',
  'Kitewatch-Containment/Runbook-archive-pipeline/Function/Resource',
  'Kitewatch-Containment/Runbook-cancel-build/Function/Resource',
  'Kitewatch-Containment/Runbook-cancel-job/Function/Resource',
  'Kitewatch-Containment/Runbook-pause-queue/Function/Resource',
  'Kitewatch-Containment/Runbook-remove-member/Function/Resource',
  'Kitewatch-Containment/Runbook-revoke-agent-token/Function/Resource',
  'Kitewatch-Containment/Runbook-revoke-grant/Function/Resource',
  'Kitewatch-Containment/Runbook-revoke-role-sessions/Function/Resource',
  'Kitewatch-Containment/Runbook-rotate-secret/Function/Resource',
  'Kitewatch-Containment/Runbook-stop-agent/Function/Resource',
  'Kitewatch-Forwarding/SecurityHub/Function/Resource',
  'Kitewatch-Forwarding/Transform/Function/Resource',
  'Kitewatch-Pipeline/AuditBackfill/Backfill/Function/Resource',
  'Kitewatch-Pipeline/DetectionsAck/Function/Resource',
  'Kitewatch-Pipeline/Detector/Function/Resource',
  'Kitewatch-Pipeline/Normalizer/Function/Resource',
];

let s: Synthesized;
let bundles: BundleSize[];
const bundleOf = (path: string): BundleSize => bundles.find((b) => b.function.includes(path)) as BundleSize;

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG);
  bundles = bundleSizes(s.outdir);
  console.log(`synth with bundling: ${Math.round(s.synthMs)} ms`);
  for (const b of bundles) console.log(`bundle ${b.function}: ${b.bytes} bytes minified`);
});
afterAll(() => s?.cleanup());

/** The directory CDK staged an asset of `resourceLogicalId` in (aws:asset:path metadata). */
function assetDir(template: Record<string, unknown>, resourceLogicalId: string): string {
  const resources = (template as { Resources: Record<string, { Metadata?: Record<string, unknown> }> }).Resources;
  return join(s.outdir, resources[resourceLogicalId]?.Metadata?.['aws:asset:path'] as string);
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('bundles', () => {
  it('builds one ESM bundle per function', () => {
    expect(bundles.map((b) => b.function).sort()).toEqual(FUNCTIONS);
    for (const b of bundles) expect(basename(b.file), b.function).toBe('index.mjs');
  });

  it('keeps every bundle under 250 KB', () => {
    for (const b of bundles) expect(b.bytes, b.function).toBeLessThan(BUNDLE_CEILING_BYTES);
  });

  it('leaves the AWS SDK v3 to the runtime and bundles everything else', () => {
    const normalizer = readFileSync(bundleOf('/Normalizer/').file, 'utf8');
    // EventBridge on every batch, loaded at init; S3 only to quarantine, imported on first use.
    expect(normalizer).toMatch(/from\s*"@aws-sdk\/client-eventbridge"/);
    expect(normalizer).not.toMatch(/from\s*"@aws-sdk\/client-s3"/);
    expect(normalizer).toMatch(/import\(\s*"@aws-sdk\/client-s3"\s*\)/);
    for (const b of bundles) {
      const code = readFileSync(b.file, 'utf8');
      // Minified code has `from"` inside strings too; only specifier-shaped matches are imports.
      const imports = [...code.matchAll(/(?:from|import\(?)\s*"([^"]+)"/g)].map((m) => m[1] as string).filter((i) => /^[@\w][\w@./:-]*$/.test(i));
      const external = imports.filter((i) => !i.startsWith('node:') && !i.startsWith('@aws-sdk/'));
      expect(external, `${b.function}: bare imports the runtime cannot resolve`).toEqual([]);
    }
  });

  it('loads zod/mini, never classic zod (a quarter of its cold start; lib/config/zod-en.ts)', () => {
    for (const b of bundles) {
      const code = readFileSync(b.file, 'utf8');
      // Classic zod names its schema classes "ZodObject", "ZodString"...; zod/mini's are "ZodMini...".
      expect(code, b.function).not.toMatch(/"Zod(Object|String|Number|Optional)"/);
    }
  });

  it('contains no esbuild dynamic-require shim (it would throw in an ESM Lambda)', () => {
    for (const b of bundles) expect(readFileSync(b.file, 'utf8'), b.function).not.toContain('Dynamic require of');
  });
});

describe('IP data layer asset', () => {
  it('holds exactly the planned files, copied whole (node_modules, data/cloud-ranges)', () => {
    const dir = assetDir(s.pipeline.toJSON(), logicalId(s.stacks.pipeline.ipData.layer));
    const planned = ipDataLayerFiles();
    expect(filesUnder(dir)).toEqual(planned.map((f) => f.target).sort());
    for (const f of planned) expect(statSync(join(dir, f.target)).size, f.target).toBe(statSync(f.source).size);
    expect(planned.every((f) => `/opt/${f.target}`.startsWith(`${IP_DATA_MOUNT}/`))).toBe(true);
  });
});

describe('the normalizer bundle, run against moto', () => {
  it('normalizes, publishes and quarantines through the middy handler', async () => {
    const h = await createIngestHarness();
    Object.assign(process.env, {
      [NormalizeEnv.eventBusName]: h.eventBusName,
      [NormalizeEnv.quarantineBucket]: h.quarantineBucket,
      [PowertoolsEnv.serviceName]: 'normalize',
      [PowertoolsEnv.logLevel]: 'SILENT',
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      // Powertools metrics would print EMF to stdout; the test does not read it.
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const mod = (await import(pathToFileURL(bundleOf('/Normalizer/').file).href)) as {
      handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
    };
    const good = sqsRecord(JSON.stringify(sample('agent-connected')));
    const bad = sqsRecord('this is not an EventBridge envelope');
    const response = await mod.handler(sqsEvent([good, bad]), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    const published = await h.drainPublished(1);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ source: 'kitewatch', 'detail-type': 'OCSF Event', detail: { class_uid: 3002 } });
    const quarantined = [...(await h.quarantined()).values()];
    expect(quarantined).toEqual([{ reason: 'SQS message body is not valid JSON', origin: `sqs:${bad.messageId}`, raw: bad.body }]);
  });
});

describe('the detector bundle, run against moto with the layer as assembled', () => {
  it('reads the IP tables from the layer, keeps state in DynamoDB and answers with no failures', async () => {
    const h = await createIngestHarness();
    const dynamodb = new DynamoDBClient(awsClientConfig());
    const table = uniqueName('state');
    await createStateTable(dynamodb, table);
    const layerDir = assetDir(s.pipeline.toJSON(), logicalId(s.stacks.pipeline.ipData.layer));
    Object.assign(process.env, {
      [DetectEnv.eventBusName]: h.eventBusName,
      [DetectEnv.stateTableName]: table,
      [DetectEnv.detectorsConfig]: JSON.stringify(s.config.detectors),
      // The function sees the layer at /opt; here, the staged asset stands in for /opt.
      [DetectEnv.ipDataDir]: join(layerDir, relative('/opt', IP_DATA_MOUNT)),
      [PowertoolsEnv.serviceName]: 'detect',
      [PowertoolsEnv.logLevel]: 'SILENT',
      AWS_ENDPOINT_URL: motoEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    const mod = (await import(pathToFileURL(bundleOf('/Detector/').file).href)) as {
      handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
    };
    const normalized = normalizeEnvelope(sample('agent-connected'));
    if (!normalized.ok) throw new Error(normalized.reason);
    const envelope = toBusEnvelope(normalized.event);
    const record = sqsRecord(JSON.stringify({ source: envelope.source, 'detail-type': envelope['detail-type'], detail: envelope.detail }));
    const response = await mod.handler(sqsEvent([record]), lambdaContext());
    expect(response).toEqual({ batchItemFailures: [] });
    const items = await dynamodb.send(new ScanCommand({ TableName: table }));
    // unusual-ip remembers the agent token's network (an ASN from the layer's tables).
    expect(items.Count ?? 0).toBeGreaterThan(0);
    expect(JSON.stringify(items.Items)).toMatch(/14618|AS14618|Amazon/);
  });
});
