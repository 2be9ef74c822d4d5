import { describe, expect, it } from 'vitest';
import { agentEvent, uid, type AgentEventType } from '../../lib/detections/builders.ts';
import { connectedAgents, ROSTER_CAP, trackAgent } from '../../lib/detections/roster.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';

const token = { uuid: uid('token', 'r'), description: 'r' };
const T0 = Date.UTC(2026, 2, 10, 9, 0, 0);

function ev(type: AgentEventType, n: number, at: number, name = `a-${n}`): OcsfEvent {
  const r = normalizeEnvelope(agentEvent(type, { at, agent: { uuid: uid('agent', String(n)), name, ip: `3.80.0.${n % 250}` }, token }));
  if (!r.ok) throw new Error(r.reason);
  return r.event;
}

describe('agent roster', () => {
  it('lists connected agents most recent first, drops disconnected and stale ones, and caps the list', async () => {
    const state = new SqliteState({ path: ':memory:', nowSeconds: () => Math.floor(T0 / 1000) });
    const track = (e: OcsfEvent) => trackAgent(e, state, (s) => Math.floor(e.time / 1000) + s);
    for (let i = 0; i < ROSTER_CAP + 20; i++) await track(ev('Agent Connected', i, T0 + i * 1000));
    let list = await connectedAgents(state, token.uuid, T0 + 200_000);
    expect(list).toHaveLength(ROSTER_CAP);
    expect(list[0]).toMatchObject({ uid: uid('agent', String(ROSTER_CAP + 19)), name: `a-${ROSTER_CAP + 19}`, ip: `3.80.0.${(ROSTER_CAP + 19) % 250}` });
    expect(list[0]?.event).toBeTypeOf('string');

    await track(ev('Agent Disconnected', ROSTER_CAP + 19, T0 + 300_000));
    await track(ev('Agent Lost', ROSTER_CAP + 18, T0 + 300_000));
    list = await connectedAgents(state, token.uuid, T0 + 300_000);
    expect(list).toHaveLength(ROSTER_CAP - 2);
    expect(list.map((a) => a.uid)).not.toContain(uid('agent', String(ROSTER_CAP + 19)));

    // A reconnect moves the agent to the front; an older, late-delivered connect does not.
    await track(ev('Agent Connected', 50, T0 + 400_000));
    await track(ev('Agent Connected', 50, T0 + 350_000));
    list = await connectedAgents(state, token.uuid, T0 + 400_000);
    expect(list[0]).toMatchObject({ uid: uid('agent', '50'), seen: T0 + 400_000 });
    expect(list.filter((a) => a.uid === uid('agent', '50'))).toHaveLength(1);

    // A late logoff from an earlier session does not remove a newer connection.
    await track(ev('Agent Disconnected', 50, T0 + 390_000));
    expect((await connectedAgents(state, token.uuid, T0 + 400_000))[0]?.uid).toBe(uid('agent', '50'));

    // A day later without connects, nothing is listed.
    expect(await connectedAgents(state, token.uuid, T0 + 2 * 86_400_000)).toEqual([]);
    await state.close();
  });

  it('keeps tabs and newlines in names from corrupting records', async () => {
    const state = new SqliteState({ path: ':memory:', nowSeconds: () => Math.floor(T0 / 1000) });
    const e = ev('Agent Connected', 1, T0, 'evil\tname\nx');
    await trackAgent(e, state, (s) => Math.floor(T0 / 1000) + s);
    expect(await connectedAgents(state, token.uuid, T0)).toEqual([
      { uid: uid('agent', '1'), name: 'evil name x', ip: '3.80.0.1', seen: T0, event: e.metadata.uid, shape: { version: '3.97.1', host: 'evil\\tname\\nx', tags: ['queue=default'] } },
    ]);
    await state.close();
  });
});
