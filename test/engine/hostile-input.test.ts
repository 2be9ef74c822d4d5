/**
 * Hostile input costs only itself: each case mixes one poisonous input with real payloads and
 * checks that the rest flows, that count in = normalized + quarantined, and that the quarantine
 * record says why.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { audit } from '../../lib/detections/builders.ts';
import { splitLines } from '../../lib/engine/lines.ts';
import { quarantineRecord, QUARANTINE_KEPT_BYTES, QUARANTINE_MAX_REASON_CHARS } from '../../lib/engine/quarantine.ts';
import { normalizeEnvelope } from '../../lib/ocsf/normalize.ts';
import { readSpill } from '../../lib/forward/spill.ts';
import { ndjson, runCli, summary, tempDir } from '../support/cli.ts';
import { sample } from '../support/fixtures.ts';

const line = (v: unknown): string => JSON.stringify(v);

/** An audit event whose `data` nests `depth` levels: about 2 bytes a level, as in the report. */
function deepAudit(depth: number): string {
  const base = sample('audit-event-logged') as { detail: { event: { data: unknown } } };
  base.detail.event.data = '__DEEP__';
  return line(base).replace('"__DEEP__"', `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
}

function replayIn(dir: string, args: string[], stdin?: string): ReturnType<typeof runCli> {
  return runCli(['replay', ...args, '--quarantine', join(dir, 'q.ndjson'), '--state', join(dir, 'state.db'), '--containment', 'off'], {
    cwd: dir,
    ...(stdin !== undefined ? { stdin } : {}),
  });
}

const quarantined = (dir: string): Array<Record<string, unknown>> => ndjson(readFileSync(join(dir, 'q.ndjson'), 'utf8'));

const disabled = (actorName: string) =>
  audit({
    at: '2026-03-03T11:00:00Z',
    type: 'NOTIFICATION_SERVICE_DISABLED',
    actor: { uuid: '0d6f4c2e-8c1b-4a7e-9f00-0000000000aa', name: actorName },
    subject: { type: 'NotificationService', uuid: '0d6f4c2e-8c1b-4a7e-9f00-0000000000bb', name: 'Amazon EventBridge' },
  });

describe('hostile lines in a mixed file', () => {
  it('a line nested 5,000 levels deep is quarantined with a reason; every other line flows, before and after it', async () => {
    const dir = tempDir();
    const good = line(sample('agent-connected'));
    const lines = [...Array<string>(1000).fill(good), deepAudit(5000), ...Array<string>(1002).fill(good)];
    writeFileSync(join(dir, 'in.ndjson'), `${lines.join('\n')}\n`);
    const r = await replayIn(dir, ['in.ndjson', '--out', 'out.ndjson']);
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r.stderr)).toMatchObject({ events: 2003, normalized: 2002, quarantined: 1 });
    const counts = summary(r.stderr);
    expect(ndjson(readFileSync(join(dir, 'out.ndjson'), 'utf8'))).toHaveLength(2002 + (counts['findings'] ?? 0));
    const [record] = quarantined(dir);
    expect(record?.['reason']).toBe('in.ndjson:1001: JSON nested deeper than 64 levels');
    // Kept as the text it was (serializing the parsed value is what overflowed the stack).
    expect(record?.['raw']).toBe(lines[1000]);
    expect(record).not.toHaveProperty('input');
  });

  it('U+2028, U+2029 and a lone CR inside strings do not split a line; CRLF line ends are accepted', async () => {
    const dir = tempDir();
    const sneaky = disabled('Mallory\u2028Evil\u2029Twin\rX');
    const text = `${line(sample('agent-connected'))}\r\n${line(sneaky)}\r\n${line(sample('job-started'))}\n`;
    expect(JSON.stringify(sneaky)).toContain('\u2028');
    writeFileSync(join(dir, 'in.ndjson'), text);
    const r = await replayIn(dir, ['in.ndjson', '--out', 'out.ndjson']);
    expect(summary(r.stderr)).toMatchObject({ events: 3, normalized: 3, quarantined: 0 });
    const out = ndjson(readFileSync(join(dir, 'out.ndjson'), 'utf8'));
    const titles = out.filter((e) => e['class_uid'] === 2004).map((e) => (e['finding_info'] as { title: string }).title);
    expect(titles).toContainEqual(expect.stringMatching(/^EventBridge notification service "Amazon EventBridge" disabled by Mallory\u2028Evil\u2029Twin\rX/));
  });

  it('--validate quarantines an input that normalizes to an invalid event instead of aborting the run', async () => {
    const dir = tempDir();
    const confused = sample('cluster-token-registration-blocked') as { detail: Record<string, unknown> };
    confused.detail['agent'] = { uuid: { $gt: '' }, name: { $gt: '' } };
    writeFileSync(join(dir, 'in.ndjson'), [line(sample('agent-connected')), line(confused), line(sample('agent-lost'))].join('\n'));
    const r = await replayIn(dir, ['in.ndjson', '--validate', '--out', 'out.ndjson']);
    expect(r.code, r.stderr).toBe(0);
    expect(summary(r.stderr)).toMatchObject({ events: 3, normalized: 2, quarantined: 1 });
    const [record] = quarantined(dir);
    expect(record?.['reason']).toMatch(/detail\.agent\.uuid: .*expected string/);
    expect(record?.['input']).toEqual(confused);
  });

  it('a line over --max-line-bytes is quarantined with its size, sha256 and first bytes; the lines around it flow', async () => {
    const dir = tempDir();
    const big = `{"padding":"${'x'.repeat(200_000)}"}`;
    writeFileSync(join(dir, 'in.ndjson'), [line(sample('agent-connected')), big, line(sample('agent-lost'))].join('\n'));
    const r = await replayIn(dir, ['in.ndjson', '--max-line-bytes', '65536', '--out', 'out.ndjson']);
    expect(summary(r.stderr)).toMatchObject({ events: 3, normalized: 2, quarantined: 1 });
    const [record] = quarantined(dir);
    expect(record?.['reason']).toBe('in.ndjson:2: line is 200014 bytes, over the 65536-byte line limit (--max-line-bytes)');
    expect(record?.['truncated']).toEqual({ bytes: 200_014, sha256: createHash('sha256').update(big).digest('hex'), kept_bytes: 4096 });
    expect(record?.['raw']).toBe(big.slice(0, 4096));
  });

  it('--max-line-bytes must be a positive whole number', async () => {
    const r = await runCli(['replay', '--max-line-bytes', '1e3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-line-bytes must be a positive whole number');
  });

  it('quarantine records are bounded: a long non-JSON line keeps its first bytes; `{}` lines stay small', async () => {
    const dir = tempDir();
    const junk = 'not json '.repeat(40_000);
    writeFileSync(join(dir, 'in.ndjson'), `${junk}\n${'{}\n'.repeat(2000)}`);
    const r = await replayIn(dir, ['in.ndjson', '--out', 'out.ndjson']);
    expect(summary(r.stderr)).toMatchObject({ events: 2001, quarantined: 2001 });
    const records = quarantined(dir);
    expect((records[0]?.['raw'] as string).length).toBe(QUARANTINE_KEPT_BYTES);
    expect(records[0]?.['truncated']).toMatchObject({ bytes: Buffer.byteLength(junk) });
    expect(records[0]?.['reason'] as string).not.toContain('not json not json');
    for (const rec of records) expect(JSON.stringify(rec).length).toBeLessThan(QUARANTINE_MAX_REASON_CHARS + 5000);
    // At most one record per input, each bounded: the quarantine grows linearly, never explodes.
    expect(statSync(join(dir, 'q.ndjson')).size).toBeLessThan(2001 * 600 + 10_000);
  });

  it('a .json file or stdin starting with a UTF-8 BOM is read, not quarantined', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'one.json'), `\uFEFF${JSON.stringify(sample('agent-connected'), null, 2)}`);
    writeFileSync(join(dir, 'many.ndjson'), `\uFEFF${line(sample('agent-lost'))}\n`);
    const r = await replayIn(dir, ['one.json', 'many.ndjson', '--out', 'out.ndjson']);
    expect(summary(r.stderr)).toMatchObject({ events: 2, normalized: 2, quarantined: 0 });
    const s = await replayIn(dir, ['-', '--out', 'out2.ndjson'], `\uFEFF${JSON.stringify(sample('agent-lost'), null, 2)}`);
    expect(summary(s.stderr)).toMatchObject({ events: 1, normalized: 1, quarantined: 0 });
  });

  it('audit types named like Object.prototype members are normalized as unknown types, not crashes', () => {
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf']) {
      const env = sample('audit-event-logged') as { detail: { event: { type: string } } };
      env.detail.event.type = type;
      const r = normalizeEnvelope(env);
      expect(r.ok, type).toBe(true);
      if (r.ok) expect(r.event.class_uid).toBe(6003);
    }
  });

  it('a deep .json array element is quarantined without serializing it; its neighbours flow', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'arr.json'), `[${line(sample('agent-connected'))},${deepAudit(10_000)},${line(sample('agent-lost'))}]`);
    const r = await replayIn(dir, ['arr.json', '--out', 'out.ndjson']);
    expect(summary(r.stderr)).toMatchObject({ events: 3, normalized: 2, quarantined: 1 });
    expect(quarantined(dir)[0]?.['reason']).toBe('arr.json[1]: JSON nested deeper than 64 levels');
  });
});

describe('NDJSON splitting', () => {
  const split = async (chunks: Array<string | Buffer>, max?: number) => {
    const out = [];
    for await (const l of splitLines(Readable.from(chunks), max)) out.push(l);
    return out;
  };

  it('splits on \\n only, strips one trailing \\r, keeps multi-byte characters cut across chunks', async () => {
    const euro = Buffer.from('€', 'utf8');
    const lines = await split([Buffer.from('a\u2028b\r\r\n'), euro.subarray(0, 1), Buffer.concat([euro.subarray(1), Buffer.from('\nlast')])]);
    expect(lines.map((l) => (l.kind === 'line' ? l.text : l.kind))).toEqual(['a\u2028b\r', '€', 'last']);
  });

  it('never holds more than the cap of an over-long line, and numbers lines as an editor does', async () => {
    const lines = await split(['ok\n', 'y'.repeat(10_000), 'y'.repeat(10_000), '\n\nend\n'], 1000);
    expect(lines.map((l) => [l.n, l.kind])).toEqual([
      [1, 'line'],
      [2, 'overlong'],
      [3, 'line'],
      [4, 'line'],
    ]);
    const over = lines[1];
    if (over?.kind !== 'overlong') throw new Error('expected an overlong line');
    expect(over.bytes).toBe(20_000);
    expect(over.prefix).toBe('y'.repeat(4096));
    expect(over.sha256).toBe(createHash('sha256').update('y'.repeat(20_000)).digest('hex'));
  });

  it('resend reads a spill file holding an event with U+2028 in a string as one event', async () => {
    const dir = tempDir();
    const r = normalizeEnvelope(disabled('Mallory\u2028Evil'));
    if (!r.ok) throw new Error(r.reason);
    writeFileSync(join(dir, 'spill.ndjson'), `${line(r.event)}\r\n${line(r.event)}\n`);
    const read = [];
    for await (const l of readSpill(join(dir, 'spill.ndjson'))) read.push(l);
    expect(read.map((l) => l.result.ok)).toEqual([true, true]);
  });
});

describe('quarantine records', () => {
  it('cut a long reason and say so', () => {
    const rec = quarantineRecord('x'.repeat(5000), { raw: 'y' });
    expect(rec.reason.length).toBeLessThan(QUARANTINE_MAX_REASON_CHARS + 100);
    expect(rec.reason).toContain('reason cut at 1000 characters');
  });

  it('keep a too-deep input as its raw text, or say what it was when there is none', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(quarantineRecord('deep', { input: deep, raw: 'the text' })).toEqual({ reason: 'deep', raw: 'the text' });
    expect(quarantineRecord('deep', { input: deep, bytes: 20_001 })).toEqual({ reason: 'deep', truncated: { bytes: 20_001, kept_bytes: 0 } });
    expect(() => JSON.stringify(quarantineRecord('deep', { input: deep }))).not.toThrow();
  });
});
