import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ndjson, runCli, summary, tempDir } from '../support/cli.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';

describe('kitewatch demo', () => {
  it('runs a day with an attack through the whole pipeline and reports every detector, in dry-run', async () => {
    const dir = join(tempDir(), 'demo');
    const r = await runCli(['demo', '--dir', dir]);
    expect(r.code).toBe(0);
    const s = summary(r.stderr);
    expect(s['events']).toBe(s['normalized']);
    expect(s['quarantined']).toBe(0);
    for (const id of ['unusual-ip', 'token-spike', 'secret-access', 'break-glass-edit', 'monitoring-disabled']) {
      expect(r.stdout).toContain(id);
    }
    expect(r.stdout).toContain('What enforce mode would do');
    expect(r.stdout).toMatch(/revoke-agent-token\s+AgentToken ci-linux/);
    // Updates share their finding's uid: listed as updates and counted apart, never as new incidents.
    const listed = r.stdout.slice(r.stdout.indexOf('Findings (UTC):'), r.stdout.indexOf('What enforce mode'));
    const updateLines = listed.split('\n').filter((l) => / update: /.test(l));
    const findingEvents = ndjson(readFileSync(join(dir, 'events.ndjson'), 'utf8')).filter((e) => (e as OcsfEvent).class_uid === 2004) as OcsfEvent[];
    const updates = findingEvents.filter((e) => e.activity_id === 2).length;
    expect(updates).toBeGreaterThan(0);
    expect(updateLines).toHaveLength(updates);
    expect(r.stdout).toContain(`${findingEvents.length - updates} findings (${updates} updated with new evidence)`);
    // What enforce mode would do is told at the event time of the finding that asked for it, in order.
    const enforce = r.stdout.slice(r.stdout.indexOf('What enforce mode'), r.stdout.indexOf('Wrote '));
    const times = [...enforce.matchAll(/^ {2}(\d\d:\d\d) /gm)].map((m) => m[1] ?? '');
    expect(times.length).toBeGreaterThan(3);
    expect(times).toEqual([...times].sort());
    expect(new Set(times).size).toBeGreaterThan(3);

    const events = ndjson(readFileSync(join(dir, 'events.ndjson'), 'utf8')) as OcsfEvent[];
    expect(events).toHaveLength((s['normalized'] ?? 0) + (s['findings'] ?? 0) + (s['actions'] ?? 0));
    events.forEach(expectValidOcsf);
    const actions = events.filter((e) => e.class_uid === 7001);
    expect(actions.length).toBe(s['actions']);
    // Dry-run: every remediation activity says so, and nothing was called.
    for (const a of actions) expect(a.status_detail).toMatch(/dry-run|skipped|pending|not mapped|no target/);
    expect(readFileSync(join(dir, 'quarantine.ndjson'), 'utf8')).toBe('');

    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).toContain('monitoring-disabled');
    // Self-contained: no scripts, no external resources.
    expect(html).not.toMatch(/<script|src=|href=/i);
    // The run holds days of history before the demo day: the title says so rather than "one day".
    expect(r.stdout.split('\n')[0]).toMatch(/^Kitewatch demo: the Buildkite organization "[^"]+" on \d{4}-\d{2}-\d{2}, after \d+ days of history$/);
    expect(html).not.toContain('one day');
    // Finding marker lines are drawn before the bars, so no marker hides the spike it explains.
    const svg = html.slice(html.indexOf('<svg'));
    expect(svg.indexOf('stroke-dasharray')).toBeGreaterThan(0);
    expect(svg.lastIndexOf('stroke-dasharray')).toBeLessThan(svg.indexOf('<rect'));
  });

  it('tells the same story on every run', async () => {
    const a = await runCli(['demo', '--dir', join(tempDir(), 'a')]);
    const b = await runCli(['demo', '--dir', join(tempDir(), 'b')]);
    expect(a.stdout.replace(/Wrote .*\n/, '')).toBe(b.stdout.replace(/Wrote .*\n/, ''));
  });

  describe('--dir never deletes what the demo did not write', () => {
    it('refuses a folder that holds a user file, and leaves it as it was', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'notes.txt'), 'mine');
      const r = await runCli(['demo', '--dir', dir]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/already holds files the demo did not write \(notes\.txt\)/);
      expect(readdirSync(dir)).toEqual(['notes.txt']);
      expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    });

    it('refuses a file path, and leaves the file', async () => {
      const file = join(tempDir(), 'report.txt');
      writeFileSync(file, 'mine');
      const r = await runCli(['demo', '--dir', file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is a file, not a folder/);
      expect(readFileSync(file, 'utf8')).toBe('mine');
    });

    it('refuses "." when the working folder holds anything else', async () => {
      const cwd = tempDir();
      writeFileSync(join(cwd, 'package.json'), '{}');
      mkdirSync(join(cwd, 'src'));
      const r = await runCli(['demo', '--dir', '.'], { cwd });
      expect(r.code).toBe(2);
      expect(readdirSync(cwd).sort()).toEqual(['package.json', 'src']);
    });

    it("refuses files with the demo's names in a folder it did not mark as its own", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'report.html'), '<p>mine</p>');
      const r = await runCli(['demo', '--dir', dir]);
      expect(r.code).toBe(2);
      expect(readFileSync(join(dir, 'report.html'), 'utf8')).toBe('<p>mine</p>');
    });

    it('writes into an empty folder, and replaces its own output on the next run', async () => {
      const dir = tempDir();
      expect((await runCli(['demo', '--dir', dir])).code).toBe(0);
      const again = await runCli(['demo', '--dir', dir]);
      expect(again.code).toBe(0);
      expect(existsSync(join(dir, 'report.html'))).toBe(true);
      // A user file added later makes the folder no longer the demo's alone.
      writeFileSync(join(dir, 'keep.txt'), 'mine');
      expect((await runCli(['demo', '--dir', dir])).code).toBe(2);
      expect(readFileSync(join(dir, 'keep.txt'), 'utf8')).toBe('mine');
      expect(existsSync(join(dir, 'report.html'))).toBe(true);
    });
  });
});
