import type { Command } from './command.ts';
import { COMMANDS } from './commands.ts';
import type { Io } from './io.ts';
import { processIo } from './io.ts';

const HEADER = 'kitewatch: a SIEM pipeline for Buildkite (OCSF 1.8 normalization, detections, containment)';
const FOOTER = 'Run "kitewatch <command> --help" for a command\'s options.';

export function usage(commands: readonly Command[] = COMMANDS): string {
  const line = (name: string, summary: string) => `  kitewatch ${name.padEnd(29)}${summary}`;
  return [HEADER, '', 'Usage:', ...commands.map((c) => line(c.name, c.summary)), line('help', 'this text'), '', FOOTER].join('\n');
}

export async function main(argv: readonly string[], io: Io = processIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined || word === 'help' || word === '--help' || word === '-h') {
    io.out(usage(commands));
    return word === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name.split(' ')[0] === word);
  if (command !== undefined) return command.run(rest, io);
  io.err(`kitewatch: unknown command "${word}"\n\n${usage(commands)}`);
  return 2;
}
