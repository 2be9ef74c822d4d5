import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../lib/cli/io.ts';
import { parseReplayArgs, replay, type ReplayPlugins } from '../../lib/cli/replay.ts';
import { uid } from '../../lib/detections/builders.ts';
import { createDetectStage } from '../../lib/detections/stage.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { ndjson, summary, tempDir } from '../support/cli.ts';
import { ATTACKER_IP, ciToken, DIR, eventBridgeService, files, jane, pipelines, prodClusterToken, SWEEP } from '../fixtures/scenarios/generate.ts';
import { expectValidFinding, info, resourcesOf } from './support.ts';

const plugins: ReplayPlugins = {
  createState: async (path) => new SqliteState({ path }),
  createDetect: (config, state) => createDetectStage(config, state),
};

interface Replayed {
  readonly code: number;
  readonly summary: Record<string, number>;
  readonly events: OcsfEvent[];
  readonly findings: OcsfEvent[];
}

async function replayScenario(name: string, state?: string): Promise<Replayed> {
  const dir = tempDir('kitewatch-scenario-');
  const out = join(dir, 'out.ndjson');
  const err: string[] = [];
  const io: Io = { out: () => {}, err: (l) => void err.push(l) };
  const opts = parseReplayArgs([
    join(DIR, name),
    '--config',
    join(DIR, 'kitewatch.config.json'),
    '--containment',
    'off',
    '--state',
    state ?? join(dir, 'state.db'),
    '--quarantine',
    join(dir, 'q.ndjson'),
    '--out',
    out,
    '--validate',
  ]);
  if (opts === 'help') throw new Error('unreachable');
  const code = await replay(opts, io, plugins);
  const events = ndjson(readFileSync(out, 'utf8')) as OcsfEvent[];
  return { code, summary: summary(err.join('\n')), events, findings: events.filter((e) => e.class_uid === 2004) };
}

const short = (f: OcsfEvent) => {
  const target = resourcesOf(f).find((r) => r.data.role === 'target');
  return {
    detector: info(f).analytic.uid,
    severity: f.severity,
    title: info(f).title,
    target: `${target?.type} ${target?.uid}`,
    implicated: resourcesOf(f).filter((r) => r.data.role === 'implicated').length,
  };
};

