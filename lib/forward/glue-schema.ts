/**
 * Glue (Hive) columns of an OCSF class, from its JSON Schema (data/ocsf/schemas), for the Parquet
 * conversion of the security-lake layout: Firehose reads the table to know the Parquet schema.
 *
 * | JSON Schema                                   | Hive type                      |
 * |-----------------------------------------------|--------------------------------|
 * | string                                        | string                         |
 * | integer with enum / const (ids, uids)          | int                            |
 * | other integer (`time`, `*_time`, sizes, counts) | bigint (OCSF long_t; epoch ms) |
 * | number                                        | double                         |
 * | boolean                                       | boolean                        |
 * | array of X                                    | array<X>                       |
 * | object with properties, within the depth limit | struct<name:type,...>          |
 * | object without properties (unmapped, json_t)  | string (JSON text)             |
 * | object beyond the depth limit                 | string (JSON text)             |
 *
 * Times stay bigint epoch milliseconds, as in Security Lake's own OCSF tables. Values of string
 * columns that arrive as objects or arrays must be JSON text: `stringifyFreeForm` does that.
 */

export interface GlueColumn {
  readonly name: string;
  /** Hive type string, e.g. `bigint`, `array<struct<name:string>>`. */
  readonly type: string;
}

/** Glue's limit on one column's type string. */
export const GLUE_MAX_TYPE_LENGTH = 131_072;

/**
 * Struct levels kept inside a top-level column (`metadata.product.feature.name` is 3). OCSF
 * objects are recursive (process.parent_process, user.groups...); 4 keeps every path Kitewatch's
 * normalizers write and keeps the widest class well under GLUE_MAX_TYPE_LENGTH.
 */
export const DEFAULT_STRUCT_DEPTH = 4;

export class GlueSchemaError extends Error {
  override readonly name = 'GlueSchemaError';
}

interface JsonSchemaNode {
  readonly type?: unknown;
  readonly $ref?: unknown;
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>;
  readonly items?: JsonSchemaNode;
  readonly enum?: unknown;
  readonly const?: unknown;
  readonly $defs?: Readonly<Record<string, JsonSchemaNode>>;
}

const NAME = /^[a-z_][a-z0-9_]*$/;

function isNode(value: unknown): value is JsonSchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The columns of one OCSF class, in the schema's property order (OCSF's own, alphabetical), so
 * the output is the same for the same schema. Throws when a type string exceeds Glue's limit.
 */
export function glueColumns(schema: unknown, { maxDepth = DEFAULT_STRUCT_DEPTH }: { readonly maxDepth?: number } = {}): GlueColumn[] {
  if (!isNode(schema) || !isNode(schema.properties)) throw new GlueSchemaError('not an OCSF class schema: no top-level properties');
  if (!Number.isInteger(maxDepth) || maxDepth < 0) throw new GlueSchemaError(`maxDepth must be a non-negative integer, got ${maxDepth}`);
  const defs = isNode(schema.$defs) ? schema.$defs : {};
  // (ref, depth) -> type: the same object at the same depth renders the same, so render it once.
  const memo = new Map<string, string>();

  const resolve = (node: JsonSchemaNode, path: string): { node: JsonSchemaNode; ref?: string } => {
    if (typeof node.$ref !== 'string') return { node };
    const m = /^#\/\$defs\/([^/]+)$/.exec(node.$ref);
    const target = m?.[1] === undefined ? undefined : defs[m[1]];
    if (target === undefined || !isNode(target)) throw new GlueSchemaError(`${path}: unresolvable $ref ${node.$ref}`);
    return { node: target, ref: node.$ref };
  };

  const typeOf = (raw: JsonSchemaNode, depth: number, path: string): string => {
    const { node, ref } = resolve(raw, path);
    switch (node.type) {
      case 'string':
        return 'string';
      case 'boolean':
        return 'boolean';
      case 'number':
        return 'double';
      case 'integer':
        return node.enum !== undefined || node.const !== undefined ? 'int' : 'bigint';
      case 'array': {
        if (!isNode(node.items)) return 'string';
        return `array<${typeOf(node.items, depth, `${path}[]`)}>`;
      }
      case 'object': {
        const props = node.properties;
        if (!isNode(props) || Object.keys(props).length === 0 || depth >= maxDepth) return 'string';
        const key = ref === undefined ? undefined : `${ref}@${depth}`;
        const cached = key === undefined ? undefined : memo.get(key);
        if (cached !== undefined) return cached;
        const fields = Object.entries(props).map(([name, child]) => `${checkName(name, path)}:${typeOf(child, depth + 1, `${path}.${name}`)}`);
        const type = `struct<${fields.join(',')}>`;
        if (key !== undefined) memo.set(key, type);
        return type;
      }
      default:
        // Untyped or multi-typed: keep the value as text rather than guess.
        return 'string';
    }
  };

  const columns = Object.entries(schema.properties).map(([name, node]) => ({ name: checkName(name, '(root)'), type: typeOf(node, 0, name) }));
  for (const c of columns) {
    if (c.type.length > GLUE_MAX_TYPE_LENGTH) {
      throw new GlueSchemaError(`column ${c.name}: type is ${c.type.length} characters, over Glue's ${GLUE_MAX_TYPE_LENGTH}; lower maxDepth (now ${maxDepth})`);
    }
  }
  return columns;
}

