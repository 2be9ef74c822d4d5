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
