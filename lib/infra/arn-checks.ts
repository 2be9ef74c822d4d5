/**
 * The synth-time check of every ARN the configuration names: it must parse as an ARN of the
 * service that uses it, in the deployment's region. A placeholder copied from the example
 * (another region, `<account>`) or an ARN pasted into the wrong key stops the synth here, with
 * the key, instead of deploying a grant on nothing or failing at the first incident.
 */
import type { KitewatchConfig } from '../config/schema.ts';

/** `arn:partition:service:region:account:resource`. */
const ARN = /^arn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12}|aws|):(.+)$/;

interface ArnUse {
  readonly path: string;
  readonly arn: string;
  readonly service: string;
  /** false for global services (IAM). */
  readonly regional: boolean;
  /** The region it must be in, when not aws.region. */
  readonly region?: string | undefined;
}

function arnUses(config: KitewatchConfig): ArnUse[] {
  const { aws, containment, forwarding } = config;
  const uses: ArnUse[] = [];
  const secret = (path: string, arn: string | undefined): void => {
    if (arn?.startsWith('arn:') === true) uses.push({ path, arn, service: 'secretsmanager', regional: true });
  };
  secret('aws.containment.buildkiteApiTokenSecretArn', aws.containment.buildkiteApiTokenSecretArn);
  aws.containment.agentTokenSecretArns.forEach((arn, i) => secret(`aws.containment.agentTokenSecretArns[${i}]`, arn));
  aws.alarmTopicArns.forEach((arn, i) => uses.push({ path: `aws.alarmTopicArns[${i}]`, arn, service: 'sns', regional: true }));
  if (containment.mode !== 'off') {
    containment.secretMappings.forEach((m, i) => m.secretsManager.forEach((arn, j) => secret(`containment.secretMappings[${i}].secretsManager[${j}]`, arn)));
    containment.oidcRoles.forEach((r, i) => {
      if (r.role.startsWith('arn:')) uses.push({ path: `containment.oidcRoles[${i}].role`, arn: r.role, service: 'iam', regional: false });
    });
  }
  const d = forwarding.destinations;
  secret('forwarding.destinations.splunkHec.tokenSecretArn', d.splunkHec?.tokenSecretArn);
  d.http.forEach((h, i) => secret(`forwarding.destinations.http[${i}].accessKeySecretArn`, h.accessKeySecretArn));
  const lake = d.s3?.layout === 'security-lake' ? d.s3.securityLake : undefined;
  // The lake's key sits with the lake bucket, in the lake's region.
  if (lake?.kmsKeyArn !== undefined) uses.push({ path: 'forwarding.destinations.s3.securityLake.kmsKeyArn', arn: lake.kmsKeyArn, service: 'kms', regional: true, region: lake.region });
  return uses;
}

/** Every ARN of `config` that is not an ARN of its service in `aws.region` (region unchecked when unset). */
export function arnProblems(config: KitewatchConfig): string[] {
  const region = config.aws.region;
  const problems: string[] = [];
  for (const use of arnUses(config)) {
    const m = ARN.exec(use.arn);
    if (m === null) {
      problems.push(`${use.path}: "${use.arn}" is not an ARN (arn:aws:${use.service}:<region>:<account>:...)`);
      continue;
    }
    const [, , service, arnRegion] = m;
    if (service !== use.service) {
      problems.push(`${use.path}: "${use.arn}" is an ARN of ${service}, not ${use.service}`);
    } else if (use.regional && use.region !== undefined && arnRegion !== use.region) {
      problems.push(`${use.path}: "${use.arn}" is in region ${arnRegion === '' ? '(none)' : arnRegion}, but it must be in ${use.region}`);
    } else if (use.regional && use.region === undefined && region !== undefined && arnRegion !== region) {
      problems.push(
        `${use.path}: "${use.arn}" is in region ${arnRegion === '' ? '(none)' : arnRegion}, but aws.region is ${region}: the Lambdas call ${use.service} in their own region (a placeholder from the example?)`,
      );
    } else if (!use.regional && arnRegion !== '') {
      problems.push(`${use.path}: "${use.arn}" names a region; ${use.service} ARNs have none`);
    }
  }
  return problems;
}
