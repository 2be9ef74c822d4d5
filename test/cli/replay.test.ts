import { mkdirSync, readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENTBRIDGE_DIR, sample, sampleSlugs } from '../support/fixtures.ts';
import { ndjson, ROOT as ROOT_DIR, runCli, summary, tempDir } from '../support/cli.ts';
import { expectValidOcsf } from '../support/ocsf-assertions.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';

function args(dir: string, ...rest: string[]): string[] {
  return [...rest, '--quarantine', join(dir, 'q.ndjson'), '--state', join(dir, 'state.db'), '--containment', 'off'];
}

describe('kitewatch replay', () => {
  it('replays the bundled samples: one valid OCSF event per accepted input, in path order, the rest quarantined', async () => {
    const dir = tempDir();
    const r = await runCli(['replay', EVENTBRIDGE_DIR, ...args(dir)]);
    expect(r.code).toBe(0);
    const events = ndjson(r.stdout) as OcsfEvent[];
    events.forEach(expectValidOcsf);
    const s = summary(r.stderr);
    // A blocked registration (a token used outside its allowed IPs) is a finding at once (the second
    // one, same token, falls in its dedup window); the audit sample is an organization edit by a
    // member who is not an IaC identity.
    expect(s).toMatchObject({ events: 18, normalized: 17, quarantined: 1, findings: 2, actions: 0 });
    expect(s['events']).toBe((s['normalized'] ?? 0) + (s['quarantined'] ?? 0));
    const findings = events.filter((e) => e.class_uid === 2004);
    expect(findings.map((f) => (f['finding_info'] as { analytic: { uid: string } }).analytic.uid)).toEqual(['unusual-ip', 'break-glass-edit']);
    // Sorted by path: agent-blocked.json comes first, then agent-connected.json ...
    const expectedOrder = sampleSlugs()
      .filter((x) => x !== 'build-blocked')
      .map((x) => sample(x)['detail-type']);
    expect(events.filter((e) => e.class_uid !== 2004).map((e) => e.metadata.product.feature?.name)).toEqual(expectedOrder);
    const q = ndjson(readFileSync(join(dir, 'q.ndjson'), 'utf8'));
    expect(q).toHaveLength(1);
    expect(q[0]?.['reason']).toMatch(/build-blocked\.json: source "\.\.\." is not a Buildkite partner event source/);
    expect(q[0]?.['input']).toEqual(sample('build-blocked'));
  });

  it('reads .json arrays, .ndjson and .jsonl; quarantines a non-JSON line with the raw text', async () => {
    const dir = tempDir();
    const inputs = join(dir, 'in');
    mkdirSync(join(inputs, 'nested'), { recursive: true });
    writeFileSync(join(inputs, 'a.json'), JSON.stringify([sample('agent-connected'), sample('agent-lost')]));
    writeFileSync(join(inputs, 'nested', 'b.ndjson'), `${JSON.stringify(sample('job-started'))}\n{"broken\n\n${JSON.stringify(sample('job-finished'))}\n`);
    writeFileSync(join(inputs, 'c.jsonl'), `${JSON.stringify(sample('build-created'))}\n`);
    writeFileSync(join(inputs, 'ignored.txt'), 'not an input');
    const r = await runCli(['replay', inputs, ...args(dir)]);
    expect(r.code).toBe(0);
    expect(summary(r.stderr)).toMatchObject({ events: 6, normalized: 5, quarantined: 1 });
    const names = (ndjson(r.stdout) as OcsfEvent[]).map((e) => e.metadata.event_code);
    expect(names).toEqual(['Agent Connected', 'Agent Lost', 'Build Created', 'Job Started', 'Job Finished']);
    const [q] = ndjson(readFileSync(join(dir, 'q.ndjson'), 'utf8'));
    expect(q).toMatchObject({ raw: '{"broken', origin: `${join(inputs, 'nested', 'b.ndjson')}:2` });
    expect(q?.['reason']).toContain('not valid JSON');
  });

  it('reads stdin (NDJSON, or a pretty-printed document) when PATH is absent or "-", and writes --out FILE', async () => {
    const dir = tempDir();
    const r1 = await runCli(['replay', ...args(dir)], { stdin: `${JSON.stringify(sample('agent-connected'))}\n` });
    expect(summary(r1.stderr)).toMatchObject({ events: 1, normalized: 1 });
    const out = join(dir, 'out.ndjson');
    const r2 = await runCli(['replay', '-', '--out', out, ...args(dir)], { stdin: readFileSync(join(EVENTBRIDGE_DIR, 'job-finished.json'), 'utf8') });
    expect(r2.code).toBe(0);
    expect(r2.stdout).toBe('');
    expect((ndjson(readFileSync(out, 'utf8'))[0] as OcsfEvent).metadata.event_code).toBe('Job Finished');
  });

  it('appends to the quarantine file rather than losing earlier records', async () => {
    const dir = tempDir();
    await runCli(['replay', ...args(dir)], { stdin: 'nope\n' });
    await runCli(['replay', ...args(dir)], { stdin: 'still nope\n' });
    expect(ndjson(readFileSync(join(dir, 'q.ndjson'), 'utf8')).map((q) => q['raw'])).toEqual(['nope', 'still nope']);
  });

  it('conserves count in = normalized + quarantined on mixed bad input', async () => {
    const dir = tempDir();
    const big = sample('build-started');
    (big['detail'] as { build: Record<string, unknown> }).build['message'] = 'x'.repeat(300_000);
    const lines = [
      JSON.stringify(sample('agent-connected')),
      '[1,2,3]',
      '"just a string"',
      JSON.stringify({ ...sample('agent-connected'), source: 'aws.ec2' }),
      JSON.stringify(big),
      'garbage',
      JSON.stringify(sample('audit-event-logged')),
    ];
    const r = await runCli(['replay', ...args(dir)], { stdin: `${lines.join('\n')}\n` });
    expect(summary(r.stderr)).toMatchObject({ events: 7, normalized: 2, quarantined: 5 });
    const reasons = ndjson(readFileSync(join(dir, 'q.ndjson'), 'utf8')).map((q) => q['reason'] as string);
    expect(reasons).toHaveLength(5);
    expect(reasons[0]).toContain('stdin:2: not an EventBridge envelope: expected a JSON object, got an array');
    expect(reasons[2]).toContain('"aws.ec2" is not a Buildkite partner event source');
    expect(reasons[3]).toContain("over EventBridge's 256 KB");
  });

  describe('usage errors exit 2 with a message naming the problem', () => {
    it('unknown flag', async () => {
      const r = await runCli(['replay', '--frobnicate']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("Unknown option '--frobnicate'");
    });
    it('missing file', async () => {
      const r = await runCli(['replay', 'does-not-exist.ndjson']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('no such file or directory: does-not-exist.ndjson');
    });
    it('a config with an unknown or wrong key names the key', async () => {
      const dir = tempDir();
      writeFileSync(join(dir, 'k.json'), JSON.stringify({ containment: { mode: 'sometimes' }, detektors: {} }));
      const r = await runCli(['replay', '--config', join(dir, 'k.json')], { stdin: '' });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('containment.mode');
      expect(r.stderr).toContain('unknown key "detektors"');
    });
    it('a directory with no input file in it', async () => {
      const empty = join(tempDir(), 'empty');
      mkdirSync(empty);
      writeFileSync(join(empty, 'notes.txt'), 'not an input');
      const r = await runCli(['replay', empty]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`no .json, .ndjson or .jsonl file in directory ${empty}`);
    });
    it('enforce without a Buildkite token refuses to start, and says what is needed', async () => {
      const dir = tempDir();
      const input = join(EVENTBRIDGE_DIR, 'agent-connected.json');
      const flags = ['--state', join(dir, 's.db'), '--quarantine', join(dir, 'q.ndjson'), '--out', join(dir, 'o.ndjson'), '--buildkite-api-url', 'http://127.0.0.1:9'];
      const r = await runCli(['replay', input, '--containment', 'enforce', ...flags], { env: { BUILDKITE_API_TOKEN: '' } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--containment enforce acts through the Buildkite API and needs BUILDKITE_API_TOKEN');
      expect(existsSync(join(dir, 'o.ndjson'))).toBe(false);
      const withToken = await runCli(['replay', input, '--containment', 'enforce', ...flags], { env: { BUILDKITE_API_TOKEN: 'bkua_planted_not_used' } });
      expect(withToken.code).toBe(0);
    });
    it('unknown command', async () => {
      const r = await runCli(['replya']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('unknown command "replya"');
    });
  });

  it('uses kitewatch.config.json from the working directory when present', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'kitewatch.config.json'), JSON.stringify({ bogus: true }));
    copyFileSync(join(EVENTBRIDGE_DIR, 'agent-connected.json'), join(dir, 'a.json'));
    const r = await runCli(['replay', 'a.json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kitewatch.config.json: unknown key "bogus"');
    expect(existsSync(join(dir, '.kitewatch', 'quarantine.ndjson'))).toBe(false);
  });

  it('is silent on stderr apart from the summary when stderr is not a terminal', async () => {
    const dir = tempDir();
    const r = await runCli(['replay', join(EVENTBRIDGE_DIR, 'agent-connected.json'), ...args(dir)]);
    expect(r.stderr.trim().split('\n')).toEqual(['events=1 normalized=1 quarantined=0 findings=0 actions=0']);
  });
});

describe('kitewatch replay on saved state', () => {
  it('says it continued from saved state, and --fresh starts from empty state', async () => {
    const dir = tempDir();
    const flags = ['--state', join(dir, 'state.db'), '--quarantine', join(dir, 'q.ndjson'), '--containment', 'off', '--out', '/dev/null'];
    const first = await runCli(['replay', EVENTBRIDGE_DIR, ...flags]);
    expect(first.stderr).not.toContain('saved state');
    const found = summary(first.stderr)['findings'];
    expect(found).toBeGreaterThan(0);
    const again = await runCli(['replay', EVENTBRIDGE_DIR, ...flags]);
    expect(summary(again.stderr)['findings']).toBe(0);
    expect(again.stderr).toMatch(new RegExp(`kitewatch: continued from the saved state in ${join(dir, 'state.db')} \\(\\d+ items: .*\\); --fresh to start from empty state`));
    const fresh = await runCli(['replay', EVENTBRIDGE_DIR, ...flags, '--fresh']);
    expect(fresh.stderr).not.toContain('saved state');
    expect(summary(fresh.stderr)['findings']).toBe(found);
  });
});

describe('kitewatch help and version', () => {
  it('replay --help documents every flag, and `help replay` prints the same', async () => {
    const r = await runCli(['replay', '--help']);
    expect(r.code).toBe(0);
    for (const flag of ['--out', '--quarantine', '--state', '--fresh', '--config', '--containment', '--buildkite-api-url', '--buildkite-graphql-url', '--sink', '--spill', '--validate']) {
      expect(r.stdout).toContain(`  ${flag} `);
    }
    const viaHelp = await runCli(['help', 'replay']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(r.stdout);
    const unknown = await runCli(['help', 'frob']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no help on "frob"');
  });

  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT_DIR, 'package.json'), 'utf8')) as { version: string };
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`kitewatch ${version}\n`);
  });

  it('a bare replay in a terminal says it is reading stdin', async () => {
    const { spawnSync } = await import('node:child_process');
    const dir = tempDir();
    const cmd = [process.execPath, join(ROOT_DIR, 'bin', 'kitewatch.js'), 'replay', ...args(dir)].map((a) => `'${a}'`).join(' ');
    // `script` gives the child a terminal; Ctrl-D on it ends the input.
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd: ROOT_DIR, input: '\x04' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('kitewatch replay: reading EventBridge envelopes from stdin; end with Ctrl-D');
    // Not when stdin is a pipe or a file.
    const piped = await runCli(['replay', ...args(dir)], { stdin: '' });
    expect(piped.stderr).not.toContain('reading EventBridge envelopes from stdin');
  });

  it('a Node that cannot run TypeScript gets an explanation, not a stack trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const r = spawnSync(process.execPath, ['--no-experimental-strip-types', join(ROOT_DIR, 'bin', 'kitewatch.js'), '--version'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('has type stripping turned off');
    expect(r.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION');
    const check = spawnSync(process.execPath, ['--no-experimental-strip-types', join(ROOT_DIR, 'bin', 'check-node.js')], { encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(spawnSync(process.execPath, [join(ROOT_DIR, 'bin', 'check-node.js')]).status).toBe(0);
  });
});

describe('kitewatch replay progress', () => {
  it('shows a progress line on a terminal for long inputs, and clears it before the summary', async () => {
    const { spawnSync } = await import('node:child_process');
    const { generateNdjson } = await import('../../bench/generate.ts');
    const dir = tempDir();
    const input = join(dir, 'big.ndjson');
    await generateNdjson(input, 15_000);
    // `script` gives the child a pseudo-terminal, as a person at a shell would.
    const cmd = [process.execPath, join(ROOT_DIR, 'bin', 'kitewatch.js'), 'replay', input, '--out', '/dev/null', ...args(dir)].map((a) => `'${a}'`).join(' ');
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', cwd: ROOT_DIR });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\r\x1b\[2Kkitewatch: \d+ events \(0 quarantined, \d+ findings\)/);
    expect(r.stdout).toContain('events=15000 normalized=15000 quarantined=0');
  });
});

describe('kitewatch replay of a re-sent window', () => {
  const SCENARIOS = join(ROOT_DIR, 'test/fixtures/scenarios');
  const findingsOf = (stdout: string) =>
    (ndjson(stdout) as OcsfEvent[])
      .filter((e) => e.class_uid === 2004)
      .map((f) => {
        const fi = f['finding_info'] as { uid: string; analytic: { uid: string }; related_events_count?: number };
        return `${fi.analytic.uid} ${fi.uid} activity=${f.activity_id} related=${fi.related_events_count ?? 0}`;
      });

  it('counts each event once: the same file again, or twice in one run, gives what one run gave', async () => {
    const dir = tempDir();
    const attack = join(SCENARIOS, 'attack.ndjson');
    const flags = (state: string) => ['--state', join(dir, state), '--quarantine', join(dir, 'q.ndjson'), '--containment', 'off', '--config', join(SCENARIOS, 'kitewatch.config.json')];
    const once = await runCli(['replay', attack, ...flags('a.db')]);
    expect(once.code).toBe(0);
    const single = findingsOf(once.stdout);
    expect(single.filter((f) => f.includes('activity=1'))).toHaveLength(10);

    const again = await runCli(['replay', attack, ...flags('a.db')]);
    expect(findingsOf(again.stdout)).toEqual([]);
    const s = summary(again.stderr);
    expect(s['findings']).toBe(0);
    expect(s['resent']).toBeGreaterThan(500);
    expect(again.stderr).toContain(`event(s) were already counted by the detectors in ${join(dir, 'a.db')} and were not counted again (re-sent); --fresh to start from empty state`);

    // A window re-sent inside one run (an overlapping backfill): the same findings, the same counts.
    const twice = join(dir, 'twice.ndjson');
    writeFileSync(twice, readFileSync(attack, 'utf8') + readFileSync(attack, 'utf8'));
    const doubled = await runCli(['replay', twice, ...flags('b.db')]);
    expect(findingsOf(doubled.stdout)).toEqual(single);
    expect(summary(doubled.stderr)['resent']).toBe(s['resent']);

    // --fresh forgets what was counted: the attack is found again.
    const fresh = await runCli(['replay', attack, ...flags('a.db'), '--fresh']);
    expect(findingsOf(fresh.stdout)).toEqual(single);
    expect(summary(fresh.stderr)['resent']).toBeUndefined();
  });
});
