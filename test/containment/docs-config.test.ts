import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { globalRegistry, type core } from 'zod';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { ACTION_IDS, ACTIONS } from '../../lib/containment/actions.ts';
import { ContainmentConfig } from '../../lib/containment/config.ts';
import { runbooksMarkdown } from '../../lib/containment/docs.ts';

const DOC = new URL('../../docs/runbooks.md', import.meta.url);

describe('docs/runbooks.md', () => {
  it('is what lib/containment/docs.ts generates (run `node lib/containment/docs.ts` after changing an action or input)', () => {
    expect(readFileSync(DOC, 'utf8')).toBe(runbooksMarkdown());
  });

  it('documents, for every action, when to use it, what it changes and how to undo it', () => {
    const md = runbooksMarkdown();
    for (const id of [...ACTION_IDS, 'approve-action']) {
      const section = md.split(`## \`${id}\``)[1]?.split('\n## ')[0] ?? '';
      expect(section, id).toContain('**When to use it.**');
      expect(section, id).toContain('**What it changes.**');
      expect(section, id).toContain('**How to undo it.**');
      expect(section, id).toContain('| field | type | required | meaning |');
    }
    for (const a of Object.values(ACTIONS)) expect(a.undo.length).toBeGreaterThan(20);
  });
});

describe('containment config', () => {
  it('defaults to dry-run with the documented default policy', () => {
    const c = parseConfig({}).containment;
    expect(c.mode).toBe('dry-run');
    expect(c.policy.map((r) => [r.detector, r.actions])).toEqual([
      ['unusual-ip', ['revoke-agent-token', 'stop-agent']],
      ['token-spike', ['revoke-agent-token', 'stop-agent']],
      ['secret-access', ['rotate-secret']],
      ['break-glass-edit', []],
      ['monitoring-disabled', []],
      ['privilege-grant', ['revoke-grant']],
      ['third-party-access', []],
      ['interactive-session', ['cancel-job']],
      ['account-takeover', ['remove-member']],
    ]);
    expect(c.approval).toEqual({ required: ['revoke-role-sessions', 'pause-queue', 'archive-pipeline', 'revoke-grant', 'remove-member', 'cancel-job'], deadlineMinutes: 60 });
    expect(c.blastRadius['revoke-agent-token']).toBe(5);
    expect(c.secretTagLookup).toBe(true);
  });

  it('keeps defaults for keys a partial block leaves out', () => {
    const c = parseConfig({ containment: { mode: 'enforce', blastRadius: { 'stop-agent': 3 }, approval: { deadlineMinutes: 15 } } }).containment;
    expect(c.blastRadius).toMatchObject({ 'stop-agent': 3, 'revoke-agent-token': 5 });
    expect(c.approval.required).toContain('archive-pipeline');
    expect(c.approval.deadlineMinutes).toBe(15);
  });

  it.each([
    [{ mode: 'on' }, /containment\.mode: Invalid option/],
    [{ bogus: 1 }, /unknown key "containment\.bogus"/],
    [{ policy: [{ detector: 'unusual-ip', actions: ['nuke'] }] }, /containment\.policy\.0\.actions\.0: Invalid option/],
    [{ policy: [{ detector: 'unusual-ip', actions: ['cancel-build'] }] }, /containment\.policy\.0\.actions\.0: "cancel-build" is a runbook-only action/],
    [{ policy: [{ detector: 'x', minSeverity: 'severe' }] }, /containment\.policy\.0\.minSeverity/],
    [{ protected: [{ type: 'Agent' }] }, /containment\.protected\.0: a protected entity needs a uid, a name/],
    [{ blastRadius: { 'stop-agent': -1 } }, /containment\.blastRadius\.stop-agent/],
    [{ blastRadius: { 'stop-agents': 1 } }, /unknown key "containment\.blastRadius\.stop-agents"/],
    [{ approval: { deadlineMinutes: 1 } }, /containment\.approval\.deadlineMinutes/],
    [{ secretMappings: [{ buildkite: {}, secretsManager: ['x'] }] }, /containment\.secretMappings\.0\.buildkite: needs a uid or a name/],
    [{ oidcRoles: [{ role: 'r', pipeline: ['x'] }] }, /unknown key "containment\.oidcRoles\.0\.pipeline"/],
  ])('rejects %j naming the key', (containment, message) => {
    expect(() => parseConfig({ containment })).toThrow(ConfigError);
    expect(() => parseConfig({ containment })).toThrow(message);
  });

  it('describes every key (docs/configuration.md is generated from the descriptions)', () => {
    const undocumented: string[] = [];
    // Read from the registry, where `.describe()` (classic) and `.check(z.describe())` (mini) both put it.
    const visit = (schema: core.$ZodType, path: string): void => {
      const def = (schema as unknown as { _zod: { def: { type: string; innerType?: core.$ZodType; element?: core.$ZodType; shape?: Record<string, core.$ZodType>; in?: core.$ZodType } } })._zod.def;
      if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'pipe') {
        return visit((def.innerType ?? def.in) as core.$ZodType, path);
      }
      if (def.type === 'array' && def.element !== undefined) return visit(def.element, `${path}[]`);
      if (def.type === 'object' && def.shape !== undefined) {
        for (const [key, child] of Object.entries(def.shape)) {
          if (globalRegistry.get(child)?.description === undefined) undocumented.push(`${path}.${key}`);
          visit(child, `${path}.${key}`);
        }
      }
    };
    visit(ContainmentConfig, 'containment');
    expect(undocumented).toEqual([]);
  });
});
