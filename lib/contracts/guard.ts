import type { $ZodType } from 'zod/v4/core';

/** True when the value is valid; never allocates on the valid path. */
export type Guard = (value: unknown) => boolean;

/**
 * Compiles a zod schema into a boolean check with the same answer as `schema.safeParse(v).success`,
 * for the hot path: zod builds a result, a payload and a copy of every object it parses, which was
 * about a fifth of the normalizer's time. The schema stays the one source of truth; callers run
 * zod only when the guard says no, to get the reason. Node kinds, flags and checks this compiler
 * does not know (see KNOWN) fall back to zod for that subtree, so an unknown construct costs speed,
 * never correctness. test/contracts/guard.test.ts checks the agreement on real samples, on fuzzed
 * JSON and on the constructs a review found it getting wrong.
 */
export function compileGuard(schema: $ZodType): Guard {
  return compile(schema as unknown as Node);
}

interface Def {
  readonly type: string;
  readonly checks?: readonly Node[];
  readonly shape?: Record<string, Node>;
  readonly catchall?: Node;
  readonly innerType?: Node;
  readonly options?: readonly Node[];
  readonly element?: Node;
  readonly keyType?: Node;
  readonly valueType?: Node;
  // checks, and schemas that are checks (z.iso.datetime is a string schema and a format check)
  readonly check?: string;
  readonly format?: string;
  readonly pattern?: RegExp;
  readonly minimum?: number;
  readonly fn?: (value: unknown) => unknown;
  readonly when?: unknown;
}
interface Node {
  readonly _zod: { readonly def: Def; readonly traits: ReadonlySet<string>; readonly optin?: string; readonly optout?: string };
  safeParse(value: unknown): { success: boolean };
}

const fallback =
  (node: Node): Guard =>
  (v) =>
    node.safeParse(v).success;

/**
 * What the generator compiles, per kind: the def keys it reads and zod's own ($-prefixed) traits.
 * A node with anything more (z.coerce, z.xor's `inclusive: false`, a strict object's catchall,
 * z.exactOptional's trait, a refinement on a wrapper, a new zod flag) goes to zod: the guard
 * must give zod's answer for every input, and what it does not understand it does not guess.
 */
const KNOWN: Record<string, { keys: readonly string[]; traits: readonly string[] }> = {
  unknown: { keys: ['type'], traits: ['$ZodUnknown'] },
  any: { keys: ['type'], traits: ['$ZodAny'] },
  boolean: { keys: ['type'], traits: ['$ZodBoolean'] },
  string: { keys: ['type', 'checks'], traits: ['$ZodString'] },
  number: { keys: ['type', 'checks'], traits: ['$ZodNumber'] },
  optional: { keys: ['type', 'innerType'], traits: ['$ZodOptional'] },
  nullable: { keys: ['type', 'innerType'], traits: ['$ZodNullable'] },
  union: { keys: ['type', 'options'], traits: ['$ZodUnion'] },
  array: { keys: ['type', 'element'], traits: ['$ZodArray'] },
  record: { keys: ['type', 'keyType', 'valueType'], traits: ['$ZodRecord'] },
  object: { keys: ['type', 'shape'], traits: ['$ZodObject', '$ZodObjectJIT'] },
};
/** String and number schemas that are also format checks (z.iso.datetime(), z.int()). */
const FORMAT_NODE = {
  keys: ['type', 'checks', 'format', 'check', 'pattern', 'abort', 'offset', 'local', 'precision'],
  traits: [
    '$ZodString',
    '$ZodStringFormat',
    '$ZodCheckStringFormat',
    '$ZodCheck',
    '$ZodISODateTime',
    '$ZodISODate',
    '$ZodISOTime',
    '$ZodGUID',
    '$ZodNumber',
    '$ZodNumberFormat',
    '$ZodCheckNumberFormat',
  ],
};

function understood(node: Node): boolean {
  const def = node._zod.def;
  const known = def.format !== undefined && (def.type === 'string' || def.type === 'number') ? FORMAT_NODE : KNOWN[def.type];
  if (known === undefined) return false;
  for (const k of Object.keys(def)) if (!known.keys.includes(k)) return false;
  // Only string and number checks are compiled (stringChecks, numberChecks); a check elsewhere is a refinement zod must run.
  if (def.type !== 'string' && def.type !== 'number' && (def.checks?.length ?? 0) > 0) return false;
  for (const t of node._zod.traits) if (t.startsWith('$') && t !== '$ZodType' && !known.traits.includes(t)) return false;
  return true;
}

