/** token-spike test cases. */
import { agentConnected, audit, ms, uid, type AgentRef, type Envelope } from './builders.ts';
import type { DetectorCase } from './types.ts';

const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const agent = (name: string, ip: string): AgentRef => ({ uuid: uid('agent', name), name, ip });
const at = (iso: string, plusSeconds = 0): number => ms(iso) + plusSeconds * 1000;
const terraform = { uuid: uid('user', 'terraform'), name: 'terraform-cloud' };

/** Three days of a quiet fleet: 5 agents every morning within two minutes. */
function history(): Envelope[] {
  const out: Envelope[] = [];
  for (let d = 0; d < 3; d++) {
    for (let i = 0; i < 5; i++) {
      out.push(agentConnected({ at: at(`2026-03-0${1 + d}T08:00:00Z`, i * 20), agent: agent(`day${d}-${i}`, `3.80.${d}.${10 + i}`), token }));
    }
  }
  return out;
}

const burst = Array.from({ length: 200 }, (_, i) => agent(`burst-${i}`, `3.88.${Math.floor(i / 200)}.${i + 1}`));
const spikeEvents: Envelope[] = [
  ...history(),
  // Two ordinary agents an hour before: the token's other agents (counted, not listed).
  agentConnected({ at: '2026-03-04T09:00:00Z', agent: agent('steady-1', '3.80.9.1'), token }),
  agentConnected({ at: '2026-03-04T09:01:00Z', agent: agent('steady-2', '3.80.9.2'), token }),
  // 200 registrations in ten minutes (one every 3 s), starting mid-window.
  ...burst.map((a, i) => agentConnected({ at: at('2026-03-04T10:03:00Z', i * 3), agent: a, token })),
];
const HISTORY = 17;
// Fires on the 50th burst registration (minimum 50 > 4 x baseline ~4); names the 50 most recent.
const trigger = HISTORY + 49;

export const tokenSpikeCases: readonly DetectorCase[] = [
  {
    name: 'a leaked agent token registering 200 agents in ten minutes',
    kind: 'positive',
    events: spikeEvents,
    expect: [
      {
        at: trigger,
        severity: 4,
        title: 'Agent token "ci-linux": 50 agent registrations in 10 minutes',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: burst.slice(0, 50).map((a) => a.uuid),
        evidence: [trigger - 1, trigger - 2],
      },
    ],
  },
  {
    name: 'one busy morning is not an alert',
    kind: 'negative',
    events: [
      ...history(),
      // 40 agents in ten minutes: 8x the baseline but under the minimum of 50.
      ...Array.from({ length: 40 }, (_, i) => agentConnected({ at: at('2026-03-04T08:00:00Z', i * 15), agent: agent(`busy-${i}`, `3.81.0.${i + 1}`), token })),
    ],
    expect: [],
  },
  {
    name: 'a fleet that grows to twice its usual size is not a spike',
    kind: 'negative',
    config: { minAgentRegistrations: 20 },
    events: Array.from({ length: 5 }, (_, d) =>
      Array.from({ length: d < 2 ? 15 : 30 }, (_, i) => agentConnected({ at: at(`2026-03-0${1 + d}T08:00:00Z`, i * 10), agent: agent(`fleet-${d}-${i}`, `3.82.${d}.${i + 1}`), token })),
    ).flat(),
    expect: [],
  },
  {
    name: 'a burst straddling a window edge still counts whole',
    kind: 'positive',
    config: { minAgentRegistrations: 30 },
    events: Array.from({ length: 40 }, (_, i) => agentConnected({ at: at('2026-03-04T10:08:00Z', i * 6), agent: agent(`edge-${i}`, `3.83.0.${i + 1}`), token })),
    // 20 land in 10:00-10:10 and 20 after. No fixed window reaches 30; the sliding estimate
    // does at 10:11:12, the 33rd registration: 13 + 20 x (1 - 72/600) = 30.6.
    expect: [{ at: 32, severity: 4, title: 'with no baseline', target: { type: 'AgentToken', uid: token.uuid }, implicated: Array.from({ length: 33 }, (_, i) => uid('agent', `edge-${i}`)), evidence: [31, 30] }],
  },
  {
    name: 'an actor making audit changes far above their baseline',
    kind: 'positive',
    config: { minAuditEvents: 30 },
    events: [
      ...Array.from({ length: 6 }, (_, i) => audit({ at: at(`2026-03-0${1 + (i % 3)}T1${i % 2}:00:00Z`), type: 'PIPELINE_UPDATED', actor: terraform, subject: { type: 'Pipeline', uuid: uid('pipeline', `p${i}`), name: `p${i}` }, ip: '3.90.1.1', seq: i })),
      ...Array.from({ length: 30 }, (_, i) => audit({ at: at('2026-03-05T12:00:00Z', i * 5), type: 'TEAM_MEMBER_DELETED', actor: terraform, subject: { type: 'TeamMember', uuid: uid('member', String(i)) }, ip: '3.90.1.1', seq: i })),
    ],
    expect: [{ at: 35, severity: 4, title: 'Actor "terraform-cloud": 30 audit events in 10 minutes', target: { type: 'Actor', uid: terraform.uuid }, evidence: [34, 33] }],
  },
];
