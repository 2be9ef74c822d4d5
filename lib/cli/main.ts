import { readFileSync } from 'node:fs';
import type { Command } from './command.ts';
import { COMMANDS } from './commands.ts';
import type { Io } from './io.ts';
import { processIo } from './io.ts';

const HEADER = 'kitewatch: a SIEM pipeline for Buildkite (OCSF 1.8 normalization, detections, containment)';
const FOOTER = 'Run "kitewatch <command> --help" for a command\'s options.';

/** The version of this checkout, from package.json (the one source of it). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export function usage(commands: readonly Command[] = COMMANDS): string {
  const line = (name: string, summary: string) => `  kitewatch ${name.padEnd(29)}${summary}`;
  return [HEADER, '', 'Usage:', ...commands.map((c) => line(c.name, c.summary)), line('help [COMMAND]', "this text, or a command's options"), line('--version', 'the version'), '', FOOTER].join('\n');
}

export async function main(argv: readonly string[], io: Io = processIo, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [word, ...rest] = argv;
  if (word === '--version' || word === 'version') {
    io.out(`kitewatch ${version()}`);
    return 0;
  }
  if (word === 'help' && rest[0] !== undefined) {
    const topic = commands.find((c) => c.name.split(' ')[0] === rest[0]);
    if (topic !== undefined) return topic.run(['--help'], io);
    io.err(`kitewatch: no help on "${rest[0]}", which is not a command\n\n${usage(commands)}`);
    return 2;
  }
  if (word === undefined || word === 'help' || word === '--help' || word === '-h') {
    io.out(usage(commands));
    return word === undefined ? 2 : 0;
  }
  const command = commands.find((c) => c.name.split(' ')[0] === word);
  if (command !== undefined) return command.run(rest, io);
  io.err(`kitewatch: unknown command "${word}"\n\n${usage(commands)}`);
  return 2;
}
