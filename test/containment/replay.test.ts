import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { replay, type ReplayOptions, type ReplayPlugins } from '../../lib/cli/replay.ts';
import type { Io } from '../../lib/cli/io.ts';
import { parseConfig } from '../../lib/config/load.ts';
import type { KitewatchConfigInput } from '../../lib/config/schema.ts';
import { createContainStage } from '../../lib/containment/stage.ts';
import type { DetectStage } from '../../lib/engine/stages.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { SqliteState } from '../../lib/state/sqlite.ts';
import { ndjson, summary, tempDir } from '../support/cli.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { EVENTBRIDGE_DIR } from '../support/fixtures.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import { finding } from './helpers.ts';

/**
 * The full `kitewatch replay` path in process: replay() with the embedded state, a stand-in
 * detector (the real ones are written elsewhere) that raises an unusual-ip finding for each agent
 * connection, and createContainStage against the fake Buildkite.
 */
const AGENT_CONNECTED = join(EVENTBRIDGE_DIR, 'agent-connected.json');
const TOKEN = 'df75860c-94f9-4275-91cb-3986590f45b5';
const AGENT = '288139c5-728d-4c22-88e3-5a926b6c4a51';

let bk: FakeBuildkite;
let dir: string;
let logs: string[];

/** Stand-in detector: every agent logon is an unusual-ip finding about its token. */
function detector(): DetectStage {
  return {
    async detect(event: OcsfEvent): Promise<readonly OcsfEvent[]> {
      const token = event.user?.credential_uid;
      if (event.class_uid !== 3002 || event.activity_id !== 1 || token === undefined) return [];
      return [
        finding({
          detector: 'unusual-ip',
          uid: `unusual-ip:${token}:${event.metadata.uid}`,
          org: 'my-org',
          time: event.time,
          resources: [
            { uid: token, name: 'Default agent token', type: 'AgentToken', role: 'target' },
            { uid: event.user?.uid ?? '', name: event.user?.name ?? '', type: 'Agent', role: 'implicated' },
          ],
        }),
      ];
    },
    flush: async () => {},
  };
}

function options(mode: ReplayOptions['containment'], config: KitewatchConfigInput = {}, out = join(dir, 'out.ndjson')): ReplayOptions {
  return {
    paths: [AGENT_CONNECTED],
    out,
    quarantine: join(dir, 'q.ndjson'),
    state: join(dir, 'state.db'),
    config: parseConfig(config),
    containment: mode,
    buildkiteApiUrl: bk.url,
    buildkiteGraphqlUrl: bk.graphqlUrl,
    validate: true,
    sinks: [],
  };
}

async function run(opts: ReplayOptions, env: NodeJS.ProcessEnv): Promise<{ code: number; stderr: string; events: OcsfEvent[] }> {
  const err: string[] = [];
  const io: Io = { out: () => {}, err: (l) => void err.push(l) };
  const plugins: ReplayPlugins = {
    createState: async (path) => new SqliteState({ path }),
    createDetect: () => detector(),
    createContain: (o, state) => createContainStage(o, state, { env, log: (l) => void logs.push(l) }),
  };
  const code = await replay(opts, io, plugins);
  const events = ndjson(readFileSync(opts.out as string, 'utf8')) as OcsfEvent[];
  return { code, stderr: err.join('\n'), events };
}

function remediations(events: readonly OcsfEvent[]): OcsfEvent[] {
  return events.filter((e) => e.class_uid === 7001);
}

beforeEach(async () => {
  bk = await FakeBuildkite.start({ org: 'my-org' });
  const cluster = bk.addCluster('Default');
  bk.addClusterToken(cluster, { id: TOKEN, description: 'Default agent token' });
  bk.addAgent({ id: AGENT, name: 'my-agent-1' });
  dir = tempDir('kitewatch-containment-');
  logs = [];
});
afterEach(async () => {
  expect(logs.join('\n')).not.toContain(bk.token);
  await bk.close();
});

describe('kitewatch replay --containment', () => {
  it('dry-run (the default) emits dry-run Remediation Activities and calls nothing; actions=N counts them', async () => {
    const r = await run(options('dry-run'), { BUILDKITE_API_TOKEN: bk.token });
    expect(r.code).toBe(0);
    const acts = remediations(r.events);
    expect(acts.map((e) => [e.command_uid, e.status_detail])).toEqual([
      ['revoke-agent-token', 'dry-run'],
      ['stop-agent', 'dry-run'],
    ]);
    acts.forEach(expectValidOcsf);
    expect(summary(r.stderr)).toMatchObject({ events: 1, normalized: 1, findings: 1, actions: 2 });
    expect(bk.calls).toEqual([]);
  });

  it('enforce acts against --buildkite-api-url with BUILDKITE_API_TOKEN; the same --state does not repeat it', async () => {
    const first = await run(options('enforce'), { BUILDKITE_API_TOKEN: bk.token });
    expect(first.code).toBe(0);
    const acts = remediations(first.events);
    expect(acts.map((e) => [e.command_uid, e.status, e.status_detail])).toEqual([
      ['revoke-agent-token', 'Success', 'done'],
      ['stop-agent', 'Success', 'done'],
    ]);
    const finding = first.events.find((e) => e.class_uid === 2004);
    for (const e of acts) {
      expectValidOcsf(e);
      expect(e.metadata.correlation_uid).toBe((finding?.['finding_info'] as { uid: string }).uid);
    }
    expect(summary(first.stderr)).toMatchObject({ findings: 1, actions: 2 });
    const cluster = [...bk.clusters.keys()][0];
    expect(bk.callLines()).toEqual([
      'GET /v2/organizations/my-org/clusters',
      `GET /v2/organizations/my-org/clusters/${cluster}/tokens`,
      `DELETE /v2/organizations/my-org/clusters/${cluster}/tokens/${TOKEN}`,
      `PUT /v2/organizations/my-org/agents/${AGENT}/stop`,
    ]);

    bk.clearCalls();
    const second = await run(options('enforce', {}, join(dir, 'out2.ndjson')), { BUILDKITE_API_TOKEN: bk.token });
    expect(bk.calls).toEqual([]);
    expect(remediations(second.events)).toEqual(acts);
    expect(summary(second.stderr)).toMatchObject({ actions: 2 });
  });

  it('enforce without BUILDKITE_API_TOKEN: Failure activities naming the missing token, exit 0, no crash', async () => {
    const r = await run(options('enforce'), {});
    expect(r.code).toBe(0);
    const acts = remediations(r.events);
    expect(acts.map((e) => [e.status, e.status_detail])).toEqual([
      ['Failure', 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set'],
      ['Failure', 'failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set'],
    ]);
    acts.forEach(expectValidOcsf);
    expect(bk.calls).toEqual([]);
  });

  it('protected entities and config come from kitewatch.config.json', async () => {
    const config: KitewatchConfigInput = { containment: { mode: 'enforce', protected: [{ type: 'AgentToken', uid: TOKEN, reason: 'fleet token' }] } };
    const r = await run(options('enforce', config), { BUILDKITE_API_TOKEN: bk.token });
    expect(remediations(r.events).map((e) => e.status_detail)).toEqual(['skipped: protected', 'done']);
    expect(bk.callLines()).toEqual([`PUT /v2/organizations/my-org/agents/${AGENT}/stop`]);
  });

  it('off: no containment stage, no activities', async () => {
    const r = await run(options('off'), { BUILDKITE_API_TOKEN: bk.token });
    expect(remediations(r.events)).toEqual([]);
    expect(summary(r.stderr)).toMatchObject({ findings: 1, actions: 0 });
    expect(bk.calls).toEqual([]);
  });
});
