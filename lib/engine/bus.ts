/**
 * How Kitewatch events look on its own EventBridge bus. One definition, used by the
 * handlers that publish, by the rules in rules/ and by the local engine.
 */
export const KITEWATCH_SOURCE = 'kitewatch';

export const DetailType = {
  event: 'OCSF Event',
  finding: 'OCSF Detection Finding',
  remediation: 'OCSF Remediation Activity',
} as const;
export type DetailType = (typeof DetailType)[keyof typeof DetailType];

/** OCSF class_uid -> the detail-type it travels under. */
export function detailTypeFor(classUid: number): DetailType {
  if (classUid === 2004) return DetailType.finding;
  if (classUid === 7001) return DetailType.remediation;
  return DetailType.event;
}

export interface BusEnvelope<T = Record<string, unknown>> {
  readonly source: typeof KITEWATCH_SOURCE;
  readonly 'detail-type': DetailType;
  readonly time: string;
  readonly detail: T;
}

/**
 * The envelope as EventBridge would deliver it; the local engine matches rules against this.
 * `time` is a getter: no rule matches on it today, so the ISO conversion is skipped on the hot path.
 */
export function toBusEnvelope<T extends { class_uid: number; time: number }>(event: T): BusEnvelope<T> {
  return {
    source: KITEWATCH_SOURCE,
    'detail-type': detailTypeFor(event.class_uid),
    get time() {
      return new Date(event.time).toISOString();
    },
    detail: event,
  };
}

/** A PutEvents entry (max 256 KB; OCSF events are far below that). */
export function toPutEventsEntry(
  event: { class_uid: number; time: number },
  eventBusName: string,
): { Source: string; DetailType: string; Detail: string; Time: Date; EventBusName: string } {
  return {
    Source: KITEWATCH_SOURCE,
    DetailType: detailTypeFor(event.class_uid),
    Detail: JSON.stringify(event),
    Time: new Date(event.time),
    EventBusName: eventBusName,
  };
}
