import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_STRUCT_DEPTH, GLUE_MAX_TYPE_LENGTH, glueColumns, GlueSchemaError, parseHiveType, stringifyFreeForm, type GlueColumn } from '../../lib/forward/glue-schema.ts';

const ROOT = join(import.meta.dirname, '../..');
const SCHEMAS = join(ROOT, 'data/ocsf/schemas');
const SAMPLES = join(ROOT, 'test/fixtures/ocsf/samples');

interface ClassEntry {
  readonly class_name: string;
  readonly class_uid: number;
  readonly file: string;
}
const index = JSON.parse(readFileSync(join(SCHEMAS, 'index.json'), 'utf8')) as { classes: ClassEntry[] };
const schemaOf = (file: string): { properties: Record<string, unknown>; required: string[] } =>
  JSON.parse(readFileSync(join(SCHEMAS, file), 'utf8')) as { properties: Record<string, unknown>; required: string[] };
const schemaNamed = (className: string): unknown => schemaOf(`${className}.schema.json`);
const columnsOf = (className: string): GlueColumn[] => glueColumns(schemaNamed(className));
const typeOf = (columns: readonly GlueColumn[], name: string): string => {
  const c = columns.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no column ${name}`);
  return c.type;
};

type HiveType = ReturnType<typeof parseHiveType>;
/** Follows struct fields and array elements down a dotted path (`[]` steps into an array). */
function at(type: HiveType, path: string): HiveType {
  let t = type;
  for (const step of path.split('.')) {
    if (step === '[]') {
      if (t.kind !== 'array') throw new Error(`${path}: ${step} is not an array`);
      t = t.element;
    } else {
      if (t.kind !== 'struct') throw new Error(`${path}: ${step} is not inside a struct`);
      const next = t.fields.get(step);
      if (next === undefined) throw new Error(`${path}: no field ${step}`);
      t = next;
    }
  }
  return t;
}

/** Where a value would not convert to its Hive type, or a key the conversion would drop. */
function mismatches(value: unknown, type: HiveType, path: string): string[] {
  if (value === null || value === undefined) return [];
  switch (type.kind) {
    case 'primitive': {
      const ok =
        type.name === 'string'
          ? typeof value === 'string'
          : type.name === 'boolean'
            ? typeof value === 'boolean'
            : type.name === 'double'
              ? typeof value === 'number'
              : type.name === 'int'
                ? Number.isInteger(value) && Math.abs(value as number) < 2 ** 31
                : type.name === 'bigint'
                  ? Number.isSafeInteger(value)
                  : false;
      return ok ? [] : [`${path}: ${JSON.stringify(value).slice(0, 60)} is not ${type.name}`];
    }
    case 'array':
      return Array.isArray(value) ? value.flatMap((v, i) => mismatches(v, type.element, `${path}[${i}]`)) : [`${path}: not an array`];
    case 'struct': {
      if (typeof value !== 'object' || Array.isArray(value)) return [`${path}: not an object`];
      return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
        const field = type.fields.get(k);
        return field === undefined ? [`${path}.${k}: no such field (the conversion would drop it)`] : mismatches(v, field, `${path}.${k}`);
      });
    }
  }
}

describe('glueColumns', () => {
  it('is deterministic: the same schema gives the same columns, in the schema order', () => {
    const a = columnsOf('api_activity');
    const b = glueColumns(structuredClone(schemaNamed('api_activity')));
    expect(b).toEqual(a);
    expect(a.map((c) => c.name)).toEqual(Object.keys(schemaOf('api_activity.schema.json').properties));
  });

  it.each(index.classes.map((c) => [c.class_name, c] as const))('%s: a column for every attribute, every required one among them', (_name, c) => {
    const schema = schemaOf(c.file);
    const names = glueColumns(schema).map((col) => col.name);
    expect(names).toEqual(Object.keys(schema.properties));
    expect(schema.required.length).toBeGreaterThan(0);
    for (const required of schema.required) expect(names).toContain(required);
  });

  it('types the known fields as Security Lake does', () => {
    const cols = columnsOf('api_activity');
    expect(typeOf(cols, 'time')).toBe('bigint');
    expect(typeOf(cols, 'end_time')).toBe('bigint');
    expect(typeOf(cols, 'class_uid')).toBe('int');
    expect(typeOf(cols, 'activity_id')).toBe('int');
    expect(typeOf(cols, 'type_uid')).toBe('int');
    expect(typeOf(cols, 'message')).toBe('string');
    expect(typeOf(cols, 'unmapped')).toBe('string');
    const metadata = parseHiveType(typeOf(cols, 'metadata'));
    expect(at(metadata, 'uid')).toEqual({ kind: 'primitive', name: 'string' });
    expect(at(metadata, 'logged_time')).toEqual({ kind: 'primitive', name: 'bigint' });
    expect(at(metadata, 'is_truncated')).toEqual({ kind: 'primitive', name: 'boolean' });
    expect(at(metadata, 'labels')).toEqual({ kind: 'array', element: { kind: 'primitive', name: 'string' } });
    expect(at(metadata, 'product.feature.name')).toEqual({ kind: 'primitive', name: 'string' });
    const resources = parseHiveType(typeOf(cols, 'resources'));
    expect(resources.kind).toBe('array');
    expect(at(resources, '[].uid')).toEqual({ kind: 'primitive', name: 'string' });
    expect(at(resources, '[].data')).toEqual({ kind: 'primitive', name: 'string' });
    expect(typeOf(cols, 'resources')).toMatch(/^array<struct<.+>>$/);
    const finding = columnsOf('detection_finding');
    expect(at(parseHiveType(typeOf(finding, 'evidences')), '[].src_endpoint.location.lat')).toEqual({ kind: 'primitive', name: 'double' });
  });

  it('cuts recursive objects to JSON text at the depth limit', () => {
    const actor = parseHiveType(typeOf(columnsOf('api_activity'), 'actor'));
    // actor(1) > process(2) > parent_process(3) > parent_process(4) > parent_process: text.
    expect(at(actor, 'process.parent_process.parent_process').kind).toBe('struct');
    expect(at(actor, 'process.parent_process.parent_process.parent_process')).toEqual({ kind: 'primitive', name: 'string' });
    expect(DEFAULT_STRUCT_DEPTH).toBe(4);
    const shallow = glueColumns(schemaNamed('api_activity'), { maxDepth: 1 });
    expect(at(parseHiveType(typeOf(shallow, 'metadata')), 'product')).toEqual({ kind: 'primitive', name: 'string' });
    expect(typeOf(glueColumns(schemaNamed('api_activity'), { maxDepth: 0 }), 'metadata')).toBe('string');
  });

  it.each(index.classes.map((c) => [c.class_name, c.file] as const))("%s: every type string is within Glue's limit", (_name, file) => {
    for (const c of glueColumns(schemaOf(file))) expect(c.type.length, c.name).toBeLessThanOrEqual(GLUE_MAX_TYPE_LENGTH);
  });

  it('refuses a depth whose types Glue cannot hold, naming the column and the fix', () => {
    expect(() => glueColumns(schemaNamed('detection_finding'), { maxDepth: 8 })).toThrow(/column evidences: type is \d+ characters.*lower maxDepth/);
  });

  it('refuses what it cannot map', () => {
    expect(() => glueColumns({ type: 'object' })).toThrow(GlueSchemaError);
    expect(() => glueColumns({ properties: { a: { $ref: '#/$defs/missing' } } })).toThrow(/a: unresolvable \$ref/);
    expect(() => glueColumns({ properties: { Bad: { type: 'string' } } })).toThrow(/"Bad" is not a lowercase Hive name/);
    expect(() => glueColumns({ properties: {} }, { maxDepth: -1 })).toThrow(/maxDepth/);
  });

  it('keeps untyped and free-form values as text', () => {
    const cols = glueColumns({
      properties: {
        any: {},
        free: { type: 'object' },
        list: { type: 'array' },
        nums: { type: 'array', items: { type: 'number' } },
      },
    });
    expect(cols).toEqual([
      { name: 'any', type: 'string' },
      { name: 'free', type: 'string' },
      { name: 'list', type: 'string' },
      { name: 'nums', type: 'array<double>' },
    ]);
  });
});

describe('parseHiveType', () => {
  it('reads back every type glueColumns renders', () => {
    for (const c of index.classes) for (const col of glueColumns(schemaOf(c.file))) expect(() => parseHiveType(col.type), `${c.class_name}.${col.name}`).not.toThrow();
  });

  it('refuses malformed types', () => {
    expect(() => parseHiveType('struct<a:string')).toThrow(/expected ">"/);
    expect(() => parseHiveType('array<int>x')).toThrow(/trailing text/);
  });
});

describe('stringifyFreeForm', () => {
  const columns: GlueColumn[] = [
    { name: 'time', type: 'bigint' },
    { name: 'unmapped', type: 'string' },
    { name: 'metadata', type: 'struct<uid:string,product:struct<name:string,feature:string>>' },
    { name: 'resources', type: 'array<struct<uid:string,data:string>>' },
    { name: 'labels', type: 'array<string>' },
  ];

  it('turns objects and arrays in string columns and fields into JSON text, at any depth', () => {
    const event = {
      time: 1742944483000,
      unmapped: { buildkite: { subject_type: 'Pipeline' } },
      metadata: { uid: 'u-1', product: { name: 'Buildkite', feature: { name: 'Audit Log' } } },
      resources: [
        { uid: 'r-1', data: { steps: [1, 2] } },
        { uid: 'r-2', data: 'already text' },
      ],
      labels: ['a', ['b']],
      extra: { kept: true },
    };
    const before = structuredClone(event);
    expect(stringifyFreeForm(event, columns)).toEqual({
      time: 1742944483000,
      unmapped: '{"buildkite":{"subject_type":"Pipeline"}}',
      metadata: { uid: 'u-1', product: { name: 'Buildkite', feature: '{"name":"Audit Log"}' } },
      resources: [
        { uid: 'r-1', data: '{"steps":[1,2]}' },
        { uid: 'r-2', data: 'already text' },
      ],
      labels: ['a', '["b"]'],
      extra: { kept: true },
    });
    expect(event).toEqual(before);
  });

  it('leaves scalars, nulls and values of the wrong shape for the conversion to judge', () => {
    expect(stringifyFreeForm({ time: 1, unmapped: null, metadata: [1], resources: { not: 'array' } }, columns)).toEqual({
      time: 1,
      unmapped: null,
      metadata: [1],
      resources: { not: 'array' },
    });
    expect(stringifyFreeForm({ unmapped: 'x' }, columns)).toEqual({ unmapped: 'x' });
  });

  it.each(readdirSync(SAMPLES).filter((f) => f.endsWith('.json')))('%s: after it, every value fits its column and no key is dropped', (file) => {
    const event = JSON.parse(readFileSync(join(SAMPLES, file), 'utf8')) as Record<string, unknown>;
    const entry = index.classes.find((c) => c.class_uid === event['class_uid']);
    if (entry === undefined) throw new Error(`${file}: class ${String(event['class_uid'])} has no schema`);
    const cols = glueColumns(schemaOf(entry.file));
    const table = parseHiveType(`struct<${cols.map((c) => `${c.name}:${c.type}`).join(',')}>`);
    expect(mismatches(stringifyFreeForm(event, cols), table, '')).toEqual([]);
    // The sample has free-form data, so the check above is not vacuous.
    expect(mismatches(event, table, '').length + (event['unmapped'] === undefined ? 1 : 0)).toBeGreaterThan(0);
  });
});

describe('stringifyFreeFormByDepth (the transform Lambda has no schemas)', () => {
  it('names exactly the free-form attributes of the OCSF 1.8.0 schemas', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { FREE_FORM_KEYS } = await import('../../lib/forward/glue-schema.ts');
    const dir = new URL('../../data/ocsf/schemas/', import.meta.url);
    const found = new Set<string>();
    type Node = { $ref?: string; type?: unknown; properties?: Record<string, Node>; items?: Node; enum?: unknown; const?: unknown; anyOf?: unknown; oneOf?: unknown };
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.schema.json'))) {
      const schema = JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Node & { $defs: Record<string, Node> };
      const seen = new Set<string>();
      const visit = (node: Node | undefined, name: string): void => {
        if (node === undefined) return;
        if (node.$ref !== undefined) {
          const k = node.$ref.split('/').pop() as string;
          if (seen.has(`${k}`)) return;
          seen.add(k);
          visit(schema.$defs[k], name);
          return;
        }
        if (node.type === 'array') return visit(node.items, name);
        const free =
          (node.type === 'object' && node.properties === undefined) ||
          (node.type === undefined && node.properties === undefined && node.enum === undefined && node.const === undefined && node.anyOf === undefined && node.oneOf === undefined);
        if (free && name !== '') found.add(name);
        for (const [k, v] of Object.entries(node.properties ?? {})) visit(v, k);
      };
      visit(schema, '');
    }
    expect([...found].sort()).toEqual([...FREE_FORM_KEYS].sort());
  });

  it('equals stringifyFreeForm with the class columns on every fixture and on normalized Buildkite events', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { normalizeEnvelope } = await import('../../lib/ocsf/normalize.ts');
    const { scenarios } = await import('../../lib/demo/scenario.ts');
    const { glueColumns, stringifyFreeForm, stringifyFreeFormByDepth } = await import('../../lib/forward/glue-schema.ts');
    const schemas = new Map<number, ReturnType<typeof glueColumns>>();
    const index = JSON.parse(readFileSync(new URL('../../data/ocsf/schemas/index.json', import.meta.url), 'utf8')) as { classes: { class_uid: number; file: string }[] };
    for (const c of index.classes) schemas.set(c.class_uid, glueColumns(JSON.parse(readFileSync(new URL(`../../data/ocsf/schemas/${c.file}`, import.meta.url), 'utf8'))));
    const events: Record<string, unknown>[] = [];
    const samples = new URL('../fixtures/ocsf/samples/', import.meta.url);
    for (const f of readdirSync(samples)) events.push(JSON.parse(readFileSync(new URL(f, samples), 'utf8')) as Record<string, unknown>);
    for (const e of scenarios().attack.slice(0, 400)) {
      const r = normalizeEnvelope(e);
      if (r.ok) events.push(r.event);
    }
    expect(events.length).toBeGreaterThan(300);
    for (const e of events) {
      const columns = schemas.get(e['class_uid'] as number);
      if (columns === undefined) throw new Error(`no schema for ${String(e['class_uid'])}`);
      expect(stringifyFreeFormByDepth(e)).toEqual(stringifyFreeForm(e, columns));
    }
  });
});
