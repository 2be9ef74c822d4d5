/**
 * The compliance gates, on every configuration shape the app can take: cdk-nag (AwsSolutions,
 * Serverless, NIST 800-53 rev 5), CDK's CloudFormation rules, cfn-lint, checkov, and Kitewatch's
 * own rule that identity policies name their resources.
 */
import { readFileSync } from 'node:fs';
import { CfnResource, Validations, type App, type PolicyViolation } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { addCompliancePlugins, compliancePacks } from '../../lib/infra/app.ts';
import { runCfnLint, runCheckov, templatesIn } from '../../lib/infra/gates.ts';
import { synthKitewatch, TEST_ARNS, TEST_CONFIG, type Synthesized } from './support/synth.ts';

/** The shapes that change which resources and suppressions exist. */
const VARIANTS: Record<string, KitewatchConfigInput> = {
  'partner bus, tracing, reserved concurrency, alarm email; containment enforce with rotation; Splunk, HTTP, own S3 bucket, Security Hub': TEST_CONFIG,
  'custom bus, no tracing, no reserved concurrency, throwaway, no account; containment dry-run with rotation; HTTP, existing bucket, Security Hub elsewhere': {
    aws: {
      createCustomBus: true,
      customBusAllowedAccounts: ['210987654321'],
      tracing: false,
      reservedConcurrency: null,
      retainStatefulResources: false,
      logLevel: 'WARN',
      alarmTopicArns: ['arn:aws:sns:eu-west-1:123456789012:secops-chat'],
      containment: { buildkiteApiTokenSecretArn: TEST_ARNS.apiToken, agentTokenSecretArns: [TEST_ARNS.agentToken] },
    },
    containment: { mode: 'dry-run', secretMappings: [{ buildkite: { uid: 'a' }, secretsManager: [TEST_ARNS.mappedByName] }] },
    forwarding: {
      destinations: {
        http: [{ name: 'elastic', endpoint: 'https://elastic.example.com/_bulk', accessKeySecretArn: TEST_ARNS.datadogKey, contentEncoding: 'NONE' }],
        s3: { bucketName: 'acme-siem-archive' },
        securityHub: { enabled: true, region: 'eu-central-1' },
      },
    },
  },
  'security-lake layout (Glue tables, one Parquet stream per OCSF class), no Security Hub': {
    ...TEST_CONFIG,
    forwarding: {
      destinations: {
        s3: {
          layout: 'security-lake',
          securityLake: { bucketName: 'aws-security-data-lake-eu-west-1-abc', sourceNames: { '2004': 'bk-findings' }, sourceVersion: '1.0', kmsKeyArn: TEST_ARNS.lakeKey },
        },
      },
    },
  },
};

/**
 * Actions that genuinely need `"Resource": "*"`: the service has no resource-level permissions
 * for them. Anything else with `*` fails the gate.
 */
const VENDED_LOGS = 'CloudWatch Logs delivery for Step Functions logging has no resource-level permissions (CDK adds it with logs: on the state machine)';
const STAR_RESOURCE_ALLOWED: Record<string, string> = {
  'xray:PutTraceSegments': 'X-Ray has no resource-level permissions (Tracing.ACTIVE adds it)',
  'xray:PutTelemetryRecords': 'X-Ray has no resource-level permissions (Tracing.ACTIVE adds it)',
  'xray:GetSamplingRules': 'X-Ray has no resource-level permissions (state machine tracing adds it)',
  'xray:GetSamplingTargets': 'X-Ray has no resource-level permissions (state machine tracing adds it)',
  'cloudwatch:PutMetricData': 'CloudWatch metrics have no resource ARN; scope with the cloudwatch:namespace condition',
  'secretsmanager:GetRandomPassword': 'Generates a random string; takes no secret, so there is no resource to name',
  'secretsmanager:ListSecrets': 'Lists secrets (rotate-secret tag lookup); the API has no resource-level permissions',
  'securitylake:ListLogSources': 'Lists custom sources (adopting one that exists); the Service Authorization Reference lists no resource type for it',
  'lakeformation:RegisterResource': 'Security Lake registers a custom source location with Lake Formation as the caller; Lake Formation has no resource-level permissions for it',
  'lakeformation:GrantPermissions': 'Security Lake grants the crawler access to the source table as the caller; Lake Formation has no resource-level IAM permissions for it',
  'logs:CreateLogDelivery': VENDED_LOGS,
  'logs:GetLogDelivery': VENDED_LOGS,
  'logs:UpdateLogDelivery': VENDED_LOGS,
  'logs:DeleteLogDelivery': VENDED_LOGS,
  'logs:ListLogDeliveries': VENDED_LOGS,
  'logs:PutResourcePolicy': VENDED_LOGS,
  'logs:DescribeResourcePolicies': VENDED_LOGS,
  'logs:DescribeLogGroups': VENDED_LOGS,
};

const GENERIC_REASON = /^(n\/?a|none|ok|todo|fine|not needed|not required|false positive|suppressed|ignore[d]?|accepted)\.?$/i;

const synths: Record<string, Synthesized> = {};
beforeAll(() => {
  for (const [name, config] of Object.entries(VARIANTS)) synths[name] = synthKitewatch(config, { bundle: false, targetAccount: true });
});
afterAll(() => {
  for (const s of Object.values(synths)) s.cleanup();
});

function describeViolations(violations: readonly PolicyViolation[]): string {
  return violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')} (${v.description})`).join('\n');
}

