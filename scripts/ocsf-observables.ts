// Extracts the observable type ids of OCSF 1.8.0 attributes from the raw schema tree into
// data/ocsf/observables.json, which the tests use to check every observable's type_id:
//   node scripts/ocsf-observables.ts <ocsf-schema-1.8.0 dir>
// OCSF's precedence: an id set on the attribute by the class or object, else by the dictionary
// attribute, else by the attribute's type (ip_t -> 2 ...). Inheritance (`extends`) is flattened.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, unknown>;
interface Def {
  extends?: string;
  name?: string;
  uid?: number;
  attributes?: Record<string, unknown>;
}

const root = process.argv[2];
if (root === undefined) {
  process.stderr.write('usage: node scripts/ocsf-observables.ts <ocsf-schema-1.8.0 dir>\n');
  process.exit(2);
}
const read = (p: string): Json => JSON.parse(readFileSync(p, 'utf8')) as Json;
const dictionary = read(join(root, 'dictionary.json')) as { attributes: Record<string, Json>; types: { attributes: Record<string, Json> } };

const types: Record<string, number> = {};
for (const [name, t] of Object.entries(dictionary.types.attributes)) if (typeof t['observable'] === 'number') types[name] = t['observable'];

const attributes: Record<string, { type: string; observable?: number }> = {};
for (const [name, a] of Object.entries(dictionary.attributes)) {
  if (typeof a['type'] !== 'string') continue;
  attributes[name] = typeof a['observable'] === 'number' ? { type: a['type'], observable: a['observable'] } : { type: a['type'] };
}

/** Attribute overrides (observable id, type) of a definition, its parents' first. */
function flatten(defs: Map<string, Def>, name: string): Record<string, { type?: string; observable?: number }> {
  const def = defs.get(name);
  if (def === undefined) return {};
  const out = def.extends !== undefined ? flatten(defs, def.extends) : {};
  for (const [attr, v] of Object.entries(def.attributes ?? {})) {
    if (typeof v !== 'object' || v === null) continue;
    const o = v as Json;
    const entry = { ...out[attr] };
    if (typeof o['observable'] === 'number') entry.observable = o['observable'];
    if (typeof o['type'] === 'string') entry.type = o['type'];
    if (entry.observable !== undefined || entry.type !== undefined) out[attr] = entry;
  }
  return out;
}

function load(dir: string, into: Map<string, Def>): void {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
    const def = read(join(entry.parentPath, entry.name)) as Def;
    into.set(def.name ?? entry.name.replace(/\.json$/, ''), def);
  }
}

const objectDefs = new Map<string, Def>();
load(join(root, 'objects'), objectDefs);
const objects: Record<string, Record<string, { type?: string; observable?: number }>> = {};
for (const name of objectDefs.keys()) {
  const flat = flatten(objectDefs, name);
  if (Object.keys(flat).length > 0) objects[name] = flat;
}

const eventDefs = new Map<string, Def>();
load(join(root, 'events'), eventDefs);
const WANTED = ['api_activity', 'account_change', 'authentication', 'entity_management', 'user_access', 'group_management', 'detection_finding', 'remediation_activity'];
const classes: Record<string, Record<string, { type?: string; observable?: number }>> = {};
for (const name of WANTED) classes[name] = flatten(eventDefs, name);

const out = { ocsf_version: '1.8.0', source: 'ocsf-schema tag 1.8.0 (dictionary.json, objects/, events/)', types, attributes, objects, classes };
writeFileSync(new URL('../data/ocsf/observables.json', import.meta.url), `${JSON.stringify(out)}\n`);
process.stderr.write(`data/ocsf/observables.json: ${Object.keys(types).length} types, ${Object.keys(attributes).length} attributes, ${Object.keys(objects).length} objects\n`);