/**
 * Generates one straight-line function per object and array of the schema: about ten times
 * faster than a tree of closures (no megamorphic calls). Only schema keys reach the source, and
 * only through JSON.stringify; everything else (regexes, refinements, fallbacks) is passed in `c`.
 */
class Generator {
  readonly consts: unknown[] = [];
  readonly fns: string[] = [];

  ref(value: unknown): string {
    this.consts.push(value);
    return `c[${this.consts.length - 1}]`;
  }

  fn(params: string, body: string): string {
    const name = `f${this.fns.length}`;
    this.fns.push(''); // reserve the slot before nested functions take theirs
    this.fns[this.fns.length - 1] = `function ${name}(${params}) {\n${body}\n}`;
    return name;
  }

  /** A JS boolean expression that is true when `x` (an expression without side effects) is valid. */
  expr(node: Node, x: string): string {
    const def = node._zod.def;
    const fb = () => `${this.ref(fallback(node))}(${x})`;
    if (!understood(node)) return fb();
    switch (def.type) {
      case 'unknown':
      case 'any':
        return 'true';
      case 'boolean':
        return `typeof ${x} === 'boolean'`;
      case 'string': {
        const checks = stringChecks(def);
        if (checks === undefined) return fb();
        return [`typeof ${x} === 'string'`, ...checks.map((c) => `${this.ref(c)}(${x})`)].join(' && ');
      }
      case 'number': {
        if (def.format !== undefined && def.format !== 'safeint') return fb();
        const own = def.format === 'safeint' ? [Number.isSafeInteger] : [];
        const more = numberChecks(def);
        const checks = more === undefined ? undefined : [...own, ...more];
        if (checks === undefined) return fb();
        return [`typeof ${x} === 'number'`, `Number.isFinite(${x})`, ...checks.map((c) => `${this.ref(c)}(${x})`)].join(' && ');
      }
      case 'optional':
        return `(${x} === undefined || ${this.expr(def.innerType as Node, x)})`;
      case 'nullable':
        return `(${x} === null || ${this.expr(def.innerType as Node, x)})`;
      case 'union': {
        const options = def.options ?? [];
        return options.length === 0 ? 'false' : `(${options.map((o) => `(${this.expr(o, x)})`).join(' || ')})`;
      }
      case 'array': {
        // A loop, not every(): every() skips holes, zod checks them as undefined.
        const f = this.fn(
          'a',
          `if (!Array.isArray(a)) return false;\nfor (let i = 0; i < a.length; i++) { const e = a[i]; if (!(${this.expr(def.element as Node, 'e')})) return false; }\nreturn true;`,
        );
        return `${f}(${x})`;
      }
      case 'record': {
        const key = def.keyType as Node;
        if (!understood(key) || key._zod.def.type !== 'string' || (key._zod.def.checks?.length ?? 0) > 0) return fb();
        // zod walks Reflect.ownKeys: a symbol key fails the string key type (JSON has none).
        const plain = this.ref(isPlainObject);
        const valueCheck =
          def.valueType?._zod.def.type === 'unknown' && understood(def.valueType)
            ? ''
            : `for (const k in r) { if (!Object.hasOwn(r, k)) continue; const e = r[k]; if (!(${this.expr(def.valueType as Node, 'e')})) return false; }\n`;
        const f = this.fn('r', `if (!${plain}(r) || Object.getOwnPropertySymbols(r).length > 0) return false;\n${valueCheck}return true;`);
        return `${f}(${x})`;
      }
      case 'object': {
        const shape = def.shape ?? {};
        if (Object.getOwnPropertySymbols(shape).length > 0) return fb();
        const fields = Object.entries(shape).map(([k, child], i) => {
          // As zod: the value is input[key] (inherited keys included), present means `key in input`,
          // and an absent key passes only when the field is optional in and out (handlePropertyResult).
          const key = JSON.stringify(k);
          const { optin, optout } = child._zod;
          const absent = optout === 'optional' && optin !== undefined ? '' : optin === undefined ? 'return false;' : `if (!(${this.expr(child, 'undefined')})) return false;`;
          return `const v${i} = o[${key}];\nif (v${i} === undefined && !(${key} in o)) { ${absent} } else if (!(${this.expr(child, `v${i}`)})) return false;`;
        });
        const f = this.fn('o', `if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;\n${fields.join('\n')}\nreturn true;`);
        return `${f}(${x})`;
      }
      default:
        return fb();
    }
  }
}

