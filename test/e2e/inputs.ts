/**
 * Inputs of the end-to-end suite: Buildkite's documented EventBridge payloads, payloads broken on
 * purpose (each must be quarantined with a reason), and a short incident built with the scenario
 * builders, small enough for the failure-mode tests: history for the ci-linux token and for Jane,
 * then the ci-linux token used from the attacker's network (revoke-agent-token + stop-agent), the
 * prod cluster token's registration blocked (revoke-agent-token through the REST API) and the
 * EventBridge notification service disabled (notify only).
 */
import { agentConnected, agentEvent, audit, buildEvent, jobEvent, ms, registrationBlocked, secretRead, uid, type AgentRef, type Envelope } from '../../lib/detections/builders.ts';
import { clone, sample, sampleSlugs } from '../support/fixtures.ts';
import { ATTACKER_IP, ciToken, eventBridgeService, jane, pipelines, prodClusterToken, secret } from '../fixtures/scenarios/generate.ts';

/** The docs' payloads that EventBridge routes to Kitewatch (build-blocked's example has a placeholder source no rule matches). */
export function docsPayloads(options: { withBlocked: boolean }): Envelope[] {
  return sampleSlugs()
    .filter((slug) => slug !== 'build-blocked')
    .filter((slug) => options.withBlocked || !slug.endsWith('blocked'))
    .map((slug) => sample(slug));
}

/** Broken on purpose, each in a way the normalizer must name. */
export function malformedPayloads(): Envelope[] {
  const noAgent = clone(sample('agent-connected'));
  delete (noAgent['detail'] as Record<string, unknown>)['agent'];
  const badTime = clone(sample('audit-event-logged'));
  const badEvent = (badTime['detail'] as { event: Record<string, unknown> }).event;
  // Another audit event (its own uuid), whose timestamp cannot be read.
  badEvent['uuid'] = uid('audit', 'e2e', 'unreadable-time');
  badEvent['occurred_at'] = 'sometime on Tuesday';
  const emptyJob = clone(sample('job-finished'));
  emptyJob['detail'] = { version: 1 };
  return [noAgent, badTime, emptyJob];
}

/** A body SQS might hold that is not JSON at all (put straight on the normalize queue). */
export const NOT_JSON = '<html><body>502 Bad Gateway</body></html>';

export const rogue0: AgentRef = { uuid: uid('agent', 'rogue', '0'), name: 'rogue-0', ip: ATTACKER_IP, hostname: 'rogue-0' };

const DAY0 = ms('2026-03-08T00:00:00Z');
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** The short incident, in time order. */
export function incident(): Envelope[] {
  const out: Envelope[] = [];
  // Two days of the ci-linux token on EC2 agents in AWS 3.80.0.0/12, and Jane from her ISP.
  for (let d = 0; d < 2; d++) {
    for (let i = 0; i < 3; i++) {
      const at = DAY0 + d * 24 * HOUR + 7 * HOUR + i * MINUTE;
      const agent: AgentRef = { uuid: uid('agent', 'ci', String(d), String(i)), name: `ci-${d}-${i}`, ip: `3.8${i}.10.${20 + d}`, hostname: `ip-10-0-${d}-${i}.ec2.internal` };
      out.push(agentConnected({ at, agent, token: ciToken }));
      out.push(agentEvent('Agent Disconnected', { at: at + 90 * MINUTE, agent, token: ciToken, connectedAt: at }));
    }
    const build = DAY0 + d * 24 * HOUR + 9 * HOUR;
    out.push(buildEvent('Build Created', { at: build, pipeline: pipelines.web, number: 100 + d }));
    out.push(buildEvent('Build Started', { at: build + 20_000, pipeline: pipelines.web, number: 100 + d }));
    out.push(jobEvent('Job Started', { at: build + 25_000, pipeline: pipelines.web, number: 100 + d, label: 'Test' }));
    out.push(secretRead({ at: build + 30_000, secret: secret('NPM_TOKEN'), pipeline: pipelines.web, ip: '3.81.1.1', seq: d }));
    out.push(jobEvent('Job Finished', { at: build + 5 * MINUTE, pipeline: pipelines.web, number: 100 + d, label: 'Test', passed: true }));
    out.push(buildEvent('Build Finished', { at: build + 6 * MINUTE, pipeline: pipelines.web, number: 100 + d, passed: true }));
    const janeAt = DAY0 + d * 24 * HOUR + 9 * HOUR + 30 * MINUTE;
    out.push(audit({ at: janeAt, type: 'ORGANIZATION_INVITATION_CREATED', actor: jane, subject: { type: 'OrganizationInvitation', uuid: uid('invite', 'e2e', String(d)) }, ip: `86.1.7.${10 + d}` }));
  }
  // Day three: the attack.
  const t = (hh: number, mm: number): number => DAY0 + 2 * 24 * HOUR + hh * HOUR + mm * MINUTE;
  out.push(agentConnected({ at: t(10, 0), agent: rogue0, token: ciToken }));
  out.push(registrationBlocked({ at: t(10, 1), blockedIp: ATTACKER_IP, clusterToken: prodClusterToken }));
  out.push(audit({ at: t(10, 40), type: 'NOTIFICATION_SERVICE_DISABLED', actor: jane, subject: eventBridgeService, data: { provider: 'amazon_eventbridge' }, ip: ATTACKER_IP }));
  return out;
}
