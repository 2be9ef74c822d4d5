import type { KitewatchConfig } from '../lib/config/schema.ts';
import type { ContainStage, DetectStage } from '../lib/engine/stages.ts';
import { SqliteState } from '../lib/state/sqlite.ts';
import { createDetectStage } from '../lib/detections/stage.ts';
import { createContainStage } from '../lib/containment/stage.ts';
import { defaultReplayOptions } from '../lib/cli/replay.ts';

/** The stages the bench measures, over a fresh in-memory SQLite store (as `kitewatch replay` uses SQLite). */
export async function benchStages(
  config: KitewatchConfig,
  which: 'detect' | 'full',
): Promise<{ stages: { detect?: DetectStage; contain?: ContainStage }; close: () => Promise<void> }> {
  const state = new SqliteState({ path: ':memory:' });
  const detect = createDetectStage(config, state);
  const stages: { detect?: DetectStage; contain?: ContainStage } = { detect };
  if (which === 'full') {
    stages.contain = createContainStage(
      defaultReplayOptions(config, { quarantine: '/dev/null', state: ':memory:', containment: 'dry-run' }),
      state,
      { log: () => {} },
    );
  }
  return { stages, close: () => state.close() };
}
