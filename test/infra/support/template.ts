/**
 * Reading synthesized templates the way the assertions need them: a resource by logical id, the
 * statements a role can use, and the actions of a statement.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { expect } from 'vitest';

export interface Resource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DeletionPolicy?: string;
  readonly DependsOn?: string | string[];
}

export interface Statement {
  readonly Sid?: string;
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, unknown>;
}

export function resource(template: Template, logicalId: string): Resource {
  const found = (template.toJSON() as { Resources: Record<string, Resource> }).Resources[logicalId];
  expect(found, `resource ${logicalId}`).toBeDefined();
  return found as Resource;
}

export function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type)) as [string, Resource][];
}

export function actions(st: Statement): string[] {
  return Array.isArray(st.Action) ? st.Action : [st.Action];
}

export function resources(st: Statement): unknown[] {
  return Array.isArray(st.Resource) ? st.Resource : [st.Resource];
}

/** Statements of the inline policies (AWS::IAM::Policy) attached to a role. */
export function inlineStatements(template: Template, roleLogicalId: string): Statement[] {
  return resourcesOfType(template, 'AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties?.['Roles']) === JSON.stringify([{ Ref: roleLogicalId }]))
    .flatMap(([, p]) => (p.Properties?.['PolicyDocument'] as { Statement: Statement[] }).Statement);
}

/** The statements whose actions start with `prefix` (e.g. `secretsmanager:`). */
export function statementsFor(statements: readonly Statement[], prefix: string): Statement[] {
  return statements.filter((st) => actions(st).some((a) => a.startsWith(prefix)));
}

/** Every action a role may take, sorted, deduplicated. */
export function allActions(statements: readonly Statement[]): string[] {
  return [...new Set(statements.filter((st) => st.Effect === 'Allow').flatMap(actions))].sort();
}

/**
 * action -> the resources it is allowed on without a condition (JSON of each, sorted), across
 * statements: CDK merges and splits statements, so assertions compare this, not statement shapes.
 */
export function grants(statements: readonly Statement[], { conditional = false } = {}): Record<string, string[]> {
  const out: Record<string, Set<string>> = {};
  for (const st of statements) {
    if (st.Effect !== 'Allow' || (st.Condition !== undefined) !== conditional) continue;
    for (const action of actions(st)) {
      const set = (out[action] ??= new Set<string>());
      for (const r of resources(st)) set.add(typeof r === 'string' ? r : JSON.stringify(r));
    }
  }
  return Object.fromEntries(
    Object.entries(out)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => [k, [...v].sort()]),
  );
}

/** A JSON string of `value` as grants() renders non-string resources. */
export function ref(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
