import type { DriftKind } from '../contracts/audit-drift.ts';
import { normalizeEnvelope } from '../ocsf/normalize.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { validateOcsf } from '../ocsf/validate.ts';
import { toBusEnvelope } from './bus.ts';
import type { InputItem } from './input.ts';
import { quarantineRecord, type QuarantineRecord } from './quarantine.ts';
import type { CompiledRule } from './rules.ts';
import { rulesFor } from './rules.ts';
import type { ContainStage, DetectStage, Sink, SinkReport } from './stages.ts';

export interface PipelineCounts {
  events: number;
  normalized: number;
  quarantined: number;
  findings: number;
  actions: number;
}

export interface PipelineOptions {
  readonly rules: readonly CompiledRule[];
  readonly sinks: readonly Sink[];
  /** Receives every rejected input with its reason. */
  readonly quarantine: (record: QuarantineRecord) => Promise<void>;
  readonly detect?: DetectStage;
  readonly contain?: ContainStage;
  /** Validate every emitted event against the OCSF JSON Schemas (tests, --validate). */
  readonly validate?: boolean;
  /** Quarantine events from any other source (see NormalizeOptions.expectedSource). */
  readonly expectedSource?: string | undefined;
  /** State is flushed every this many inputs (one write per key per batch). */
  readonly batchSize?: number;
  /** Observes each emitted OCSF event with the input's arrival time (latency benchmark, reports). */
  readonly onEmit?: (event: OcsfEvent, inputStartedAt: number) => void;
}

/**
 * The local pipeline: the same routes (rules/) and the same pure stages as on AWS, in one process,
 * in input order. Conservation holds by construction: every input is counted once, as normalized
 * or quarantined.
 */
export class LocalPipeline {
  readonly counts: PipelineCounts = { events: 0, normalized: 0, quarantined: 0, findings: 0, actions: 0 };
  /** Normalized inputs whose shape drifted from the EventBridge payload, per kind (an input may count under several). */
  readonly drift = new Map<DriftKind, number>();
  /** Normalized inputs with any drift. */
  driftedEvents = 0;
  readonly #opts: PipelineOptions;
  readonly #ingest: CompiledRule[];
  readonly #toDetect: CompiledRule[];
  readonly #toContain: CompiledRule[];
  readonly #toForward: CompiledRule[];
  readonly #batchSize: number;
  /** Routes per class_uid, when every kitewatch-bus rule depends on nothing else (see routeByClass). */
  readonly #routes: Map<number, Routes> | undefined;
  #sinceFlush = 0;

