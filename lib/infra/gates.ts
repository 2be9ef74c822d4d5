/**
 * The template gates shared by test/infra and scripts/cfn-gates.ts: cfn-lint and checkov from
 * the project's .venv (offline), and the size of each Lambda bundle in a cloud assembly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './kitewatch-function.ts';

export const CFN_LINT = join(REPO_ROOT, '.venv/bin/cfn-lint');
export const CHECKOV = join(REPO_ROOT, '.venv/bin/checkov');
export const CFN_LINT_CONFIG = join(REPO_ROOT, '.cfnlintrc.yaml');
export const CHECKOV_CONFIG = join(REPO_ROOT, '.checkov.yaml');

export class GateToolMissing extends Error {
  override readonly name = 'GateToolMissing';
}

function requireTool(path: string): void {
  if (!existsSync(path)) {
    throw new GateToolMissing(`${path} not found: run \`npm run setup:python\` (scripts/setup-python.sh) to install the Python test tools`);
  }
}

export interface GateResult {
  readonly ok: boolean;
  /** Human-readable findings (empty when ok). */
  readonly output: string;
}

/** cfn-lint with .cfnlintrc.yaml; any finding not ignored there (error or warning) fails. */
export function runCfnLint(templates: readonly string[]): GateResult {
  requireTool(CFN_LINT);
  const run = spawnSync(CFN_LINT, ['--config-file', CFN_LINT_CONFIG, '--', ...templates], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.error) throw run.error;
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}`.trim() };
}

interface CheckovCheck {
  readonly check_id: string;
  readonly check_name: string;
  readonly resource: string;
  readonly file_path: string;
}
interface CheckovReport {
  readonly summary: { readonly passed: number; readonly failed: number; readonly skipped: number };
  readonly results: { readonly failed_checks: readonly CheckovCheck[] };
}

export interface CheckovResult extends GateResult {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** checkov, offline (no download, no platform mapping), with .checkov.yaml. */
export function runCheckov(templates: readonly string[]): CheckovResult {
  requireTool(CHECKOV);
  const args = ['--config-file', CHECKOV_CONFIG, '--output', 'json', ...templates.flatMap((t) => ['-f', t])];
  const run = spawnSync(CHECKOV, args, {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, BC_SKIP_MAPPING: 'TRUE', CHECKOV_RUN_SCA_PACKAGE_SCAN_V2: 'false' },
  });
  if (run.error) throw run.error;
  let parsed: unknown;
  try {
    parsed = JSON.parse(run.stdout);
  } catch (cause) {
    throw new Error(`checkov did not print JSON (exit ${run.status}): ${run.stderr.slice(-2000)}`, { cause });
  }
  // One report per framework, or a bare report when only one ran.
  const reports = (Array.isArray(parsed) ? parsed : [parsed]) as CheckovReport[];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const lines: string[] = [];
  for (const report of reports) {
    passed += report.summary.passed;
    failed += report.summary.failed;
    skipped += report.summary.skipped;
    for (const c of report.results.failed_checks) {
      lines.push(`${c.check_id} ${c.check_name}: ${c.resource} (${c.file_path})`);
    }
  }
  return { ok: failed === 0, output: lines.join('\n'), passed, failed, skipped };
}

/** `*.template.json` of every stack in a cloud assembly directory. */
export function templatesIn(assemblyDir: string): string[] {
  return readdirSync(assemblyDir)
    .filter((f) => f.endsWith('.template.json'))
    .sort()
    .map((f) => join(assemblyDir, f));
}

/**
 * Every Lambda bundle stays under 250 KB minified. It holds because lib/ imports zod as a
 * namespace (`import * as z from 'zod'`): a named `import { z }` defeats esbuild's tree shaking
 * and pulls in all of zod (about 450 KB).
 */
export const BUNDLE_CEILING_BYTES = 250 * 1024;

export interface BundleSize {
  /** Construct path of the Lambda function. */
  readonly function: string;
  readonly file: string;
  readonly bytes: number;
}

/**
 * The minified entry file of each NodejsFunction in the assembly, found through the
 * `aws:asset:path` metadata CDK writes on the function resource.
 */
export function bundleSizes(assemblyDir: string): BundleSize[] {
  const sizes: BundleSize[] = [];
  for (const templatePath of templatesIn(assemblyDir)) {
    const template = JSON.parse(readFileSync(templatePath, 'utf8')) as {
      Resources?: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
    };
    for (const resource of Object.values(template.Resources ?? {})) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const assetPath = resource.Metadata?.['aws:asset:path'];
      const constructPath = resource.Metadata?.['aws:cdk:path'];
      if (typeof assetPath !== 'string') continue;
      const dir = join(assemblyDir, assetPath);
      const entry = ['index.mjs', 'index.js'].map((f) => join(dir, f)).find((f) => existsSync(f));
      if (entry === undefined) continue;
      sizes.push({ function: typeof constructPath === 'string' ? constructPath : assetPath, file: entry, bytes: statSync(entry).size });
    }
  }
  return sizes;
}
