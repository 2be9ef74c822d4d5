import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { audit, uid } from '../../lib/detections/builders.ts';
import type { OcsfEvent } from '../../lib/ocsf/types.ts';
import { ndjson, runCli, summary, tempDir } from '../support/cli.ts';

// identity lists decide on uuids, never on the names users give themselves.
const terraform = { uuid: uid('user', 'terraform'), name: 'Terraform-Cloud' };
const mallory = { uuid: uid('user', 'mallory'), name: 'Terraform-Cloud' };
const pipeline = { type: 'Pipeline', uuid: uid('pipeline', 'deploy'), name: 'deploy' };

function setup(detectors: Record<string, unknown>): { dir: string; config: string; input: string } {
  const dir = tempDir('kitewatch-identity-');
  const config = join(dir, 'kitewatch.config.json');
  writeFileSync(config, JSON.stringify({ detectors }));
  const input = join(dir, 'in.ndjson');
  const events = [
    audit({ at: '2026-03-03T10:00:00Z', type: 'PIPELINE_UPDATED', actor: terraform, subject: pipeline, ip: '3.90.1.1' }),
    // Mallory renamed themself "Terraform-Cloud" and edits the same pipeline by hand.
    audit({ at: '2026-03-03T10:05:00Z', type: 'PIPELINE_UPDATED', actor: mallory, subject: pipeline, ip: '86.1.2.3', data: { steps: 'added curl | sh' } }),
  ];
  writeFileSync(input, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  return { dir, config, input };
}

const replayArgs = (s: { dir: string; config: string; input: string }) => [
  'replay',
  s.input,
  '--config',
  s.config,
  '--containment',
  'off',
  '--state',
  join(s.dir, 'state.db'),
  '--quarantine',
  join(s.dir, 'q.ndjson'),
  '--out',
  join(s.dir, 'out.ndjson'),
];

describe('identity lists (uuids only)', () => {
  it('a user renamed after the IaC identity is still reported; the IaC identity itself is not', async () => {
    const s = setup({ 'break-glass-edit': { iacActors: [{ uuid: terraform.uuid, note: 'Terraform-Cloud' }] } });
    const r = await runCli(replayArgs(s));
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(summary(r.stderr)).toMatchObject({ events: 2, findings: 1 });
    const findings = (ndjson(readFileSync(join(s.dir, 'out.ndjson'), 'utf8')) as OcsfEvent[]).filter((e) => e.class_uid === 2004);
    expect(findings).toHaveLength(1);
    expect(JSON.stringify(findings[0])).toContain(mallory.uuid);
  });

  it.each([
    ['break-glass-edit', 'iacActors'],
    ['break-glass-edit', 'breakGlassActors'],
    ['secret-access', 'secretWriters'],
    ['unusual-ip', 'ignoreActors'],
    ['monitoring-disabled', 'eventBridgeNotificationServices'],
  ])('a name in %s.%s is a config error (exit 2) that names the key and says why', async (detector, key) => {
    const s = setup({ [detector]: { [key]: [terraform.uuid, 'Terraform-Cloud'] } });
    const r = await runCli(replayArgs(s));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`detectors.${detector}.${key}.1: "Terraform-Cloud" is not a UUID`);
    expect(r.stderr).toMatch(/names are chosen by the users themselves/);
  });

  it('the object form is checked too, and so are break-glass window actors', async () => {
    const bad = setup({ 'secret-access': { secretWriters: [{ uuid: 'deploy-bot', note: 'x' }] } });
    const r1 = await runCli(replayArgs(bad));
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain('detectors.secret-access.secretWriters.0.uuid: "deploy-bot" is not a UUID');
    const window = setup({ 'break-glass-edit': { breakGlassWindows: [{ actors: ['on call'], start: '2026-03-03T09:00:00Z', end: '2026-03-03T11:00:00Z', reason: 'INC-1' }] } });
    const r2 = await runCli(replayArgs(window));
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain('detectors.break-glass-edit.breakGlassWindows.0.actors.0: "on call" is not a UUID');
  });
});
