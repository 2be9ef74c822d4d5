import { runReplay, type ReplayPlugins } from './replay.ts';
import type { Io } from './io.ts';
import { processIo } from './io.ts';

export const USAGE = `kitewatch: a SIEM pipeline for Buildkite (OCSF 1.8 normalization, detections, containment)

Usage:
  kitewatch replay [PATH...] [options]   run the pipeline locally on EventBridge envelopes
  kitewatch help                         this text

Run "kitewatch <command> --help" for a command's options.`;

export interface Command {
  readonly name: string;
  readonly summary: string;
  run(argv: readonly string[], io: Io): Promise<number>;
}

/** Commands that later modules add (demo, detections, runbook, resend). */
const extraCommands: Command[] = [];

export function registerCommand(command: Command): void {
  extraCommands.push(command);
}

let replayPlugins: ReplayPlugins = {};
export function registerReplayPlugins(plugins: ReplayPlugins): void {
  replayPlugins = { ...replayPlugins, ...plugins };
}

function usage(): string {
  if (extraCommands.length === 0) return USAGE;
  const lines = extraCommands.map((c) => `  kitewatch ${c.name.padEnd(29)}${c.summary}`);
  return USAGE.replace('  kitewatch help ', `${lines.join('\n')}\n  kitewatch help `);
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    io.out(usage());
    return command === undefined ? 2 : 0;
  }
  if (command === 'replay') return runReplay(rest, io, replayPlugins);
  const extra = extraCommands.find((c) => c.name.split(' ')[0] === command);
  if (extra !== undefined) return extra.run(rest, io);
  io.err(`kitewatch: unknown command "${command}"\n\n${usage()}`);
  return 2;
}
