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

/**
 * An autoscaling fleet: a couple of agents every 30 minutes all day, and every morning at about
 * 08:00 (a few minutes' jitter) 100 agents within 5 minutes. `extra` adds one more burst on the last day.
 */
function autoscaling(days: number, extra?: { size: number; time: string }): Envelope[] {
  const out: Envelope[] = [];
  for (let d = 0; d < days; d++) {
    const date = `2026-03-${String(1 + d).padStart(2, '0')}`;
    for (let slot = 0; slot < 48; slot++) {
      for (let i = 0; i < 2; i++) out.push(agentConnected({ at: at(`${date}T00:00:00Z`, slot * 1800 + i * 60 + 7), agent: agent(`bg-${d}-${slot}-${i}`, `3.84.${d}.${slot * 2 + i}`), token }));
      if (slot === 16) {
        const start = at(`${date}T08:00:00Z`, ((d * 7) % 10) * 60 + 30);
        for (let i = 0; i < 100; i++) out.push(agentConnected({ at: start + i * 3000, agent: agent(`am-${d}-${i}`, `3.85.${d}.${i}`), token }));
      }
    }
    if (extra !== undefined && d === days - 1) {
      const start = at(`${date}T${extra.time}:00Z`);
      for (let i = 0; i < extra.size; i++) out.push(agentConnected({ at: start + i * 600, agent: agent(`x-${i}`, `3.86.${Math.floor(i / 250)}.${i % 250}`), token }));
    }
  }
  return out.sort((a, b) => ms(a['time'] as string) - ms(b['time'] as string));
}

/** The first three mornings of autoscaling(): new bursts, before the routine is learned. */
const morningsOneToThree = () =>
  [81, 277, 473].map((i) => ({ at: i, severity: 4 as const, title: 'Agent token "ci-linux": 50 agent registrations in 10 minutes', target: { type: 'AgentToken' as const, uid: token.uuid } }));

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
    expect: [
      {
        at: 32,
        severity: 4,
        title: 'with no baseline',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: Array.from({ length: 33 }, (_, i) => uid('agent', `edge-${i}`)),
        evidence: [31, 30],
      },
    ],
  },
  {
    name: 'an actor making audit changes far above their baseline',
    kind: 'positive',
    config: { minAuditEvents: 30 },
    events: [
      ...Array.from({ length: 6 }, (_, i) =>
        audit({
          at: at(`2026-03-0${1 + (i % 3)}T1${i % 2}:00:00Z`),
          type: 'PIPELINE_UPDATED',
          actor: terraform,
          subject: { type: 'Pipeline', uuid: uid('pipeline', `p${i}`), name: `p${i}` },
          ip: '3.90.1.1',
          seq: i,
        }),
      ),
      ...Array.from({ length: 30 }, (_, i) =>
        audit({ at: at('2026-03-05T12:00:00Z', i * 5), type: 'TEAM_MEMBER_DELETED', actor: terraform, subject: { type: 'TeamMember', uuid: uid('member', String(i)) }, ip: '3.90.1.1', seq: i }),
      ),
    ],
    expect: [{ at: 35, severity: 4, title: 'Actor "terraform-cloud": 30 audit events in 10 minutes', target: { type: 'Actor', uid: terraform.uuid }, evidence: [34, 33] }],
  },
  {
    name: 'a fleet that autoscales 100 agents every morning: new the first mornings, routine once seen on 3 days',
    kind: 'positive',
    // Implicated agents are not the point here (the other cases check them).
    config: { maxImplicatedAgents: 0 },
    events: autoscaling(16),
    // Mornings 1-3 (at the 50th registration of each); mornings 4-16 are the token's routine.
    expect: morningsOneToThree(),
  },
  {
    name: 'a 5x burst at the routine time still fires',
    kind: 'positive',
    config: { maxImplicatedAgents: 0 },
    events: autoscaling(10, { size: 500, time: '08:02' }),
    // Fires once the burst passes twice the routine's size (about 100).
    expect: [...morningsOneToThree(), { at: 2000, severity: 4, title: 'Agent token "ci-linux": 205 agent registrations in 10 minutes', target: { type: 'AgentToken', uid: token.uuid } }],
  },
  {
    name: 'the routine-sized burst at another time of day fires',
    kind: 'positive',
    config: { maxImplicatedAgents: 0 },
    events: autoscaling(10, { size: 100, time: '15:00' }),
    expect: [...morningsOneToThree(), { at: 1973, severity: 4, title: 'Agent token "ci-linux": 50 agent registrations in 10 minutes', target: { type: 'AgentToken', uid: token.uuid } }],
  },
];
