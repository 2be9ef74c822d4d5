/**
 * Wires the stages into the CLI: embedded state, detections, containment, remote sinks and the
 * extra commands. One place, so bin/kitewatch.ts stays a one-liner.
 */
import { registerCommand, registerReplayPlugins } from './main.ts';
import { SqliteState } from '../state/sqlite.ts';
import { createDetectStage } from '../detections/stage.ts';
import { detectionsCommand } from '../detections/cli.ts';
import { createContainStage } from '../containment/stage.ts';
import { runbookCommand } from '../containment/cli.ts';
import { createReplaySink, resendCommand } from '../forward/cli.ts';
import { demoCommand } from '../demo/command.ts';

registerReplayPlugins({
  createState: async (path) => new SqliteState({ path }),
  createDetect: (config, state) => createDetectStage(config, state),
  createContain: (opts, state) => createContainStage(opts, state),
  createSink: (spec, opts) => createReplaySink(spec, opts),
});
registerCommand(detectionsCommand);
registerCommand(resendCommand);
registerCommand(demoCommand);
registerCommand(runbookCommand);
