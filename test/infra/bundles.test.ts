/**
 * The Lambda bundles as they will ship: built by NodejsFunction with local esbuild (one
 * bundling synth for this file), measured, inspected, and the normalizer bundle run against moto.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NormalizeEnv } from '../../lambdas/normalize/env.ts';
import { PowertoolsEnv } from '../../lambdas/shared/env.ts';
import { bundleSizes, type BundleSize } from '../../lib/infra/gates.ts';
import { sample } from '../support/fixtures.ts';
import { motoEndpoint } from '../support/moto.ts';
import { createIngestHarness } from './support/ingest-harness.ts';
import { lambdaContext, sqsEvent, sqsRecord } from './support/sqs-event.ts';
import { synthKitewatch, TEST_CONFIG, type Synthesized } from './support/synth.ts';

/**
 * The target is 250 KB minified. The normalizer is at about 170 KB once the zod imports in
 * lib/ are namespace imports (`import * as z from 'zod'`); a named `import { z }` defeats
 * esbuild's tree shaking and pulls in all of zod (about 450 KB). Until every bundled module
 * does that, the gate is the hard ceiling and the target is reported.
 */
export const BUNDLE_TARGET_BYTES = 250 * 1024;
export const BUNDLE_CEILING_BYTES = 768 * 1024;

let s: Synthesized;
let bundles: BundleSize[];
let normalizerBundle: BundleSize;

beforeAll(() => {
  s = synthKitewatch(TEST_CONFIG);
  bundles = bundleSizes(s.outdir);
  normalizerBundle = bundles.find((b) => b.function.includes('/Normalizer/')) as BundleSize;
  for (const b of bundles) {
    const note = b.bytes > BUNDLE_TARGET_BYTES ? ` (over the ${BUNDLE_TARGET_BYTES}-byte target)` : '';
    console.log(`bundle ${b.function}: ${b.bytes} bytes minified${note}; synth with bundling ${Math.round(s.synthMs)} ms`);
  }
});
afterAll(() => s?.cleanup());

describe('bundles', () => {
  it('builds one ESM bundle per function', () => {
    expect(bundles.map((b) => b.function)).toEqual(['Kitewatch-Pipeline/Normalizer/Function/Resource']);
    expect(basename(normalizerBundle.file)).toBe('index.mjs');
  });

  it('stays under the size ceiling', () => {
    for (const b of bundles) expect(b.bytes, b.function).toBeLessThan(BUNDLE_CEILING_BYTES);
  });

  it('leaves the AWS SDK v3 to the runtime and bundles everything else', () => {
    const code = readFileSync(normalizerBundle.file, 'utf8');
    expect(code).toMatch(/from\s*"@aws-sdk\/client-eventbridge"/);
    expect(code).toMatch(/from\s*"@aws-sdk\/client-s3"/);
    const imports = [...code.matchAll(/(?:from|import)\s*"([^"]+)"/g)].map((m) => m[1] as string);
    const external = imports.filter((i) => !i.startsWith('node:') && !i.startsWith('@aws-sdk/'));
    expect(external, 'bare imports the runtime cannot resolve').toEqual([]);
  });

  it('contains no esbuild dynamic-require shim (it would throw in an ESM Lambda)', () => {
    expect(readFileSync(normalizerBundle.file, 'utf8')).not.toContain('Dynamic require of');
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
    const mod = (await import(pathToFileURL(normalizerBundle.file).href)) as {
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
