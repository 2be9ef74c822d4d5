import type * as z from 'zod';

/** True when the value is valid; never allocates on the valid path. */
export type Guard = (value: unknown) => boolean;

/**
 * Compiles a zod schema into a boolean check with the same answer as `schema.safeParse(v).success`,
 * for the hot path: zod builds a result, a payload and a copy of every object it parses, which was
 * about a fifth of the normalizer's time. The schema stays the one source of truth; callers run
 * zod only when the guard says no, to get the reason. Node kinds and checks this compiler does not
 * know fall back to zod for that subtree, so an unknown construct costs speed, never correctness.
 * test/contracts/guard.test.ts checks the agreement on real samples and on fuzzed JSON.
 */
export function compileGuard(schema: z.ZodType): Guard {
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
  readonly maximum?: number;
  readonly fn?: (value: unknown) => unknown;
  readonly when?: unknown;
}
interface Node {
  readonly _zod: { readonly def: Def };
  safeParse(value: unknown): { success: boolean };
}

const fallback = (node: Node): Guard => (v) => node.safeParse(v).success;

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
    switch (def.type) {
      case 'unknown':
      case 'any':
        return 'true';
      case 'boolean':
        return def.checks?.length ? fb() : `typeof ${x} === 'boolean'`;
      case 'string': {
        const checks = stringChecks(def);
        if (checks === undefined) return fb();
        return [`typeof ${x} === 'string'`, ...checks.map((c) => `${this.ref(c)}(${x})`)].join(' && ');
      }
      case 'number': {
        const checks = numberChecks(def);
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
        if (def.checks?.length) return fb();
        // A loop, not every(): every() skips holes, zod checks them as undefined.
        const f = this.fn('a', `if (!Array.isArray(a)) return false;\nfor (let i = 0; i < a.length; i++) { const e = a[i]; if (!(${this.expr(def.element as Node, 'e')})) return false; }\nreturn true;`);
        return `${f}(${x})`;
      }
      case 'record': {
        const key = def.keyType?._zod.def;
        if (def.checks?.length || key?.type !== 'string' || key.checks?.length) return fb();
        const plain = this.ref(isPlainObject);
        if (def.valueType?._zod.def.type === 'unknown') return `${plain}(${x})`;
        const f = this.fn('r', `if (!${plain}(r)) return false;\nfor (const k in r) { if (!Object.hasOwn(r, k)) continue; const e = r[k]; if (!(${this.expr(def.valueType as Node, 'e')})) return false; }\nreturn true;`);
        return `${f}(${x})`;
      }
      case 'object': {
        // Strict and loose objects (a catchall) and object-level refinements go to zod.
        if (def.checks?.length || def.catchall !== undefined) return fb();
        const fields = Object.entries(def.shape ?? {}).map(([k, child], i) => {
          // zod reads input[key] (inherited keys included): so does the guard.
          return `const v${i} = o[${JSON.stringify(k)}];\nif (!(${this.expr(child, `v${i}`)})) return false;`;
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
      out.push((v) => Boolean(fn(v)));
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
  return ['', 'a', 'ab\u{1F600}'].every((value) => when({ value, issues: [] }) === true);
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
