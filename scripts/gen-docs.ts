// Regenerates the reference docs from code, so they cannot drift (GENERATED_DOCS lists them:
// docs/detectors.md, docs/configuration.md, docs/ocsf-mapping.md, docs/runbooks.md):
//   npx node scripts/gen-docs.ts          rewrite them in place
//   npx node scripts/gen-docs.ts --check  exit 1 naming each stale file (test/docs runs the same check)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as z from 'zod';
import { KitewatchConfig } from '../lib/config/schema.ts';
import { AUDIT_EVENT_TYPES } from '../lib/contracts/audit-event-types.ts';
import { AUDIT_SEVERITY, auditClassFor, auditSeverity } from '../lib/ocsf/map/audit-classes.ts';
import { SEVERITY } from '../lib/ocsf/types.ts';
import { ocsfExamples } from './ocsf-examples.ts';
import { ACTIVITIES, CLASSES, type ClassUid } from '../lib/ocsf/types.ts';
import { detectorCatalogMarkdown } from '../lib/detections/index.ts';
import { runbooksMarkdown } from '../lib/containment/docs.ts';

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
  const audit = [...groups.entries()].sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })).map(([k, types]) => `| Audit Event Logged: ${types.map((t) => `\`${t}\``).join(', ')} | ${k} |`);
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

/** What each class carries, for the analyst: where to look for who, what, from where. */
const CARRIES: Record<ClassUid, string> = {
  6003: "Build and job events, secret reads and every audit type without a closer class. `api.operation` is the Buildkite event or audit type; the entities in `resources[]` (organization, pipeline, build, job; an audit subject with its `data`). A build or job report always succeeded (`status_id` 1): the build or job state, failed or not, is `status_detail`. A job's agent is `src_endpoint.uid`; whoever unblocked it is `actor.user`. A secret read by a job has its pipeline as `actor.app_uid` / `actor.app_name`.",
  3002: 'Agents connecting and disconnecting, blocked registrations, impersonation. The agent is `user` (type Service), its agent or cluster token `user.credential_uid`, the address `src_endpoint.ip`. USER_IMPERSONATED: the impersonated person is `user`, the impersonator `actor.user`, `account_switch_type_id` 2 Impersonate.',
  3001: "Account changes. `user` is the account owner (for a TOTP factor, the person who owns it), the factor is in `auth_factors` (OTP); the factor record's uuid, which has no OCSF home, is in `unmapped.buildkite.subject`.",
  3004: 'Credentials, identity providers, applications and monitoring integrations: `entity` with its uid, name, Buildkite type and the audit `data`. NOTIFICATION_SERVICE_DISABLED is activity 9 Disable.',
  3005: 'Organization role changes: `user` is the member, `privileges` the role granted (Assign) or taken away (a demotion is Revoke).',
  3006: 'Teams: `group` is the team, a member is `user`, an access level is `privileges`, the pipeline, suite, registry or secret a team gains or loses is `resource`; membership and grant record ids are in `unmapped.buildkite.subject`.',
  2004: "Kitewatch findings. `finding_info.uid` is the finding, and `metadata.correlation_uid` equals it, as does every Remediation Activity's, so the two join. `status_id` 1 New. In `resources[]`, `role_id` 2 Actor is whoever acted (a person, an agent that connected with the token), 1 Target what the finding is about, 3 Affected, 4 Related; the contract role for containment is `data.role`. `unmapped.kitewatch` holds the dedup key and the detector's figures.",
  7001: 'What containment did or would do. `command_uid` is the action, `metadata.correlation_uid` the finding it answers, `metadata.labels` the mode and origin, the target in `unmapped.kitewatch.target` (7001 has no resources).',
};

/** The audit severity table, as the code applies it. */
export function auditSeverityTable(): string {
  const rows = AUDIT_SEVERITY.map((r) => {
    const types = AUDIT_EVENT_TYPES.filter((t) => auditSeverity(t) === r.severity);
    return `| ${r.severity} ${SEVERITY[r.severity]} | ${r.why} | ${types.map((t) => `\`${t}\``).join(', ')} |`;
  });
  return [
    '| severity | why | audit types |',
    '|---|---|---|',
    '| 4 High | a grant of organization admin (ORGANIZATION_MEMBER_UPDATED or ORGANIZATION_INVITATION_CREATED whose role becomes admin) | |',
    ...rows,
    '| 1 Informational | everything else (routine changes, reads) | |',
  ].join('\n');
}

export async function ocsfMappingDoc(): Promise<string> {
  const examples = await ocsfExamples();
  const parts = [
    '# OCSF mapping reference',
    '',
    '<!-- Generated by scripts/gen-docs.ts from the mappers, the severity table and the examples in scripts/ocsf-examples.ts: edit those, then run `npx node scripts/gen-docs.ts`. -->',
    '',
    "Every Buildkite event becomes exactly one OCSF 1.8.0 event; Kitewatch adds Detection Findings and Remediation Activities. Common to all: `metadata.product` = Buildkite Pipelines (vendor Buildkite), `metadata.version` = `1.8.0`, `metadata.original_event_uid` = the EventBridge event id (the audit event's `uuid` for audit events), `metadata.tenant_uid` = the organization uuid, and `metadata.uid` is deterministic: a SHA-256 of the event's identity (for audit events the audit uuid alone, so an EventBridge delivery and a REST backfill of the same audit event share it), so redeliveries and replays de-duplicate downstream. Buildkite events declare the `cloud` profile: `cloud.account.uid` and `cloud.region` are where EventBridge received them. `unmapped.buildkite` keeps only facts with no OCSF home; nothing is stored twice (the tests list the pairs that must not repeat). Every observable names an attribute of its event, with the type OCSF 1.8.0 gives that attribute (`Other` where the schema gives none).",
    '',
    '## Classes',
    '',
    ocsfMappingTable(),
    '',
    '## Audit severity',
    '',
    'Audit events take their severity from one table by security impact (`lib/ocsf/map/audit-classes.ts`); the first row that matches wins. Build, job and agent events are Informational; a blocked agent registration is Medium.',
    '',
    auditSeverityTable(),
    '',
    '## One event per class',
    '',
    "Made by the production code from the Buildkite payloads in `test/fixtures` (the audit ones from the docs' Audit Event Logged example with its type and subject set).",
  ];
  for (const ex of examples) {
    parts.push('', `### ${ex.classUid} ${CLASSES[ex.classUid].name}`, '', CARRIES[ex.classUid], '', `From ${ex.from}:`, '', '```json', JSON.stringify(ex.event, null, 2), '```');
  }
  return `${parts.join('\n')}\n`;
}

