// Regenerates the README sections that come from code, so they cannot drift:
//   node scripts/gen-docs.ts          rewrite README.md in place
//   node scripts/gen-docs.ts --check  exit 1 if README.md is stale (the test suite runs this)
import { readFileSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { KitewatchConfig } from '../lib/config/schema.ts';
import { AUDIT_EVENT_TYPES } from '../lib/contracts/audit-event-types.ts';
import { auditClassFor } from '../lib/ocsf/map/audit-classes.ts';
import { ACTIVITIES, CLASSES, type ClassUid } from '../lib/ocsf/types.ts';
import { generatedSections } from './gen-docs-sections.ts';

type Json = { [k: string]: unknown };

function typeOf(s: Json): string {
  if (Array.isArray(s['enum'])) return (s['enum'] as unknown[]).map((v) => `\`${JSON.stringify(v)}\``).join(' | ');
  if (s['const'] !== undefined) return `\`${JSON.stringify(s['const'])}\``;
  if (Array.isArray(s['anyOf'])) return (s['anyOf'] as Json[]).map(typeOf).join(' | ');
  if (Array.isArray(s['oneOf'])) return (s['oneOf'] as Json[]).map(typeOf).join(' | ');
  const t = s['type'];
  if (t === 'array') {
    const item = typeOf((s['items'] as Json | undefined) ?? {});
    return item.includes(' | ') ? `(${item})[]` : `${item}[]`;
  }
  if (typeof t === 'string') return t;
  return 'any';
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

/** One table row per leaf (and per object, for its description), depth first. */
function rows(schema: Json, path: string, out: string[]): void {
  const props = schema['properties'] as Record<string, Json> | undefined;
  const desc = typeof schema['description'] === 'string' ? schema['description'] : '';
  const def = schema['default'];
  const isObject = schema['type'] === 'object';
  if (path !== '' && path !== '$schema') {
    const defText = def === undefined || (isObject && props !== undefined) ? '' : `\`${JSON.stringify(def)}\``;
    out.push(`| \`${path}\` | ${isObject ? 'object' : cell(typeOf(schema))} | ${cell(defText)} | ${cell(desc)} |`);
  }
  if (props !== undefined) {
    for (const [k, v] of Object.entries(props)) rows(v, path === '' ? k : `${path}.${k}`, out);
  }
  const extra = schema['additionalProperties'];
  if (typeof extra === 'object' && extra !== null && Object.keys(extra).length > 0 && props === undefined) {
    rows(extra as Json, `${path}.<key>`, out);
  }
  const items = schema['items'] as Json | undefined;
  if (schema['type'] === 'array' && items?.['properties'] !== undefined) rows(items, `${path}[]`, out);
}

export function configReference(): string {
  const schema = z.toJSONSchema(KitewatchConfig, { io: 'input', unrepresentable: 'any' }) as Json;
  const out = ['| key | type | default | description |', '|---|---|---|---|'];
  rows(schema, '', out);
  return out.join('\n');
}

export function ocsfMappingTable(): string {
  const groups = new Map<string, string[]>();
  for (const t of AUDIT_EVENT_TYPES) {
    const m = auditClassFor(t);
    const cls = CLASSES[m.class as ClassUid];
    const activity = 'activityName' in m && m.activityName !== undefined ? m.activityName : ACTIVITIES[m.class as ClassUid][m.activity];
    const key = `${m.class} ${cls.name}: ${m.activity} ${activity}`;
    groups.set(key, [...(groups.get(key) ?? []), t]);
  }
  const audit = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }))
    .map(([k, types]) => `| Audit Event Logged: ${types.map((t) => `\`${t}\``).join(', ')} | ${k} |`);
  return [
    '| Buildkite event | OCSF 1.8.0 class: activity |',
    '|---|---|',
    '| Build Created | 6003 API Activity: 1 Create (the build in `resources[]`) |',
    '| Build Started / Blocked / Failing / Finished | 6003 API Activity: 3 Update (`status_id` 1: the report succeeded; the build state, failed or not, in `status_detail`) |',
    '| Job Scheduled | 6003 API Activity: 1 Create (pipeline, build, job in `resources[]`, the agent as `src_endpoint.uid`) |',
    '| Job Started / Finished / Activated / Promised Exit Status | 6003 API Activity: 3 Update (`actor.user` = who unblocked; the job state in `status_detail`) |',
    '| Agent Connected | 3002 Authentication: 1 Logon (agent = `user` of type Service, agent token = `user.credential_uid`) |',
    '| Agent Disconnected / Lost / Stopped / Stopping | 3002 Authentication: 2 Logoff |',
    '| Agent Blocked, Cluster Token Registration Blocked | 3002 Authentication: 1 Logon, `status_id` 2 Failure, severity Medium (cluster token = `user.credential_uid`, blocked IP = `src_endpoint.ip`) |',
    '| a detail-type not known yet | 6003 API Activity: 99 Other, the whole detail in `unmapped.buildkite.detail` |',
    ...audit,
    '| an audit type not known yet | 6003 API Activity, activity from the verb suffix, `unmapped.buildkite.unknown_audit_type: true` |',
    '| Kitewatch findings | 2004 Detection Finding |',
    '| Kitewatch containment actions | 7001 Remediation Activity |',
  ].join('\n');
}

function replaceSection(doc: string, name: string, body: string): string {
  const begin = `<!-- BEGIN GENERATED: ${name} (node scripts/gen-docs.ts) -->`;
  const end = `<!-- END GENERATED: ${name} -->`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md has no generated section "${name}"`);
  return `${doc.slice(0, i + begin.length)}\n${body.trim()}\n${doc.slice(j)}`;
}

export function renderReadme(current: string): string {
  let doc = current;
  doc = replaceSection(doc, 'config', configReference());
  doc = replaceSection(doc, 'ocsf-mapping', ocsfMappingTable());
  for (const [name, body] of Object.entries(generatedSections())) doc = replaceSection(doc, name, body);
  return doc;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../README.md', import.meta.url);
  const current = readFileSync(path, 'utf8');
  const next = renderReadme(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('README.md is stale: run `node scripts/gen-docs.ts`\n');
      process.exit(1);
    }
  } else {
    writeFileSync(path, next);
    process.stderr.write('README.md regenerated\n');
  }
}