function checkName(name: string, path: string): string {
  // Hive lowercases names; a name it would change could not match the JSON key.
  if (!NAME.test(name)) throw new GlueSchemaError(`${path}: property "${name}" is not a lowercase Hive name`);
  return name;
}

type HiveType =
  { readonly kind: 'primitive'; readonly name: string } | { readonly kind: 'array'; readonly element: HiveType } | { readonly kind: 'struct'; readonly fields: ReadonlyMap<string, HiveType> };

/** Parses the Hive type strings glueColumns renders (primitives, array<>, struct<>). */
export function parseHiveType(text: string): HiveType {
  let i = 0;
  const fail = (what: string): never => {
    throw new GlueSchemaError(`Hive type: ${what} at ${i} of "${text.length > 80 ? `${text.slice(0, 80)}...` : text}"`);
  };
  const word = (): string => {
    const m = /^[a-z_][a-z0-9_]*/.exec(text.slice(i));
    if (m === null) return fail('expected a name');
    i += m[0].length;
    return m[0];
  };
  const expect = (c: string): void => {
    if (text[i] !== c) fail(`expected "${c}"`);
    i++;
  };
  const type = (): HiveType => {
    const name = word();
    if (name === 'array') {
      expect('<');
      const element = type();
      expect('>');
      return { kind: 'array', element };
    }
    if (name === 'struct') {
      expect('<');
      const fields = new Map<string, HiveType>();
      for (;;) {
        const field = word();
        expect(':');
        fields.set(field, type());
        if (text[i] === ',') i++;
        else break;
      }
      expect('>');
      return { kind: 'struct', fields };
    }
    return { kind: 'primitive', name };
  };
  const parsed = type();
  if (i !== text.length) fail('trailing text');
  return parsed;
}

/**
 * The event as the Parquet conversion needs it: wherever a column (or a struct field in it) is
 * `string`, an object or array value becomes its JSON text (unmapped, json_t, objects cut by the
 * depth limit). Everything else is kept as it is. Does not modify `event`.
 */
export function stringifyFreeForm(event: Readonly<Record<string, unknown>>, columns: readonly GlueColumn[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...event };
  for (const c of columns) {
    if (Object.hasOwn(out, c.name)) out[c.name] = shape(out[c.name], parsedType(c.type));
  }
  return out;
}

const parsedTypes = new Map<string, HiveType>();
function parsedType(text: string): HiveType {
  let t = parsedTypes.get(text);
  if (t === undefined) {
    t = parseHiveType(text);
    parsedTypes.set(text, t);
  }
  return t;
}

function shape(value: unknown, type: HiveType): unknown {
  if (value === null || typeof value !== 'object') return value;
  switch (type.kind) {
    case 'primitive':
      return type.name === 'string' ? JSON.stringify(value) : value;
    case 'array':
      return Array.isArray(value) ? value.map((v) => shape(v, type.element)) : value;
    case 'struct': {
      if (Array.isArray(value)) return value;
      const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      for (const [name, fieldType] of type.fields) {
        if (Object.hasOwn(out, name)) out[name] = shape(out[name], fieldType);
      }
      return out;
    }
  }
}

/**
 * The OCSF attributes whose schema is free-form (an object without properties, or untyped): their
 * Glue column type is always `string`. Checked against the schemas by test/forward/glue-schema.test.ts.
 */
export const FREE_FORM_KEYS: ReadonlySet<string> = new Set(['unmapped', 'data', 'xattributes', 'scim_group_schema', 'scim_user_schema']);

/**
 * stringifyFreeForm without the schemas, for the Firehose transform Lambda (the schemas would not fit
 * its bundle): free-form attributes and objects past the struct depth limit become JSON text. For
 * valid OCSF events this equals `stringifyFreeForm(event, glueColumns(schema))`, which the tests prove
 * on every fixture.
 */
export function stringifyFreeFormByDepth(event: Readonly<Record<string, unknown>>, maxDepth = DEFAULT_STRUCT_DEPTH): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(event)) out[key] = byDepth(event[key], key, 0, maxDepth);
  return out;
}

function byDepth(value: unknown, key: string, depth: number, maxDepth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (FREE_FORM_KEYS.has(key)) return JSON.stringify(value);
  // Array elements sit at the array's own depth, as in glueColumns.
  if (Array.isArray(value)) return value.map((v) => byDepth(v, key, depth, maxDepth));
  if (depth >= maxDepth) return JSON.stringify(value);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = byDepth((value as Record<string, unknown>)[k], k, depth + 1, maxDepth);
  return out;
}