/** Lifts a section's headings one level, so a catalog written for a README `##` section heads its own file. */
function lift(markdown: string): string {
  return markdown.replace(/^#(#{2,6}) /gm, '$1 ');
}

const GENERATED_NOTE = (from: string) => `<!-- Generated by scripts/gen-docs.ts from ${from}: edit those, then run \`npx node scripts/gen-docs.ts\`. -->`;

export function detectorsDoc(): string {
  return [
    '# Detector catalog',
    '',
    GENERATED_NOTE("the detectors' metadata in lib/detections/"),
    '',
    'Detections are code: one file per detector in `lib/detections/`, a pure function over normalized events and an injected state port, with its metadata and its own positive and negative cases beside it (`*.cases.ts`). `npx kitewatch detections test` runs every case and prints a pass/fail table; `npx kitewatch detections list` prints the catalog. Detectors use event time only, so a replay raises the same findings as the live run. Findings are OCSF 2004 Detection Findings: `finding_info.uid` is deterministic, `finding_info.analytic.uid` is the detector id (a contract), the triggering events are in `evidences[]` by their `metadata.uid`, and the affected entities are in `resources[]` with their Buildkite uuid and a role that containment reads (`lib/findings/contract.ts`). What containment does with a finding: [runbooks.md](runbooks.md); every threshold: [configuration.md](configuration.md).',
    '',
    lift(detectorCatalogMarkdown()).trim(),
    '',
  ].join('\n');
}

export function configurationDoc(): string {
  return [
    '# Configuration reference',
    '',
    GENERATED_NOTE('the zod schema in lib/config/schema.ts and its descriptions'),
    '',
    'One file, `kitewatch.config.json`, read by the CLI (`--config FILE`, default `kitewatch.config.json` when present) and by `cdk synth`/`cdk deploy`, validated by one zod schema (`lib/config/schema.ts`): a wrong or unknown key is an error naming the key. `examples/kitewatch.config.json` is a starting point; [deploy.md](deploy.md) walks through the keys a deploy needs.',
    '',
    configReference(),
    '',
  ].join('\n');
}

/** Every generated file, relative to the repository root, with how to render it. */
export const GENERATED_DOCS: ReadonlyArray<{ path: string; render: () => string | Promise<string> }> = [
  { path: 'docs/detectors.md', render: detectorsDoc },
  { path: 'docs/configuration.md', render: configurationDoc },
  { path: 'docs/ocsf-mapping.md', render: ocsfMappingDoc },
  { path: 'docs/runbooks.md', render: runbooksMarkdown },
];

/** The generated files whose content (as `read` returns it) differs from what the code renders now. */
export async function staleDocs(read: (path: string) => string | undefined): Promise<string[]> {
  const stale: string[] = [];
  for (const doc of GENERATED_DOCS) {
    if (read(doc.path) !== (await doc.render())) stale.push(doc.path);
  }
  return stale;
}

const ROOT = new URL('../', import.meta.url);

function readDoc(path: string): string | undefined {
  const url = new URL(path, ROOT);
  return existsSync(url) ? readFileSync(url, 'utf8') : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--check')) {
    const stale = await staleDocs(readDoc);
    for (const path of stale) process.stderr.write(`${path} is stale: run \`npx node scripts/gen-docs.ts\`\n`);
    if (stale.length > 0) process.exit(1);
  } else {
    for (const doc of GENERATED_DOCS) {
      writeFileSync(new URL(doc.path, ROOT), await doc.render());
      process.stderr.write(`${doc.path} regenerated\n`);
    }
  }
}
