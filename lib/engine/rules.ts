import { readFileSync, readdirSync } from 'node:fs';
import * as z from 'zod';
import { compilePattern, validatePattern, type EventPattern } from './pattern.ts';

/** A rule file in rules/: deployed as an EventBridge rule by the CDK app, evaluated locally here. */
export const RuleFile = z
  .object({
    name: z.string().regex(/^[a-z0-9-]+$/),
    description: z.string().min(1),
    bus: z.enum(['buildkite', 'kitewatch']),
    target: z.enum(['normalize', 'detect', 'contain', 'forward']),
    eventPattern: z.record(z.string(), z.unknown()),
  })
  .strict();
export type RuleFile = z.infer<typeof RuleFile>;

export interface CompiledRule extends RuleFile {
  readonly eventPattern: EventPattern;
  readonly matches: (event: unknown) => boolean;
}

export const RULES_DIR = new URL('../../rules/', import.meta.url);

/** Loads and validates every rules/*.json; a malformed rule is an error naming the file. */
export function loadRules(dir: URL | string = RULES_DIR): CompiledRule[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const url = new URL(file, dir instanceof URL ? dir : `file://${dir.endsWith('/') ? dir : `${dir}/`}`);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(url, 'utf8'));
    } catch (cause) {
      throw new Error(`rules/${file}: not valid JSON`, { cause });
    }
    const parsed = RuleFile.safeParse(raw);
    if (!parsed.success) throw new Error(`rules/${file}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const pattern = validatePattern(parsed.data.eventPattern);
    return { ...parsed.data, eventPattern: pattern, matches: compilePattern(pattern) };
  });
}

/** The rules that route to one target. */
export function rulesFor(rules: readonly CompiledRule[], target: RuleFile['target']): CompiledRule[] {
  return rules.filter((r) => r.target === target);
}
