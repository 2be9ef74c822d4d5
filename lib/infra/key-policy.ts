/**
 * The key policy lets AWS services use the Kitewatch key on Kitewatch's behalf. A service
 * statement without a source condition lets the service use the key for anyone's resource
 * (the confused deputy), so every one must name this account: by aws:SourceAccount, by
 * aws:SourceArn, or by the encryption context the service sets (which names the resource).
 */
import { Lazy, Stack } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';

interface Statement {
  Effect?: string;
  Principal?: { Service?: unknown };
  Condition?: Record<string, Record<string, unknown>>;
  Sid?: string;
}

/** Condition keys that tie a service's use of the key to this account's resources. */
export function hasSourceCondition(statement: Statement): boolean {
  return Object.values(statement.Condition ?? {}).some((block) => Object.keys(block).some((k) => k === 'aws:SourceAccount' || k === 'aws:SourceArn' || k.startsWith('kms:EncryptionContext:')));
}

function isServiceAllow(statement: Statement): boolean {
  return statement.Effect === 'Allow' && statement.Principal?.Service !== undefined;
}

/**
 * Adds aws:SourceAccount to the service statements CDK writes without one (EventBridge's
 * kms:DescribeKey for an encrypted bus, CloudWatch Logs delivery for the Step Functions log
 * group), and fails the synth when any service statement still has no source condition.
 */
export function requireServiceSourceConditions(key: kms.Key): void {
  const stack = Stack.of(key);
  const cfn = key.node.defaultChild as kms.CfnKey;
  const original: unknown = cfn.keyPolicy;
  cfn.keyPolicy = Lazy.any({
    produce: () => {
      const doc = stack.resolve(original) as { Statement?: Statement[] };
      const statements = (doc.Statement ?? []).map((s) => {
        if (!isServiceAllow(s) || hasSourceCondition(s)) return s;
        const condition = s.Condition ?? {};
        return { ...s, Condition: { ...condition, StringEquals: { ...condition['StringEquals'], 'aws:SourceAccount': stack.account } } };
      });
      return { ...doc, Statement: statements };
    },
  });
  key.node.addValidation({
    validate: () => {
      const doc = stack.resolve(cfn.keyPolicy) as { Statement?: Statement[] };
      return (doc.Statement ?? [])
        .filter((s) => isServiceAllow(s) && !hasSourceCondition(s))
        .map((s) => `key policy statement ${s.Sid ?? JSON.stringify(s.Principal)} lets a service use the key with no source condition (aws:SourceAccount, aws:SourceArn or kms:EncryptionContext)`);
    },
  });
}