describe('scenario fixtures', () => {
  it('are what generate.ts produces (regenerate: node test/fixtures/scenarios/generate.ts)', () => {
    for (const [name, text] of Object.entries(files())) expect(readFileSync(join(DIR, name), 'utf8') === text, name).toBe(true);
  });

  it('a realistic benign day raises nothing: churning agents in one cloud network, IaC edits, routine secret reads', async () => {
    const r = await replayScenario('benign-day.ndjson');
    expect(r.code).toBe(0);
    expect(r.summary).toMatchObject({ quarantined: 0, findings: 0 });
    expect(r.summary['events']).toBeGreaterThan(800);
    const agentIps = new Set(r.events.filter((e) => e.metadata.event_code === 'Agent Connected').map((e) => e.src_endpoint?.ip));
    expect(agentIps.size).toBeGreaterThan(200);
    expect(r.events.some((e) => e.metadata.event_code === 'PIPELINE_UPDATED')).toBe(true);
    expect(r.events.filter((e) => e.metadata.event_code === 'SECRET_READ').length).toBeGreaterThan(50);
  });

  it('the attack raises exactly the expected findings, from six detectors', async () => {
    const replayed = await replayScenario('attack.ndjson');
    expect(replayed.code).toBe(0);
    expect(replayed.summary).toMatchObject({ quarantined: 0 });
    replayed.findings.forEach(expectValidFinding);
    // One finding per incident; new evidence about an open incident is an Update of its finding.
    const r = { ...replayed, findings: replayed.findings.filter((f) => f.activity_id === 1) };
    const updates = replayed.findings.filter((f) => f.activity_id === 2);
    const created = new Map(r.findings.map((f) => [info(f).uid, f]));
    expect(updates.every((u) => created.has(info(u).uid))).toBe(true);
    // The last update of the agent-token finding names every agent the attacker connected.
    const tokenUpdates = updates.filter((u) => info(u).uid === info(r.findings[0] as OcsfEvent).uid);
    const rogue = new Set(replayed.events.filter((e) => e.metadata.event_code === 'Agent Connected' && (e.src_endpoint?.ip ?? '').startsWith('185.220.101.')).map((e) => e.user?.uid));
    expect(rogue.size).toBeGreaterThan(100);
    expect(
      new Set(
        resourcesOf(tokenUpdates.at(-1) as OcsfEvent)
          .filter((x) => x.data.role === 'implicated')
          .map((x) => x.uid),
      ),
    ).toEqual(rogue);
    // The sweep finding's last update names all 12 swept secrets.
    const sweepFinding = r.findings.find((f) => info(f).title.includes('different secrets')) as OcsfEvent;
    const sweep = updates.filter((u) => info(u).uid === info(sweepFinding).uid).at(-1) as OcsfEvent;
    expect(
      new Set(
        resourcesOf(sweep)
          .filter((x) => x.data.role === 'implicated')
          .map((x) => x.name),
      ),
    ).toEqual(new Set(SWEEP));
    expect(r.findings).toHaveLength(10);
    expect(r.findings.map(short)).toEqual([
      {
        detector: 'unusual-ip',
        severity: 'High',
        title: `Agent token "ci-linux" used from a new network and country: AS60729 Stiftung Erneuerbare Freiheit (DE), ${ATTACKER_IP}`,
        target: `AgentToken ${ciToken.uuid}`,
        implicated: 1,
      },
      {
        detector: 'unusual-ip',
        severity: 'High',
        title: `Cluster token "prod cluster" used from AS60729 Stiftung Erneuerbare Freiheit (DE), ${ATTACKER_IP}, outside its allowed IP addresses (3.80.0.0/12)`,
        target: `ClusterToken ${prodClusterToken.uuid}`,
        implicated: 0,
      },
      {
        detector: 'token-spike',
        severity: 'High',
        title: 'Agent token "ci-linux": 50 agent registrations in 10 minutes, 19x its baseline',
        target: `AgentToken ${ciToken.uuid}`,
        implicated: 50,
      },
      {
        detector: 'unusual-ip',
        severity: 'High',
        title: `Actor "Jane Doe" used from a new network and country: AS60729 Stiftung Erneuerbare Freiheit (DE), ${ATTACKER_IP}`,
        target: `Actor ${jane.uuid}`,
        implicated: 0,
      },
      {
        detector: 'break-glass-edit',
        severity: 'Medium',
        title: 'Pipeline "web" updated outside infrastructure as code by Jane Doe (PIPELINE_UPDATED)',
        target: `Pipeline ${pipelines.web.uuid}`,
        implicated: 0,
      },
      {
        detector: 'secret-access',
        severity: 'Medium',
        title: 'Pipeline "web" read secret "PROD_DB_PASSWORD", which it has never read before',
        target: `Secret ${uid('secret', 'PROD_DB_PASSWORD')}`,
        implicated: 0,
      },
      {
        detector: 'secret-access',
        severity: 'High',
        title: 'Pipeline "web" read 10 different secrets in 10 minutes',
        target: `Pipeline ${pipelines.web.uuid}`,
        implicated: 10,
      },
      {
        detector: 'privilege-grant',
        severity: 'High',
        title: 'ci-ops-backup@proton.me invited as organization admin by Jane Doe, outside infrastructure as code (ORGANIZATION_INVITATION_CREATED)',
        target: `OrganizationInvitation ${uid('invite', 'attacker')}`,
        implicated: 0,
      },
      {
        detector: 'break-glass-edit',
        severity: 'High',
        title: 'NotificationService "Amazon EventBridge" disabled outside infrastructure as code by Jane Doe (NOTIFICATION_SERVICE_DISABLED)',
        target: `NotificationService ${eventBridgeService.uuid}`,
        implicated: 0,
      },
      {
        detector: 'monitoring-disabled',
        severity: 'Critical',
        title: 'EventBridge notification service "Amazon EventBridge" disabled by Jane Doe: Kitewatch may stop receiving Buildkite events',
        target: `NotificationService ${eventBridgeService.uuid}`,
        implicated: 0,
      },
    ]);

    // Who is implicated, by name: the attacker's agents and the swept secrets, nothing else.
    const names = (f: OcsfEvent | undefined) =>
      resourcesOf(f as OcsfEvent)
        .filter((r) => r.data.role === 'implicated')
        .map((r) => r.name ?? '');
    expect(names(r.findings[0])).toEqual(['rogue-0']);
    expect(names(r.findings[2]).every((n) => n.startsWith('rogue-'))).toBe(true);
    expect(new Set(names(r.findings[6]))).toEqual(new Set(SWEEP.slice(0, 10)));
    // The token's legitimate agents are not listed: only the agents that acted are named, and the
    // legitimate agent that registered during the burst, which looks like the fleet (like_fleet:
    // containment asks a responder before stopping it).
    for (const f of r.findings) expect(resourcesOf(f).filter((x) => x.type === 'Agent' && x.data.role !== 'implicated' && x.data['like_fleet'] !== true)).toEqual([]);
    const lookAlikes = resourcesOf(r.findings[2] as OcsfEvent).filter((x) => x.data['like_fleet'] === true);
    expect(lookAlikes.map((x) => [x.name?.startsWith('ci-'), x.data.role])).toEqual([[true, 'related']]);
    // Each finding cites the event that raised it, by metadata.uid.
    const byUid = new Map(r.events.map((e) => [e.metadata.uid, e]));
    for (const f of r.findings) {
      const cited = (f['evidences'] as Array<{ uid: string }>).map((e) => e.uid);
      expect(cited.every((u) => byUid.has(u))).toBe(true);
      expect(cited.map((u) => byUid.get(u)?.time)).toContain(f.time);
    }
  });

  it('replays deterministically, and a second replay over the same state raises nothing again', async () => {
    const dir = tempDir('kitewatch-scenario-');
    const first = await replayScenario('attack.ndjson', join(dir, 'state.db'));
    const again = await replayScenario('attack.ndjson');
    expect(again.findings).toEqual(first.findings);
    const redelivered = await replayScenario('attack.ndjson', join(dir, 'state.db'));
    expect(redelivered.summary['findings']).toBe(0);
  });
});
