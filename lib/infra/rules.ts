import type { EventPattern as CdkEventPattern } from 'aws-cdk-lib/aws-events';
import { loadRules, RULES_DIR, type CompiledRule, type RuleFile } from '../engine/rules.ts';

export type { CompiledRule, RuleFile };

export class RuleFileError extends Error {
  override readonly name = 'RuleFileError';
}

/**
 * One rule from rules/, loaded and validated by the same code the local engine uses, so the
 * pattern CDK deploys is the pattern `kitewatch replay` evaluates.
 */
export function ruleNamed(name: string, dir: URL | string = RULES_DIR): CompiledRule {
  const rules = loadRules(dir);
  const rule = rules.find((r) => r.name === name);
  if (rule === undefined) {
    throw new RuleFileError(`no rule named "${name}" in rules/ (have: ${rules.map((r) => r.name).join(', ')})`);
  }
  return rule;
}

/**
 * The rule file's JSON pattern as CDK's EventPattern. CDK types leaves as string[] but renders
 * them verbatim (its own Match.prefix() objects travel the same way); `detail-type` is the one
 * key CDK spells differently.
 */
export function toCdkEventPattern(pattern: RuleFile['eventPattern']): CdkEventPattern {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(pattern)) {
    out[key === 'detail-type' ? 'detailType' : key] = value;
  }
  return out;
}
