import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export interface Suppression {
  /** cdk-nag rule ids (`AwsSolutions-IAM5[Resource::*]` for one finding of a multi-finding rule). */
  readonly nag?: readonly string[];
  /** checkov check ids, written into the resource's template Metadata where checkov reads them. */
  readonly checkov?: readonly string[];
  /** Why the finding does not apply here: specific to this resource, never "not needed". */
  readonly reason: string;
}

interface CheckovSkip {
  readonly id: string;
  readonly comment: string;
}

/**
 * The one way Kitewatch accepts a compliance finding: on the construct it concerns, with a
 * reason, for cdk-nag and checkov alike, so the two tools' exceptions cannot drift apart.
 */
export function suppress(scope: IConstruct, suppression: Suppression): void {
  for (const id of suppression.nag ?? []) {
    Validations.of(scope).acknowledge({ id, reason: suppression.reason });
  }
  const checkov = suppression.checkov ?? [];
  if (checkov.length === 0) return;
  const resource = CfnResource.isCfnResource(scope) ? scope : scope.node.defaultChild;
  if (resource === undefined || !CfnResource.isCfnResource(resource)) {
    throw new Error(`suppress: ${scope.node.path} has no CloudFormation resource to carry checkov skips`);
  }
  const existing = (resource.getMetadata('checkov') as { skip?: CheckovSkip[] } | undefined)?.skip ?? [];
  const added = checkov.map((id) => ({ id, comment: suppression.reason }));
  resource.addMetadata('checkov', { skip: [...existing, ...added] });
}

/**
 * The `Resource::...` part of a finding id of cdk-nag's IAM5 for `value` as it renders in
 * `scope`'s stack (cdk-nag flattens intrinsics: `<Logical.Arn>`, `<AWS::Region>`). Only for values
 * of the same stack: cross-stack imports are named by export and resolve only at synth.
 */
export function nagResource(scope: IConstruct, value: string): string {
  return `Resource::${flattenReference(Stack.of(scope).resolve(value))}`;
}

function flattenReference(node: unknown): string {
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    const join = o['Fn::Join'];
    if (Array.isArray(join)) return (join[1] as unknown[]).map(flattenReference).join(join[0] as string);
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `<${flattenReference(getAtt[0])}.${flattenReference(getAtt[1])}>`;
    if (o['Ref'] !== undefined) return `<${flattenReference(o['Ref'])}>`;
  }
  return JSON.stringify(node);
}