  constructor(opts: PipelineOptions) {
    this.#opts = opts;
    this.#ingest = rulesFor(opts.rules, 'normalize');
    this.#toDetect = rulesFor(opts.rules, 'detect');
    this.#toContain = rulesFor(opts.rules, 'contain');
    this.#toForward = rulesFor(opts.rules, 'forward');
    this.#batchSize = opts.batchSize ?? 500;
    this.#routes = [...this.#toForward, ...this.#toDetect, ...this.#toContain].every(routeByClass) ? new Map() : undefined;
    if (this.#ingest.length === 0) throw new Error('no rule in rules/ targets the normalizer');
  }

  async process(item: InputItem): Promise<void> {
    const started = performance.now();
    this.counts.events++;
    if (item.kind === 'raw') {
      await this.#reject(quarantineRecord(item.reason, { raw: item.raw, bytes: item.bytes, sha256: item.sha256 }, item.origin));
    } else {
      // Normalize first so that malformed input gets the normalizer's precise reason.
      const result = normalizeEnvelope(item.value, { sizeBytes: item.sizeBytes, expectedSource: this.#opts.expectedSource });
      if (!result.ok) {
        await this.#reject(quarantineRecord(`${item.origin}: ${result.reason}`, { input: item.value, raw: item.text, bytes: item.sizeBytes }, item.origin));
      } else if (!this.#ingest.some((r) => r.matches(item.value))) {
        const names = this.#ingest.map((r) => `rules/${r.name}.json`).join(', ');
        await this.#reject(
          quarantineRecord(`${item.origin}: no ingest rule matches this event (${names})${describeSource(item.value)}`, { input: item.value, raw: item.text, bytes: item.sizeBytes }, item.origin),
        );
      } else {
        const invalid = this.#invalid(result.event);
        if (invalid !== undefined) {
          await this.#reject(quarantineRecord(`${item.origin}: normalized to an invalid OCSF event: ${invalid}`, { input: item.value, raw: item.text, bytes: item.sizeBytes }, item.origin));
        } else {
          this.counts.normalized++;
          if (result.drift !== undefined) this.#noteDrift(result.drift);
          await this.#emit(result.event, started);
        }
      }
    }
    if (++this.#sinceFlush >= this.#batchSize) await this.flushState();
  }

  async flushState(): Promise<void> {
    this.#sinceFlush = 0;
    const detect = this.#opts.detect;
    if (detect?.drain !== undefined) {
      const started = performance.now();
      for (const finding of await detect.drain()) {
        this.counts.findings++;
        await this.#emit(finding, started);
      }
    }
    await this.#opts.detect?.flush();
    await this.#opts.contain?.flush();
  }

  /** Flushes state and closes sinks; returns what each sink reported. */
  async finish(): Promise<SinkReport[]> {
    await this.flushState();
    const reports: SinkReport[] = [];
    for (const sink of this.#opts.sinks) reports.push(await sink.close());
    return reports;
  }

  async #reject(record: QuarantineRecord): Promise<void> {
    this.counts.quarantined++;
    await this.#opts.quarantine(record);
  }

  /** Emits one OCSF event and routes it onward by the same rules EventBridge would apply. */
  async #emit(event: OcsfEvent, started: number): Promise<void> {
    const routes = this.#routesFor(event);
    if (routes.forward) {
      for (const sink of this.#opts.sinks) {
        const pending = sink.write(event);
        if (pending !== undefined) await pending;
      }
    }
    this.#opts.onEmit?.(event, started);
    if (this.#opts.detect !== undefined && routes.detect) {
      const found = this.#opts.detect.detect(event);
      // No await for a synchronous answer: one microtask per event saved on the hot path.
      for (const finding of Array.isArray(found) ? (found as readonly OcsfEvent[]) : await found) {
        if (await this.#quarantinedDerived(finding)) continue;
        this.counts.findings++;
        await this.#emit(finding, started);
      }
    }
    if (this.#opts.contain !== undefined && routes.contain) {
      for (const action of await this.#opts.contain.contain(event)) {
        if (await this.#quarantinedDerived(action)) continue;
        this.counts.actions++;
        await this.#emit(action, started);
      }
    }
  }

  #noteDrift(drift: readonly DriftKind[]): void {
    this.driftedEvents++;
    for (const k of drift) this.drift.set(k, (this.drift.get(k) ?? 0) + 1);
  }

  /** With --validate: why `event` breaks the OCSF schemas, or undefined when it is valid (or unchecked). */
  #invalid(event: OcsfEvent): string | undefined {
    if (this.#opts.validate !== true) return undefined;
    const v = validateOcsf(event);
    return v.valid ? undefined : v.errors.slice(0, 3).join('; ');
  }

  /**
   * A finding or action that breaks the schemas is a Kitewatch bug, never a reason to stop the
   * run: it goes to the quarantine (not counted as input) and is not emitted.
   */
  async #quarantinedDerived(event: OcsfEvent): Promise<boolean> {
    const invalid = this.#invalid(event);
    if (invalid === undefined) return false;
    await this.#opts.quarantine(quarantineRecord(`Kitewatch produced an invalid OCSF event ${event.metadata.uid} (class ${event.class_uid}): ${invalid}`, { input: event }));
    return true;
  }

  /** Which targets the rules route `event` to; memoized per class_uid when that decides it. */
  #routesFor(event: OcsfEvent): Routes {
    const cached = this.#routes?.get(event.class_uid);
    if (cached !== undefined) return cached;
    const envelope = toBusEnvelope(event);
    const routes: Routes = {
      forward: this.#toForward.some((r) => r.matches(envelope)),
      detect: this.#toDetect.some((r) => r.matches(envelope)),
      contain: this.#toContain.some((r) => r.matches(envelope)),
    };
    this.#routes?.set(event.class_uid, routes);
    return routes;
  }
}

interface Routes {
  readonly forward: boolean;
  readonly detect: boolean;
  readonly contain: boolean;
}

/**
 * True when the rule's match follows from class_uid alone: on the kitewatch bus source is constant,
 * detail-type follows from class_uid, and the local envelope has no other field than time and
 * detail, so a pattern on any other field (`replay-name` exists false) gives the same answer for
 * every event. Patterns on time, on other detail fields or with `$or` are matched per event.
 */
export function routeByClass(rule: CompiledRule): boolean {
  for (const key of Object.keys(rule.eventPattern)) {
    if (key === 'time' || key === '$or') return false;
    if (key !== 'detail') continue;
    const detail: unknown = (rule.eventPattern as Record<string, unknown>)['detail'];
    if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) return false;
    if (Object.keys(detail).some((k) => k !== 'class_uid')) return false;
  }
  return true;
}

function describeSource(value: unknown): string {
  const source = (value as { source?: unknown } | null)?.source;
  return typeof source === 'string' ? `; source is "${source}"` : '; it has no "source"';
}

export function summaryLine(c: PipelineCounts, extra: Record<string, number> = {}): string {
  const parts = [`events=${c.events}`, `normalized=${c.normalized}`, `quarantined=${c.quarantined}`, `findings=${c.findings}`, `actions=${c.actions}`];
  for (const [k, v] of Object.entries(extra)) parts.push(`${k}=${v}`);
  return parts.join(' ');
}
