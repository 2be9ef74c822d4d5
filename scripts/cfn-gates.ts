// Synthesizes the Kitewatch app in process (as `cdk synth` would: cdk.json context, cdk-nag and
// CloudFormation rules as errors), then checks bundle sizes (< 250 KB) and runs cfn-lint and checkov.
//   node scripts/cfn-gates.ts [--config examples/kitewatch.config.json] [--out cdk.out]
// Exit 1 when any gate fails. Needs the Python tools: npm run setup:python.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { App } from 'aws-cdk-lib';
import { ConfigError, loadConfig } from '../lib/config/load.ts';
import { addCompliancePlugins, defineKitewatch } from '../lib/infra/app.ts';
import { DeployConfigError } from '../lib/infra/config.ts';
import { BUNDLE_CEILING_BYTES, bundleSizes, runCfnLint, runCheckov, templatesIn } from '../lib/infra/gates.ts';
import { REPO_ROOT } from '../lib/infra/kitewatch-function.ts';

const { values } = parseArgs({
  options: {
    config: { type: 'string', default: join(REPO_ROOT, 'examples/kitewatch.config.json') },
    out: { type: 'string', default: join(REPO_ROOT, 'cdk.out') },
  },
});
const outdir = resolve(values.out);
const context = (JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

const started = performance.now();
const app = new App({
  outdir,
  context: { ...context, 'aws:cdk:enable-asset-metadata': true, 'aws:cdk:enable-path-metadata': true },
});
try {
  defineKitewatch(app, loadConfig(values.config));
} catch (error) {
  if (error instanceof ConfigError || error instanceof DeployConfigError) {
    console.error(`kitewatch: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
addCompliancePlugins(app);
app.synth();
console.log(`synth (bundling, cdk-nag, CloudFormation rules): ${Math.round(performance.now() - started)} ms -> ${outdir}`);

let oversized = 0;
for (const bundle of bundleSizes(outdir)) {
  const over = bundle.bytes >= BUNDLE_CEILING_BYTES;
  if (over) oversized++;
  console.log(`bundle ${bundle.function}: ${bundle.bytes} bytes minified (${(bundle.bytes / 1024).toFixed(1)} KiB)${over ? ` OVER the ${BUNDLE_CEILING_BYTES}-byte ceiling` : ''}`);
}

const templates = templatesIn(outdir);
const lint = runCfnLint(templates);
console.log(`cfn-lint: ${lint.ok ? 'clean' : `FAILED\n${lint.output}`}`);
const checkov = runCheckov(templates);
console.log(`checkov: ${checkov.passed} passed, ${checkov.failed} failed, ${checkov.skipped} skipped (each skip has its reason in the template)` + (checkov.ok ? '' : `\n${checkov.output}`));
if (!lint.ok || !checkov.ok || oversized > 0) process.exit(1);