function compile(node: Node): Guard {
  const g = new Generator();
  const top = g.expr(node, 'value');
  // Source built from the schema's structure only (see Generator), never from input.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the compiled guard is the point; its source comes from the schema, never from input
  const make = new Function('c', `${g.fns.join('\n')}\nreturn function guard(value) { return ${top}; };`) as (c: unknown[]) => Guard;
  return make(g.consts);
}

type StringCheck = (v: string) => boolean;

/** The string's own format (z.iso.*) and its checks; undefined when one is not understood. */
function stringChecks(def: Def): StringCheck[] | undefined {
  const out: StringCheck[] = [];
  if (def.format !== undefined) {
    const p = formatPattern(def);
    if (p === undefined) return undefined;
    out.push(p);
  }
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (!appliesToEveryString(d.when)) return undefined;
    if (d.check === 'min_length' && typeof d.minimum === 'number') {
      const min = d.minimum;
      // zod counts code points: fewer units can never reach the floor, twice as many always do.
      out.push((v) => v.length >= min && (v.length >= 2 * min || codePointLength(v) >= min));
    } else if (d.check === 'string_format') {
      const p = formatPattern(d);
      if (p === undefined) return undefined;
      out.push(p);
    } else if (d.check === 'custom' && typeof d.fn === 'function') {
      const fn = d.fn;
      out.push((v) => {
        const r = fn(v);
        // zod's synchronous parse throws on an async refinement; so does the guard (callers catch).
        if (r instanceof Promise) throw new Error('async refinement in a synchronous guard');
        return Boolean(r);
      });
    } else {
      return undefined;
    }
  }
  return out;
}

/**
 * zod gates its length checks on "has a length" (a `when` function); the guard only runs checks on
 * strings, so such a gate is always open. Any other gate is not compiled.
 */
function appliesToEveryString(when: unknown): boolean {
  if (when === undefined) return true;
  if (typeof when !== 'function') return false;
  const check = when as (ctx: { value: string; issues: unknown[] }) => unknown;
  return ['', 'a', 'ab\u{1F600}'].every((value) => check({ value, issues: [] }) === true);
}

function codePointLength(v: string): number {
  let count = v.length;
  for (let i = 0; i < v.length - 1; i++) {
    if ((v.charCodeAt(i) & 0xfc00) === 0xd800 && (v.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

/** Formats that zod checks by their pattern alone; the others (url, email with options, ...) are not compiled. */
const PATTERN_FORMATS = new Set(['datetime', 'date', 'time', 'guid', 'regex']);

function formatPattern(def: Def): StringCheck | undefined {
  const pattern = def.pattern;
  if (!(pattern instanceof RegExp) || pattern.global || pattern.sticky || !PATTERN_FORMATS.has(def.format ?? '')) return undefined;
  return (v) => pattern.test(v);
}

function numberChecks(def: Def): ((v: number) => boolean)[] | undefined {
  const out: ((v: number) => boolean)[] = [];
  for (const c of def.checks ?? []) {
    const d = c._zod.def;
    if (d.when !== undefined) return undefined;
    if (d.check === 'number_format' && d.format === 'safeint') out.push(Number.isSafeInteger);
    else return undefined;
  }
  return out;
}

/** zod's own plain-object test (util.isPlainObject); reaching it through `z.core` defeats tree-shaking. */
export function isPlainObject(o: unknown): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return false;
  const ctor: unknown = (o as { constructor?: unknown }).constructor;
  if (ctor === undefined || typeof ctor !== 'function') return true;
  const proto: unknown = (ctor as { prototype?: unknown }).prototype;
  if (typeof proto !== 'object' || proto === null || Array.isArray(proto)) return false;
  return Object.prototype.hasOwnProperty.call(proto, 'isPrototypeOf');
}
