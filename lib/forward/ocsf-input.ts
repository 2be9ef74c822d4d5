import * as z from 'zod/mini';
import '../config/zod-en.ts';
import type { OcsfEvent } from '../ocsf/types.ts';

/**
 * What forwarding needs of an OCSF event to route, format and deduplicate it. The full JSON
 * Schemas are checked where events are made; a forwarder only refuses what it cannot deliver.
 */
export const ForwardableEvent = z.looseObject({
  class_uid: z.int().check(z.positive()),
  category_uid: z.int(),
  type_uid: z.int(),
  activity_id: z.int(),
  severity_id: z.int(),
  time: z.int().check(z.nonnegative()),
  metadata: z.looseObject({ uid: z.string().check(z.minLength(1)), version: z.string().check(z.minLength(1)) }),
});

export type Extracted = { readonly ok: true; readonly event: OcsfEvent } | { readonly ok: false; readonly reason: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An OCSF event, given either bare (EventBridge target with InputPath $.detail, spill files) or
 * inside the EventBridge envelope (SQS targets deliver the whole event).
 */
export function extractOcsf(value: unknown): Extracted {
  const candidate = isRecord(value) && typeof value['detail-type'] === 'string' && isRecord(value['detail']) ? value['detail'] : value;
  const parsed = ForwardableEvent.safeParse(candidate);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, reason: `not an OCSF event (${issues.join('; ')})` };
  }
  // The original object, not zod's copy: key order and unknown fields pass through untouched.
  return { ok: true, event: candidate as OcsfEvent };
}

/** Parses one line/record of JSON text into an OCSF event. */
export function parseOcsf(text: string): Extracted {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // The SyntaxError quotes the input; keep payloads out of reasons.
    return { ok: false, reason: 'not valid JSON' };
  }
  return extractOcsf(value);
}