describe.each(Object.keys(VARIANTS))('%s', (name) => {
  const synth = (): Synthesized => synths[name] as Synthesized;

  it.each(compliancePacks().map((p) => [p.readPackName, p] as const))('cdk-nag %s reports no unacknowledged error', (_pack, pack) => {
    // After synth, as the CLI runs it: cross-stack tokens are resolved to imports by then.
    const violations = pack.validateScope(synth().app).violations;
    const errors = violations.filter((v) => v.severity === 'error');
    expect(errors, describeViolations(errors)).toEqual([]);
  });

  it('every acknowledgment and checkov skip carries a specific reason', () => {
    const reasons: [string, string][] = [];
    const visit = (c: IConstruct): void => {
      for (const entry of c.node.metadata) {
        if (entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) {
          for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) reasons.push([`${c.node.path} ${id}`, reason]);
        }
      }
      if (CfnResource.isCfnResource(c)) {
        const skips = (c.getMetadata('checkov') as { skip?: { id: string; comment: string }[] } | undefined)?.skip ?? [];
        for (const skip of skips) reasons.push([`${c.node.path} checkov ${skip.id}`, skip.comment]);
      }
      for (const child of c.node.children) visit(child);
    };
    visit(synth().app);
    expect(reasons.length).toBeGreaterThan(0);
    for (const [what, reason] of reasons) {
      expect(reason.length, `${what}: "${reason}" is too short to say why`).toBeGreaterThanOrEqual(40);
      expect(GENERIC_REASON.test(reason.trim()), `${what}: "${reason}" is generic`).toBe(false);
    }
  });

  it('identity policies use "Resource": "*" only for actions without resource-level permissions', () => {
    const offenders: string[] = [];
    for (const path of templatesIn(synth().outdir)) {
      const template = JSON.parse(readFileSync(path, 'utf8')) as { Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }> };
      for (const [id, resource] of Object.entries(template.Resources)) {
        const documents: unknown[] = [];
        if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
          documents.push(resource.Properties?.['PolicyDocument']);
        } else if (resource.Type === 'AWS::IAM::Role') {
          for (const p of (resource.Properties?.['Policies'] as { PolicyDocument: unknown }[] | undefined) ?? []) documents.push(p.PolicyDocument);
        }
        for (const doc of documents) {
          for (const st of (doc as { Statement: { Effect: string; Action: string | string[]; Resource: unknown }[] }).Statement) {
            const actions = Array.isArray(st.Action) ? st.Action : [st.Action];
            for (const action of actions) {
              if (action === '*' || action.endsWith(':*')) offenders.push(`${id}: wildcard action ${action}`);
            }
            const resources = Array.isArray(st.Resource) ? st.Resource : [st.Resource];
            if (st.Effect === 'Allow' && resources.includes('*')) {
              for (const action of actions.filter((a) => STAR_RESOURCE_ALLOWED[a] === undefined)) {
                offenders.push(`${id}: ${action} on "*"`);
              }
            }
          }
        }
      }
    }
    expect(offenders).toEqual([]);
  });

  it('passes cfn-lint', () => {
    const result = runCfnLint(templatesIn(synth().outdir));
    expect(result.ok, result.output).toBe(true);
  });

  it('passes checkov (offline)', () => {
    const result = runCheckov(templatesIn(synth().outdir));
    expect(result.failed, result.output).toBe(0);
    expect(result.passed).toBeGreaterThan(20);
  });
});

describe('synth-time validation plugins (what `cdk synth` runs)', () => {
  it('synthesizes with the nag packs registered and CloudFormation rules as errors', () => {
    const s = synthKitewatch(TEST_CONFIG, { bundle: false, beforeSynth: addCompliancePlugins });
    try {
      expect(s.app.node.tryGetContext('@aws-cdk/core:validateAgainstDefaultRules')).toBe(true);
    } finally {
      s.cleanup();
    }
  });

  it('fails the synth on an unacknowledged finding', () => {
    const synth = (): Synthesized =>
      synthKitewatch(TEST_CONFIG, {
        bundle: false,
        beforeSynth: (app: App) => {
          addCompliancePlugins(app);
          // A bucket nobody reviewed: no logging, no TLS policy, no versioning.
          new s3.Bucket(app.node.findChild(`Kitewatch-Stateful`), 'Unreviewed');
        },
      });
    expect(synth).toThrow(/AwsSolutions-S1[\s\S]*Unreviewed/);
  });
});

describe('acknowledgments are not stale', () => {
  it.each(Object.keys(VARIANTS))('%s: each one silences a finding that exists without it', (name) => {
    const recorded: { path: string; id: string }[] = [];
    const spy = vi.spyOn(Validations.prototype, 'acknowledge').mockImplementation(function (this: Validations, ...rules: { id: string }[]) {
      const scope = (this as unknown as { scope: IConstruct }).scope;
      for (const rule of rules) recorded.push({ path: scope.node.path, id: rule.id });
    });
    let s: Synthesized | undefined;
    try {
      s = synthKitewatch(VARIANTS[name] as KitewatchConfigInput, { bundle: false });
      const findings = compliancePacks().flatMap((pack) =>
        pack.validateScope((s as Synthesized).app).violations.flatMap((v) => v.violatingResources.map((r) => ({ id: v.ruleName, path: r.constructPath ?? '' }))),
      );
      const stale = recorded.filter((ack) => !findings.some((f) => f.id === ack.id && (f.path === ack.path || f.path.startsWith(`${ack.path}/`))));
      expect(recorded.length).toBeGreaterThan(0);
      expect(stale).toEqual([]);
    } finally {
      spy.mockRestore();
      s?.cleanup();
    }
  });
});
