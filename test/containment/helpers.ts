/**
 * Test helpers for containment: findings built per lib/findings/contract.ts, AWS clients that
 * record their calls (around the real moto-backed client), and the containment stage's options.
 */
import { parseConfig } from '../../lib/config/load.ts';
import type { ContainStageOptions } from '../../lib/containment/stage.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import type { EntityRole, EntityType } from '../../lib/findings/contract.ts';
import { classify, OCSF_VERSION, status, type OcsfEvent, type SeverityId } from '../../lib/ocsf/types.ts';

export interface SentCommand {
  readonly name: string;
  readonly input: Record<string, unknown>;
}

/**
 * Wraps an SDK client so every `send` is recorded (command name without "Command", and its input);
 * `intercept` may answer a command instead of the real client (for what moto cannot do).
 */
export function recording<C extends object>(client: C, intercept?: (sent: SentCommand) => Promise<unknown> | undefined): { client: C; sent: SentCommand[] } {
  const sent: SentCommand[] = [];
  const proxy = new Proxy(client, {
    get(target, prop) {
      if (prop !== 'send') {
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      }
      return (command: { constructor: { name: string }; input: Record<string, unknown> }) => {
        const entry = { name: command.constructor.name.replace(/Command$/, ''), input: command.input };
        sent.push(entry);
        const answered = intercept?.(entry);
        if (answered !== undefined) return answered;
        return (target as unknown as { send(c: unknown): Promise<unknown> }).send(command);
      };
    },
  });
  return { client: proxy, sent };
}

export interface ResourceSpec {
  readonly uid: string;
  readonly name?: string;
  readonly type: EntityType;
  readonly role: EntityRole;
  readonly data?: Record<string, unknown>;
}

/** A Detection Finding as the detectors raise it (lib/findings/contract.ts). */
export function finding(opts: {
  readonly detector: string;
  readonly uid?: string;
  readonly severityId?: SeverityId;
  readonly org?: string;
  readonly resources: readonly ResourceSpec[];
  readonly time?: number;
}): OcsfEvent {
  const uid = opts.uid ?? `${opts.detector}:${opts.resources[0]?.uid ?? 'x'}:2026-11-23`;
  const org = opts.org ?? 'acme';
  return {
    ...classify(2004, 1, opts.severityId ?? 4),
    ...status(1),
    status: 'New',
    time: opts.time ?? 1_763_900_000_000,
    message: `test finding ${opts.detector}`,
    metadata: { version: OCSF_VERSION, product: { name: 'Buildkite Pipelines', vendor_name: 'Buildkite' }, uid: `meta-${uid}` },
    finding_info: { uid, title: `test ${opts.detector}`, analytic: { uid: opts.detector, name: opts.detector, type_id: 1, type: 'Rule' } },
    resources: [
      ...opts.resources.map((r) => ({ uid: r.uid, type: r.type, ...(r.name !== undefined ? { name: r.name } : {}), data: { role: r.role, ...r.data } })),
      { uid: '0198e45b-c0d5-4a0b-8e37-e140af750d2d', name: org, type: 'Organization', data: { role: 'related' } },
    ],
  };
}

/** The containment stage's options as `kitewatch replay` would pass them. */
export function replayOptions(opts: { mode: ContainStageOptions['containment']; apiUrl?: string; graphqlUrl?: string; config?: KitewatchConfigInput }): ContainStageOptions {
  return {
    config: parseConfig(opts.config ?? {}),
    containment: opts.mode,
    buildkiteApiUrl: opts.apiUrl ?? 'https://api.buildkite.com',
    buildkiteGraphqlUrl: opts.graphqlUrl ?? 'https://graphql.buildkite.com/v1',
  };
}

/** Every string in a JSON-able value, flattened (to scan outputs for planted secrets). */
export function textOf(value: unknown): string {
  return JSON.stringify(value) ?? '';
}
