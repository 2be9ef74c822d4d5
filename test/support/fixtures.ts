import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = new URL('../fixtures/', import.meta.url).pathname;
export const EVENTBRIDGE_DIR = join(FIXTURES, 'buildkite', 'eventbridge');

/** The docs' example envelope for a detail-type slug, e.g. `agent-connected`; a fresh copy each call. */
export function sample(slug: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(EVENTBRIDGE_DIR, `${slug}.json`), 'utf8')) as Record<string, unknown>;
}

export function sampleSlugs(): string[] {
  return readdirSync(EVENTBRIDGE_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.replace(/\.json$/, ''))
    .sort();
}

/** Structured clone of a JSON value, for mutating fixtures into negative cases. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/** A copy of `base` with the value at `path` replaced (or deleted, for undefined): inputs that stay close to real payloads. */
export function mutate(base: unknown, path: readonly string[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string, unknown>;
  let cur: Record<string, unknown> = copy;
  for (let i = 0; i < path.length - 1; i++) {
    const next = cur[path[i] as string];
    if (typeof next !== 'object' || next === null) return copy;
    cur = next as Record<string, unknown>;
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

/** Every path into `value` (objects and arrays), leaves and inner nodes. */
export function pathsOf(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== 'object' || value === null) return [prefix];
  const out: string[][] = prefix.length > 0 ? [prefix] : [];
  for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}
