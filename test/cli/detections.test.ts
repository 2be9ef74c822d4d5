import { describe, expect, it } from 'vitest';
import type { Io } from '../../lib/cli/io.ts';
import { detectionsCommand, formatResults } from '../../lib/cli/detections.ts';
import { main } from '../../lib/cli/main.ts';
import { DETECTORS, detectorCatalogMarkdown } from '../../lib/detections/index.ts';

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => void stdout.push(l), err: (l) => void stderr.push(l) };
}

describe('kitewatch detections', () => {
  it('test: runs every case and prints a pass/fail table (through the CLI entry point)', async () => {
    const io = capture();
    expect(await main(['detections', 'test'], io)).toBe(0);
    const text = io.stdout.join('\n');
    expect(text).toMatch(/^DETECTOR\s+CASE\s+KIND\s+FINDINGS\s+RESULT/);
    for (const d of DETECTORS) expect(text).toContain(d.meta.id);
    expect(text).toMatch(/\n(\d+) passed, 0 failed, \1 cases$/);
    expect(text).not.toContain('FAIL');
  });

  it('test --detector runs one detector; an unknown id is a usage error', async () => {
    const io = capture();
    expect(await detectionsCommand.run(['test', '--detector', 'monitoring-disabled'], io)).toBe(0);
    expect(io.stdout.slice(1, -2).every((l) => l.startsWith('monitoring-disabled'))).toBe(true);
    const bad = capture();
    expect(await detectionsCommand.run(['test', '--detector', 'nope'], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toContain('unknown detector "nope"');
  });

  it('a failing case fails the table with its problems listed (exit 1 is derived from it)', () => {
    const lines = formatResults([
      { detector: 'unusual-ip', name: 'x', kind: 'positive', passed: false, problems: ['expected 1 finding(s), got 0'], findings: [], ms: 1 },
      { detector: 'token-spike', name: 'y', kind: 'negative', passed: true, problems: [], findings: [], ms: 1 },
    ]);
    expect(lines.join('\n')).toContain('FAIL unusual-ip: x\n  - expected 1 finding(s), got 0');
    expect(lines.at(-1)).toBe('1 passed, 1 failed, 2 cases');
  });

  it('list and catalog describe every detector', async () => {
    const io = capture();
    expect(await detectionsCommand.run(['list'], io)).toBe(0);
    expect(io.stdout).toHaveLength(DETECTORS.length + 1);
    expect(io.stdout.join('\n')).toContain('T1562.008');
    const md = detectorCatalogMarkdown();
    expect(md.startsWith('| id | title | severity | MITRE ATT&CK | default thresholds | recommended containment |')).toBe(true);
    expect(md).toContain('**When an incident closes.**');
    for (const d of DETECTORS) {
      expect(md).toContain(`| \`${d.meta.id}\` |`);
      expect(md).toContain(`### \`${d.meta.id}\``);
      for (const step of [...d.meta.runbook.check, ...d.meta.runbook.act]) expect(md).toContain(step);
    }
    const cat = capture();
    expect(await detectionsCommand.run(['catalog'], cat)).toBe(0);
    expect(`${cat.stdout.join('\n')}\n`).toBe(md);
  });

  it('prints usage for no or unknown subcommands', async () => {
    const io = capture();
    expect(await detectionsCommand.run([], io)).toBe(2);
    expect(io.stdout.join('\n')).toContain('Usage: kitewatch detections');
    const bad = capture();
    expect(await detectionsCommand.run(['frob'], bad)).toBe(2);
    expect(bad.stderr.join('\n')).toContain('unknown subcommand "frob"');
  });
});
