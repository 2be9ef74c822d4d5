/**
 * The table of `kitewatch` commands, in the order the help lists them, and the wiring of the
 * replay stages: embedded state, detections, containment and remote sinks.
 */
import { createContainStage } from '../containment/stage.ts';
import { createDetectStage } from '../detections/stage.ts';
import { createSink } from '../forward/sinks.ts';
import { SqliteState } from '../state/sqlite.ts';
import { createBackfillCommand } from './backfill.ts';
import type { Command } from './command.ts';
import { demoCommand } from './demo.ts';
import { detectionsCommand } from './detections.ts';
import { createReplayCommand, type ReplayPlugins } from './replay.ts';
import { resendCommand } from './resend.ts';
import { runbookCommand } from './runbook.ts';

export const replayPlugins: ReplayPlugins = {
  createState: async (path, options) => new SqliteState({ path, ...options }),
  createDetect: (config, state) => createDetectStage(config, state),
  createContain: (opts, state) => createContainStage(opts, state),
  createSink: (spec, opts) => createSink(spec, { spill: opts.spill, env: process.env, forwarding: opts.config.forwarding }),
};

export const COMMANDS: readonly Command[] = [createReplayCommand(replayPlugins), createBackfillCommand(replayPlugins), detectionsCommand, resendCommand, demoCommand, runbookCommand];
