import { readFileSync } from 'node:fs';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import type { RetryOptions } from '../../lib/forward/retry.ts';
import { sample, sampleSlugs } from '../support/fixtures.ts';

/** Every EventBridge fixture that normalizes, as the OCSF events Kitewatch would forward. */
export function normalizedEvents(): OcsfEvent[] {
  const out: OcsfEvent[] = [];
  for (const slug of sampleSlugs()) {
    const r = normalizeEnvelope(sample(slug));
    if (r.ok) out.push(r.event);
  }
  if (out.length === 0) throw new Error('no fixture normalized');
  return out;
}

/** `n` distinct events (distinct metadata.uid and time), cycling through the real ones. */
export function manyEvents(n: number): OcsfEvent[] {
  const base = normalizedEvents();
  return Array.from({ length: n }, (_, i) => {
    const e = structuredClone(base[i % base.length] as OcsfEvent);
    e.metadata.uid = `${e.metadata.uid.slice(0, 24)}${i.toString(16).padStart(12, '0')}`;
    e.time += i;
    return e;
  });
}

/** A Detection Finding as lib/detections builds them; a fresh copy each call. */
export function finding(): OcsfEvent {
  return JSON.parse(readFileSync(new URL('./fixtures/detection-finding.unusual-ip.json', import.meta.url), 'utf8')) as OcsfEvent;
}

/** Short delays so retry tests take milliseconds. */
export const QUICK_RETRY: RetryOptions = { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 2_000 };

export function uids(events: readonly { metadata?: unknown; event?: unknown }[]): string[] {
  return events.map((e) => {
    const ocsf = (e.event ?? e) as { metadata: { uid: string } };
    return ocsf.metadata.uid;
  });
}

/** Metrics that record what was added (the Powertools API, minus the flushing). */
export function recordingMetrics(): { metrics: Pick<import('@aws-lambda-powertools/metrics').Metrics, 'addMetric'>; added: Map<string, number> } {
  const added = new Map<string, number>();
  const metrics = {
    addMetric(name: string, _unit: unknown, value: number) {
      added.set(name, (added.get(name) ?? 0) + value);
      return metrics;
    },
  };
  return { metrics: metrics as unknown as Pick<import('@aws-lambda-powertools/metrics').Metrics, 'addMetric'>, added };
}

/** A logger that keeps every line it was given, to check what would be logged. */
export function recordingLogger(): { logger: Pick<import('@aws-lambda-powertools/logger').Logger, 'debug' | 'info' | 'warn' | 'error'>; lines: string[] } {
  const lines: string[] = [];
  const log: Log = (message, extra) => void lines.push(JSON.stringify({ message, ...(typeof extra === 'object' && extra !== null ? extra : {}) }));
  const logger = { debug: log, info: log, warn: log, error: log };
  return { logger: logger as unknown as Pick<import('@aws-lambda-powertools/logger').Logger, 'debug' | 'info' | 'warn' | 'error'>, lines };
}
type Log = (message: string, extra?: unknown) => void;
