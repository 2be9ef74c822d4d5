/**
 * Acknowledging a network: a finding of unusual-ip confirmed as expected (a new office, a fleet
 * moved region). The entity's networks in state get the acknowledged ASN, country and cloud
 * region, so from then on they are known to it, exactly as if it had used them during its
 * learning period. The same core serves `kitewatch detections ack` (local state) and any other
 * store (a DynamoDB StatePort on AWS); config has the static form (`detectors.unusual-ip.acknowledged`).
 *
 * Only a finding Kitewatch raised is taken (product and analytic checked), and only the entity
 * it targets is changed: an acknowledgement never widens to other tokens or actors.
 */
import type { OcsfEvent } from '../ocsf/types.ts';
import { STATE_PARTITIONS, type StatePort } from '../state/port.ts';
import { KIND_OF_TYPE, seenKey, type Seen, type UnusualIpKind } from './unusual-ip.ts';

export const NETWORK_KEY = /^(AS\d+|[A-Z]{2}|(aws|gcp|azure):[a-z0-9-]+)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface NetworkAck {
  readonly kind: UnusualIpKind;
  readonly entity: string;
  /** `AS16509`, `SG`, `aws:ap-southeast-1`. */
  readonly networks: readonly string[];
  /** Event seconds the networks count as last used. */
  readonly at: number;
}

export class AckError extends Error {
  override readonly name = 'AckError';
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** What an unusual-ip finding asks to acknowledge: its target and the network it names. */
export function ackOfFinding(finding: OcsfEvent): NetworkAck {
  const info = finding['finding_info'] as { analytic?: { uid?: unknown }; last_seen_time?: unknown } | undefined;
  const product = finding.metadata?.product as { name?: unknown } | undefined;
  if (finding.class_uid !== 2004 || product?.name !== 'Kitewatch' || info?.analytic?.uid !== 'unusual-ip') {
    throw new AckError('not an unusual-ip finding raised by Kitewatch (class 2004, metadata.product.name Kitewatch, finding_info.analytic.uid unusual-ip)');
  }
  const target = (finding.resources ?? []).find((r) => (r.data as { role?: unknown } | undefined)?.role === 'target');
  const kind = target === undefined ? undefined : KIND_OF_TYPE[target.type as keyof typeof KIND_OF_TYPE];
  const entity = str(target?.uid);
  if (kind === undefined || entity === undefined)
    throw new AckError("the finding targets no agent token, API token or actor (a blocked registration is not acknowledged: fix the token's allowed IPs)");
  const kw = (finding.unmapped as { kitewatch?: Record<string, unknown> } | undefined)?.kitewatch ?? {};
  const networks = [typeof kw['asn'] === 'number' ? `AS${kw['asn']}` : undefined, str(kw['country']), str(kw['cloud_region'])].filter((n): n is string => n !== undefined);
  const lastSeen = typeof info?.last_seen_time === 'number' ? info.last_seen_time : finding.time;
  return validAck({ kind, entity, networks, at: Math.floor(lastSeen / 1000) });
}

export function validAck(ack: NetworkAck): NetworkAck {
  if (!UUID.test(ack.entity)) throw new AckError(`entity "${ack.entity}" is not a Buildkite uuid`);
  if (ack.networks.length === 0) throw new AckError('no network to acknowledge');
  const bad = ack.networks.filter((n) => !NETWORK_KEY.test(n));
  if (bad.length > 0) throw new AckError(`not a network: ${bad.join(', ')} (AS<number>, a two-letter country code, or <aws|gcp|azure>:<region>)`);
  if (!Number.isFinite(ack.at)) throw new AckError('no time to acknowledge at');
  return ack;
}

/** Marks the networks known to the entity; returns the state key written (with the detections prefix). */
export async function acknowledge(state: StatePort, ack: NetworkAck, memoryDays = 90): Promise<string> {
  const key = STATE_PARTITIONS.detect + seenKey(ack.kind, ack.entity);
  const prior = await state.get<Seen>(key);
  // An entity never seen yet starts its learning period now, with these networks known.
  const seen: Seen = prior?.value ?? { f: ack.at, n: {}, c: {}, r: {} };
  seen.r ??= {};
  for (const n of ack.networks) {
    const map = n.startsWith('AS') ? seen.n : n.includes(':') ? seen.r : seen.c;
    map[n] = Math.max(map[n] ?? 0, ack.at);
  }
  const expiresAt = Math.max(prior?.expiresAt ?? 0, ack.at + memoryDays * 86_400, Math.floor(Date.now() / 1000) + memoryDays * 86_400);
  await state.put<Seen>(key, seen, { expiresAt });
  return key;
}
