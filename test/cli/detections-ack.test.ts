import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../lib/cli/io.ts';
import { main } from '../../lib/cli/main.ts';
import { parseConfig } from '../../lib/config/load.ts';
import { agentConnected, uid } from '../../lib/detections/builders.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import type { AnyDetector } from '../../lib/detections/types.ts';
import { unusualIp } from '../../lib/detections/unusual-ip.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { tempDir } from '../support/cli.ts';

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => void stdout.push(l), err: (l) => void stderr.push(l) };
}

const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const at = (d: number, time = '09:00:00') => `2026-03-${String(1 + d).padStart(2, '0')}T${time}Z`;
const connect = (d: number, name: string, ip: string): OcsfEvent => {
  const r = normalizeEnvelope(agentConnected({ at: at(d), agent: { uuid: uid('agent', name), name, ip }, token }));
  if (!r.ok) throw new Error(r.reason);
  return r.event;
};

/** unusual-ip over `events` on the state file, as replay runs it; the findings it raised. */
async function run(path: string, events: readonly OcsfEvent[]): Promise<OcsfEvent[]> {
  const state = new SqliteState({ path });
  const stage = createDetectStage(parseConfig({}), state, { detectors: [unusualIp as AnyDetector] });
  const out: OcsfEvent[] = [];
  for (const e of events) out.push(...(await stage.detect(e)));
  out.push(...(await stage.drain()));
  await stage.flush();
  await state.close();
  return out;
}

describe('kitewatch detections ack', () => {
  it("acknowledges a finding's network: the region move is learned and raises nothing more", async () => {
    const dir = tempDir('kitewatch-ack-');
    const db = join(dir, 'state.db');
    const [first] = await run(db, [connect(0, 'eu-1', '34.240.1.1'), connect(2, 'eu-2', '34.250.3.4'), connect(3, 'fra-1', '35.156.1.1')]);
    expect(first).toBeDefined();
    const file = join(dir, 'finding.json');
    writeFileSync(file, JSON.stringify(first));
    const io = capture();
    expect(await main(['detections', 'ack', file, '--state', db], io)).toBe(0);
    expect(io.stdout.join('\n')).toContain(`acknowledged AS16509, DE, aws:eu-central-1 for agentToken ${token.uuid}`);
    // Ten days later (the incident has closed): the acknowledged network is known.
    expect(await run(db, [connect(13, 'fra-2', '3.120.1.1'), connect(14, 'fra-3', '35.156.1.9')])).toEqual([]);
    // Another new network is still raised.
    const other = await run(db, [connect(15, 'sg-1', '52.220.1.1')]);
    expect(other).toHaveLength(1);
  });

  it('without acknowledgement the same network raises a new finding once the incident closed', async () => {
    const db = join(tempDir('kitewatch-ack-'), 'state.db');
    await run(db, [connect(0, 'eu-1', '34.240.1.1'), connect(2, 'eu-2', '34.250.3.4'), connect(3, 'fra-1', '35.156.1.1')]);
    expect(await run(db, [connect(13, 'fra-2', '3.120.1.1')])).toHaveLength(1);
  });

  it('takes networks by hand, and refuses what is not a Kitewatch unusual-ip finding or not a network', async () => {
    const dir = tempDir('kitewatch-ack-');
    const db = join(dir, 'state.db');
    const ok = capture();
    expect(await main(['detections', 'ack', '--entity-type', 'AgentToken', '--entity', token.uuid, '--network', 'aws:eu-central-1', '--network', 'DE', '--state', db], ok)).toBe(0);
    const bad = capture();
    expect(await main(['detections', 'ack', '--entity-type', 'AgentToken', '--entity', token.uuid, '--network', 'eu-central-1', '--state', db], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toContain('not a network: eu-central-1');
    const foreign = join(dir, 'f.json');
    writeFileSync(foreign, JSON.stringify({ class_uid: 2004, metadata: { product: { name: 'Other' } }, finding_info: { analytic: { uid: 'unusual-ip' } } }));
    const refused = capture();
    expect(await main(['detections', 'ack', foreign, '--state', db], refused)).toBe(2);
    expect(refused.stderr.join('\n')).toContain('not an unusual-ip finding raised by Kitewatch');
  });
});
