import { ArnFormat, type Stack } from 'aws-cdk-lib';

const COMPLETE_SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+-[A-Za-z0-9]{6}$/;

/**
 * The IAM resource for a secret given by complete ARN (exact), partial ARN or name (plus the
 * `-??????` suffix Secrets Manager appends to every secret name).
 */
export function secretResource(stack: Stack, ref: string): string {
  if (COMPLETE_SECRET_ARN.test(ref)) return ref;
  if (ref.startsWith('arn:')) return `${ref}-??????`;
  return stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: `${ref}-??????`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
}

/** The IAM resource for a role given by ARN or by name (a role with a path must be given by ARN). */
export function roleResource(stack: Stack, ref: string): string {
  if (ref.startsWith('arn:')) return ref;
  return stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: ref });
}
