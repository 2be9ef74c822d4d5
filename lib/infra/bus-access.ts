/**
 * Who may publish on the Kitewatch bus, and what. Downstream stages trust `source` and
 * `detail-type` (containment acts on "OCSF Detection Finding"), so each publisher may put only
 * the detail-types it produces, and the bus itself refuses anyone Kitewatch did not mark.
 */
import { Tags } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { APPROVAL_REQUESTED_DETAIL_TYPE } from '../containment/approval.ts';
import { DetailType, KITEWATCH_SOURCE } from '../engine/bus.ts';

/** The role tag the bus policy checks: its value is the bus the role may publish on. */
export const PUBLISHER_TAG = 'kitewatch:publishes-to';

/** Each publisher and the detail-types it emits (lib/engine/bus.ts, lib/containment/approval.ts). */
export const PUBLISHES = {
  normalize: [DetailType.event],
  detect: [DetailType.finding],
  contain: [DetailType.remediation],
  runbook: [DetailType.remediation],
  approval: [APPROVAL_REQUESTED_DETAIL_TYPE, DetailType.remediation],
} as const satisfies Record<string, readonly string[]>;
export type Publisher = keyof typeof PUBLISHES;

/**
 * events:PutEvents on `bus` for `role`, only with source `kitewatch` and the publisher's
 * detail-types (EventBridge authorizes each entry with its own events:source and
 * events:detail-type), and the tag the bus policy admits.
 */
export function grantPublish(bus: events.IEventBus, role: iam.IRole & IConstruct, publisher: Publisher): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      sid: 'PublishOwnDetailTypes',
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      conditions: {
        StringEquals: { 'events:source': KITEWATCH_SOURCE, 'events:detail-type': [...PUBLISHES[publisher]] },
      },
    }),
  );
  Tags.of(role).add(PUBLISHER_TAG, bus.eventBusName);
}

/**
 * The bus policy: PutEvents is denied to any principal not tagged as a publisher of this bus, and
 * any event whose source is not `kitewatch`. A Deny, because a same-account principal with
 * events:PutEvents in its own policy needs no Allow from the bus.
 */
export function restrictPublishers(bus: events.EventBus): void {
  bus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyKitewatchPublishers',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      conditions: { StringNotEquals: { [`aws:PrincipalTag/${PUBLISHER_TAG}`]: bus.eventBusName } },
    }),
  );
  bus.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'OnlyKitewatchSource',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['events:PutEvents'],
      resources: [bus.eventBusArn],
      conditions: { StringNotEquals: { 'events:source': KITEWATCH_SOURCE } },
    }),
  );
}
