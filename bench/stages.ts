import type { KitewatchConfig } from '../lib/config/schema.ts';
import type { ContainStage, DetectStage } from '../lib/engine/stages.ts';
import { SqliteState } from '../lib/state/sqlite.ts';
import { createDetectStage } from '../lib/detections/stage.ts';
import { createContainStage } from '../lib/containment/stage.ts';
import { DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../lib/buildkite/client.ts';
import { defaultIpEnricher } from '../lib/enrich/ip.ts';

/** The stages the bench measures, over a fresh in-memory SQLite store (as `kitewatch replay` uses SQLite). */
export async function benchStages(config: KitewatchConfig, which: 'detect' | 'full'): Promise<{ stages: { detect?: DetectStage; contain?: ContainStage }; close: () => Promise<void> }> {
  // The IPv4 tables load once per process (about 0.25 s, reported apart as ipLoadMs): throughput
  // is the steady state, so whichever configuration runs first must not carry that alone.
  defaultIpEnricher().preload();
  const state = new SqliteState({ path: ':memory:' });
  const detect = createDetectStage(config, state);
  const stages: { detect?: DetectStage; contain?: ContainStage } = { detect };
  if (which === 'full') {
    stages.contain = createContainStage({ config, containment: 'dry-run', buildkiteApiUrl: DEFAULT_API_URL, buildkiteGraphqlUrl: DEFAULT_GRAPHQL_URL }, state, { log: () => {} });
  }
  return { stages, close: () => state.close() };
}
