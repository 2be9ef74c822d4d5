/**
 * `kitewatch detections test|list|catalog|ack`: run the detectors' own test cases, list the
 * catalog, acknowledge an unusual-ip finding's network.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AckError, ackOfFinding, acknowledge, validAck, type NetworkAck } from '../detections/ack.ts';
import { KIND_OF_TYPE } from '../detections/unusual-ip.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { SqliteState } from '../state/sqlite.ts';
import { runAllCases, type CaseResult } from '../detections/cases.ts';
import { DETECTORS, detectorCatalogMarkdown } from '../detections/index.ts';
import { SEVERITY } from '../ocsf/types.ts';
import type { Command, Io } from './command.ts';

export const DETECTIONS_USAGE = `Usage: kitewatch detections <subcommand> [options]

Subcommands:
  test [--detector ID]...   run every detector's positive and negative test cases; prints a
                            pass/fail table; exit 1 when any case fails
  list                      the detector catalog: id, severity, ATT&CK technique, title
  catalog                   the detector catalog as Markdown (as in docs/detectors.md)
  ack FINDING.json [--state PATH]
                            acknowledge an unusual-ip finding: its network (ASN, country, cloud
                            region) becomes known to the entity it targets, so it is not raised
                            again; FINDING.json is the finding (one OCSF event, or - for stdin)
  ack --entity-type TYPE --entity UUID --network NET... [--state PATH]
                            the same by hand: TYPE AgentToken, ApiToken or Actor; NET AS16509,
                            SG or aws:ap-southeast-1 (repeat --network)
                            --state defaults to .kitewatch/state.db (what replay uses)

Options:
  -h, --help                show this help`;

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function table(rows: readonly string[][]): string[] {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function formatResults(results: readonly CaseResult[]): string[] {
  const rows = [['DETECTOR', 'CASE', 'KIND', 'FINDINGS', 'RESULT']];
  for (const r of results) rows.push([r.detector, r.name, r.kind, String(r.findings.length), r.passed ? 'pass' : 'FAIL']);
  const lines = table(rows);
  const failed = results.filter((r) => !r.passed);
  for (const f of failed) {
    lines.push('', `FAIL ${f.detector}: ${f.name}`);
    for (const p of f.problems) lines.push(`  - ${p}`);
  }
  lines.push('', `${results.length - failed.length} passed, ${failed.length} failed, ${results.length} cases`);
  return lines;
}

async function test(argv: readonly string[], io: Io): Promise<number> {
  let ids: string[];
  try {
    const { values } = parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: { detector: { type: 'string', multiple: true } } });
    ids = values.detector ?? [];
  } catch (error) {
    io.err(`kitewatch detections test: ${(error as Error).message}`);
    return 2;
  }
  const unknown = ids.filter((id) => !DETECTORS.some((d) => d.meta.id === id));
  if (unknown.length > 0) {
    io.err(`kitewatch detections test: unknown detector ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${DETECTORS.map((d) => d.meta.id).join(', ')})`);
    return 2;
  }
  const results = await runAllCases(ids);
  for (const line of formatResults(results)) io.out(line);
  return results.every((r) => r.passed) ? 0 : 1;
}

function list(io: Io): number {
  const rows = [['ID', 'SEVERITY', 'ATT&CK', 'TITLE']];
  for (const { meta } of DETECTORS) {
    rows.push([meta.id, SEVERITY[meta.severity], meta.attacks.map((a) => (a.sub_technique ?? a.technique).uid).join(','), meta.title]);
  }
  for (const line of table(rows)) io.out(line);
  return 0;
}

async function ack(argv: readonly string[], io: Io): Promise<number> {
  let request: NetworkAck;
  let statePath: string;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        state: { type: 'string', default: '.kitewatch/state.db' },
        'entity-type': { type: 'string' },
        entity: { type: 'string' },
        network: { type: 'string', multiple: true },
      },
    });
    statePath = values.state;
    if (positionals.length > 1) throw new AckError('give one finding file');
    if (positionals.length === 1) {
      if (values.entity !== undefined || values.network !== undefined) throw new AckError('give a finding file or --entity/--network, not both');
      const path = positionals[0] as string;
      const text = path === '-' ? readFileSync(0, 'utf8') : readFileSync(path, 'utf8');
      request = ackOfFinding(JSON.parse(text) as OcsfEvent);
    } else {
      const kind = KIND_OF_TYPE[(values['entity-type'] ?? '') as keyof typeof KIND_OF_TYPE];
      if (kind === undefined) throw new AckError('--entity-type must be AgentToken, ApiToken or Actor');
      request = validAck({ kind, entity: values.entity ?? '', networks: values.network ?? [], at: Math.floor(Date.now() / 1000) });
    }
  } catch (error) {
    io.err(`kitewatch detections ack: ${error instanceof SyntaxError ? `the finding is not JSON: ${error.message}` : (error as Error).message}`);
    return 2;
  }
  const state = new SqliteState({ path: statePath });
  try {
    await acknowledge(state, request);
  } finally {
    await state.close();
  }
  io.out(`acknowledged ${request.networks.join(', ')} for ${request.kind} ${request.entity} in ${statePath}: not raised again for it`);
  return 0;
}

export const detectionsCommand: Command = {
  name: 'detections',
  summary: "test | list | catalog | ack: run the detectors' test cases, show the catalog, acknowledge a network",
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
      io.out(DETECTIONS_USAGE);
      return sub === undefined ? 2 : 0;
    }
    if (rest.includes('-h') || rest.includes('--help')) {
      io.out(DETECTIONS_USAGE);
      return 0;
    }
    switch (sub) {
      case 'test':
        return test(rest, io);
      case 'list':
        return list(io);
      case 'catalog':
        io.out(detectorCatalogMarkdown().trimEnd());
        return 0;
      case 'ack':
        return ack(rest, io);
      default:
        io.err(`kitewatch detections: unknown subcommand "${sub}"\n\n${DETECTIONS_USAGE}`);
        return 2;
    }
  },
};
