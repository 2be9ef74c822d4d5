/**
 * The AWS form of `kitewatch detections ack`: the same input (a finding, or entity type + uuid +
 * networks) and the same core (lib/detections/ack.ts) over the DynamoDB StatePort.
 */
import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { AckError, ackOfFinding, acknowledge, validAck, type NetworkAck } from '../../lib/detections/ack.ts';
import { KIND_OF_TYPE } from '../../lib/detections/unusual-ip.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import type { StatePort } from '../../lib/state/port.ts';

export const FindingInput = z.strictObject({ finding: z.record(z.string(), z.unknown()) });
export const EntityInput = z.strictObject({
  entityType: z.enum(['AgentToken', 'ApiToken', 'Actor']),
  entity: z.string(),
  networks: z.array(z.string()),
});

export interface AckReport {
  readonly acknowledged: boolean;
  readonly kind?: string;
  readonly entity?: string;
  readonly networks?: readonly string[];
  readonly error?: string;
}

/** Parses and validates the input (ids, networks) before anything touches state; bad input is a report, not a crash. */
export function parseAck(raw: unknown, nowSeconds: number): NetworkAck {
  // Either form, chosen by its key, so a refusal names the field at fault.
  const byFinding = typeof raw === 'object' && raw !== null && 'finding' in raw;
  const parsed = (byFinding ? FindingInput : EntityInput).safeParse(raw);
  if (!parsed.success) throw new AckError(`input: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')} (give {finding} or {entityType, entity, networks})`);
  const input = parsed.data;
  if ('finding' in input) return ackOfFinding(input.finding as unknown as OcsfEvent);
  return validAck({ kind: KIND_OF_TYPE[input.entityType] as NonNullable<(typeof KIND_OF_TYPE)[keyof typeof KIND_OF_TYPE]>, entity: input.entity, networks: input.networks, at: nowSeconds });
}

export async function runAck(raw: unknown, state: StatePort, nowSeconds = Math.floor(Date.now() / 1000)): Promise<AckReport> {
  let ack: NetworkAck;
  try {
    ack = parseAck(raw, nowSeconds);
  } catch (error) {
    if (error instanceof AckError) return { acknowledged: false, error: error.message };
    throw error;
  }
  await acknowledge(state, ack);
  return { acknowledged: true, kind: ack.kind, entity: ack.entity, networks: ack.networks };
}
