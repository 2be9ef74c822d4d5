/**
 * EventBridge-compatible event pattern matcher.
 *
 * The same rules/*.json patterns are deployed as EventBridge rules and evaluated here by
 * `kitewatch replay`, so the semantics follow AWS (the EventBridge user guide and aws/event-ruler,
 * the engine EventBridge runs), not moto:
 *
 * - a field's value is an array of alternatives (OR); all fields of an object must match (AND);
 * - event arrays are flattened: a leaf field matches if ANY element matches; a nested pattern
 *   matches an array of objects if ANY one object matches the whole nested pattern;
 * - objects are not leaves: `exists: true` never matches an object, `exists: false` does;
 * - a field absent from the event (or an empty array) matches only `{"exists": false}`;
 * - string operators only match strings, `numeric` only JSON numbers, `cidr` only IP strings;
 * - `anything-but` matches any present leaf that is not excluded (type-aware: `anything-but: 5`
 *   does not exclude the string "5"), but never an absent field.
 *
 * Patterns are compiled once into closures; CIDRs and wildcards are pre-parsed.
 */

export type EventPattern = { readonly [key: string]: unknown };

export class PatternError extends Error {
  override readonly name = 'PatternError';
}

type Leaf = string | number | boolean | null;
type Test<T> = (value: T) => boolean;
type Json = Readonly<Record<string, unknown>>;
/** Matches the fields of one object level; `undefined` stands for "no object here". */
type ObjectMatcher = (obj: Json | undefined) => boolean;

const OR = '$or';
const OPERATORS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'anything-but', 'exists', 'numeric', 'cidr', 'wildcard']);
// event-ruler refuses these as field names inside $or branches (Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
const RESERVED_IN_OR = new Set([
  ...OPERATORS,
  'exactly',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/** Checks a pattern the way EventBridge's PutRule would; throws PatternError naming the path. */
export function validatePattern(pattern: unknown): EventPattern {
  compileRoot(pattern);
  return pattern as EventPattern;
}

/** Compiles a pattern into a predicate over events; throws PatternError if the pattern is invalid. */
export function compilePattern(pattern: EventPattern): (event: unknown) => boolean {
  return compileRoot(pattern);
}

// Keyed by pattern object so repeated convenience calls do not recompile.
const cache = new WeakMap<object, (event: unknown) => boolean>();

export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  let fn = cache.get(pattern);
  if (fn === undefined) {
    fn = compileRoot(pattern);
    cache.set(pattern, fn);
  }
  return fn(event);
}

// ---------------------------------------------------------------------------------------------
// Structure: objects, fields, $or
// ---------------------------------------------------------------------------------------------

function fail(path: string, message: string): never {
  throw new PatternError(`${path || '(root)'}: ${message}`);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function compileRoot(pattern: unknown): (event: unknown) => boolean {
  if (!isObject(pattern)) fail('', 'event pattern must be a JSON object');
  return nested(compileObject(pattern, '', false));
}

function compileObject(pattern: Json, path: string, insideOr: boolean): ObjectMatcher {
  const keys = Object.keys(pattern);
  if (keys.length === 0) fail(path, 'empty objects are not allowed');
  const fields: ObjectMatcher[] = [];
  const ors: ObjectMatcher[][] = [];
  for (const key of keys) {
    const value = pattern[key];
    const here = join(path, key);
    if (key === OR) {
      ors.push(compileOr(value, here, path));
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(key)) {
      fail(here, `"${key}" is a reserved keyword and cannot be a field name inside $or`);
    }
    const get = getter(key);
    if (Array.isArray(value)) {
      fields.push(compileLeafField(get, value, here));
    } else if (isObject(value)) {
      const inner = nested(compileObject(value, here, insideOr));
      fields.push((obj) => inner(obj === undefined ? undefined : get(obj)));
    } else {
      fail(here, 'must be an object or an array');
    }
  }
  return allOf(fields, ors);
}

function compileOr(value: unknown, here: string, path: string): ObjectMatcher[] {
  if (!Array.isArray(value)) fail(here, '$or must be an array of objects');
  if (value.length < 2) fail(here, '$or needs at least 2 objects');
  return value.map((branch: unknown, i) => {
    if (!isObject(branch)) fail(`${here}[${i}]`, '$or may only contain objects');
    // Branches apply to the same object level as the $or key itself.
    return compileObject(branch, path === '' ? `${OR}[${i}]` : `${path}.${OR}[${i}]`, true);
  });
}

function allOf(fields: ObjectMatcher[], ors: ObjectMatcher[][]): ObjectMatcher {
  if (ors.length === 0) {
    if (fields.length === 1) return fields[0] as ObjectMatcher;
    if (fields.length === 2) {
      const [a, b] = fields as [ObjectMatcher, ObjectMatcher];
      return (obj) => a(obj) && b(obj);
    }
  }
  return (obj) => {
    for (let i = 0; i < fields.length; i++) if (!(fields[i] as ObjectMatcher)(obj)) return false;
    for (let i = 0; i < ors.length; i++) {
      const branches = ors[i] as ObjectMatcher[];
      let any = false;
      for (let j = 0; j < branches.length && !any; j++) any = (branches[j] as ObjectMatcher)(obj);
      if (!any) return false;
    }
    return true;
  };
}

/** Own-property read; keys like "constructor" must not resolve through the prototype. */
function getter(key: string): (obj: Json) => unknown {
  if (key in Object.prototype) return (obj) => (Object.hasOwn(obj, key) ? obj[key] : undefined);
  return (obj) => obj[key];
}

/**
 * Applies an object-level matcher to whatever the event holds at that path. Arrays are
 * flattened: any object element may satisfy it. With no object there at all (absent, leaf,
 * empty array) every field is absent, so the result is a constant (true only for patterns made
 * of `exists: false`).
 * Known gap: event-ruler decides `exists: false` under an array lazily, in key order, so
 * {"a":{"b":[{"exists":false}]}} does not match {"a":[{"b":1},{"c":2}]} on AWS; here the second
 * object satisfies it.
 */
function nested(match: ObjectMatcher): (value: unknown) => boolean {
  const whenEmpty = match(undefined);
  const someObject = (arr: readonly unknown[]): 0 | 1 | 2 => {
    let seen: 0 | 1 = 0;
    for (let i = 0; i < arr.length; i++) {
      const el = arr[i];
      if (typeof el !== 'object' || el === null) continue;
      if (Array.isArray(el)) {
        const r = someObject(el);
        if (r === 2) return 2;
        if (r === 1) seen = 1;
      } else {
        if (match(el as Json)) return 2;
        seen = 1;
      }
    }
    return seen;
  };
  return (value) => {
    if (typeof value !== 'object' || value === null) return whenEmpty;
    if (!Array.isArray(value)) return match(value as Json);
    const r = someObject(value);
    return r === 2 || (r === 0 && whenEmpty);
  };
}

// ---------------------------------------------------------------------------------------------
// Leaf fields
// ---------------------------------------------------------------------------------------------

interface LeafTests {
  readonly strings: Set<string>;
  readonly numbers: Set<number>;
  readonly ipKeys: Set<string>;
  readonly stringPreds: Test<string>[];
  readonly numberPreds: Test<number>[];
  readonly otherPreds: Test<boolean | null>[];
  readonly cidrs: Cidr[];
  hasTrue: boolean;
  hasFalse: boolean;
  hasNull: boolean;
  existsTrue: boolean;
  existsFalse: boolean;
}

function compileLeafField(get: (obj: Json) => unknown, alternatives: readonly unknown[], path: string): ObjectMatcher {
  if (alternatives.length === 0) fail(path, 'empty arrays are not allowed');
  const t: LeafTests = {
    strings: new Set(),
    numbers: new Set(),
    ipKeys: new Set(),
    stringPreds: [],
    numberPreds: [],
    otherPreds: [],
    cidrs: [],
    hasTrue: false,
    hasFalse: false,
    hasNull: false,
    existsTrue: false,
    existsFalse: false,
  };
  alternatives.forEach((alt, i) => addAlternative(t, alt, `${path}[${i}]`));
  const test = leafTest(t);
  const onAbsent = t.existsFalse;

  return (obj) => {
    const v = obj === undefined ? undefined : get(obj);
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
        return test(v);
      case 'object':
        if (v === null) return test(null);
        if (Array.isArray(v)) {
          const r = scanLeaves(v, test);
          return r === 2 || (r === 0 && onAbsent);
        }
        return onAbsent; // an object is not a leaf
      default:
        return onAbsent;
    }
  };
}

/** 2: some leaf passed; 1: leaves present, none passed; 0: no leaves (only objects / empty). */
function scanLeaves(arr: readonly unknown[], test: Test<Leaf>): 0 | 1 | 2 {
  let seen: 0 | 1 = 0;
  for (let i = 0; i < arr.length; i++) {
    const el = arr[i];
    switch (typeof el) {
      case 'string':
      case 'number':
      case 'boolean':
        if (test(el)) return 2;
        seen = 1;
        break;
      case 'object':
        if (el === null) {
          if (test(null)) return 2;
          seen = 1;
        } else if (Array.isArray(el)) {
          const r = scanLeaves(el, test);
          if (r === 2) return 2;
          if (r === 1) seen = 1;
        }
        break;
      default:
        break;
    }
  }
  return seen;
}

function leafTest(t: LeafTests): Test<Leaf> {
  if (t.existsTrue) return () => true; // any present leaf satisfies the field

  const strPreds: Test<string>[] = [];
  if (t.strings.size > 0) {
    const set = t.strings;
    strPreds.push((s) => set.has(s));
  }
  if (t.ipKeys.size > 0) {
    // IP literals in exact matches compare as addresses (event-ruler turns them into ranges).
    const keys = t.ipKeys;
    strPreds.push((s) => {
      const ip = parseIp(s);
      return ip !== undefined && keys.has(ipKey(ip));
    });
  }
  if (t.cidrs.length > 0) strPreds.push(cidrTest(t.cidrs));
  strPreds.push(...t.stringPreds);

  const numPreds: Test<number>[] = [];
  if (t.numbers.size > 0) {
    const set = t.numbers;
    numPreds.push((n) => set.has(n));
  }
  numPreds.push(...t.numberPreds);

  const str = anyOf(strPreds);
  const num = anyOf(numPreds);
  const other = anyOf(t.otherPreds);
  const { hasTrue, hasFalse, hasNull } = t;

  return (v) => {
    switch (typeof v) {
      case 'string':
        return str !== undefined && str(v);
      case 'number':
        return num !== undefined && num(v);
      case 'boolean':
        return (v ? hasTrue : hasFalse) || (other !== undefined && other(v));
      default:
        return hasNull || (other !== undefined && other(null));
    }
  };
}

function anyOf<T>(preds: Test<T>[]): Test<T> | undefined {
  if (preds.length === 0) return undefined;
  if (preds.length === 1) return preds[0];
  if (preds.length === 2) {
    const [a, b] = preds as [Test<T>, Test<T>];
    return (v) => a(v) || b(v);
  }
  return (v) => {
    for (let i = 0; i < preds.length; i++) if ((preds[i] as Test<T>)(v)) return true;
    return false;
  };
}

function addAlternative(t: LeafTests, alt: unknown, path: string): void {
  switch (typeof alt) {
    case 'string': {
      t.strings.add(alt);
      const ip = parseIp(alt);
      if (ip !== undefined) t.ipKeys.add(ipKey(ip));
      return;
    }
    case 'number':
      t.numbers.add(finite(alt, path));
      return;
    case 'boolean':
      if (alt) t.hasTrue = true;
      else t.hasFalse = true;
      return;
    case 'object':
      if (alt === null) {
        t.hasNull = true;
        return;
      }
      if (Array.isArray(alt)) fail(path, 'match value must be a string, number, true, false, null or an operator object');
      addOperator(t, alt as Json, path);
      return;
    default:
      fail(path, 'match value must be a string, number, true, false, null or an operator object');
  }
}

function finite(n: number, path: string): number {
  if (!Number.isFinite(n)) fail(path, `number ${String(n)} is not finite`);
  return n;
}

/** EventBridge compares numbers in [-5e9, 5e9] to six decimal places, and refuses other operands. */
export const NUMERIC_LIMIT = 5e9;
const MAX_DECIMALS = 6;

/**
 * An operand of `numeric` or of a numeric `anything-but`, checked as EventBridge checks it:
 * within ±5,000,000,000 and with at most six digits after the decimal point (the shortest
 * decimal that reads back as the same double, so 1e-7 and 0.1234567 are refused).
 */
function comparable(n: number, path: string): number {
  finite(n, path);
  if (Math.abs(n) > NUMERIC_LIMIT) fail(path, `number ${String(n)} is outside the range EventBridge compares (-5e9 to 5e9)`);
  const text = String(n);
  const exp = /e-(\d+)$/.exec(text);
  const decimals = exp !== null ? Number(exp[1]) + (text.split('e')[0]?.split('.')[1]?.length ?? 0) : (text.split('.')[1]?.length ?? 0);
  if (decimals > MAX_DECIMALS) fail(path, `number ${text} has more than ${MAX_DECIMALS} digits after the decimal point (EventBridge's numeric precision)`);
  return n;
}

function singleKey(obj: Json, path: string, what: string): [string, unknown] {
  const keys = Object.keys(obj);
  if (keys.length !== 1) {
    fail(path, keys.length === 0 ? `${what} has no operator` : `only one key allowed in ${what}, got ${keys.join(', ')}`);
  }
  const key = keys[0] as string;
  return [key, obj[key]];
}

function str(v: unknown, path: string, message: string): string {
  if (typeof v !== 'string') fail(path, message);
  return v;
}

function addOperator(t: LeafTests, expr: Json, path: string): void {
  const [op, arg] = singleKey(expr, path, 'match expression');
  const here = `${path}.${op}`;
  switch (op) {
    case 'prefix': {
      if (isObject(arg)) {
        const p = ignoreCaseArg(arg, here).toLowerCase();
        t.stringPreds.push((s) => s.toLowerCase().startsWith(p));
      } else {
        const p = str(arg, here, 'prefix must be a string or {"equals-ignore-case": string}');
        t.stringPreds.push((s) => s.startsWith(p));
      }
      return;
    }
    case 'suffix': {
      if (isObject(arg)) {
        const p = ignoreCaseArg(arg, here).toLowerCase();
        t.stringPreds.push((s) => s.toLowerCase().endsWith(p));
      } else {
        const p = str(arg, here, 'suffix must be a string or {"equals-ignore-case": string}');
        t.stringPreds.push((s) => s.endsWith(p));
      }
      return;
    }
    case 'equals-ignore-case': {
      const p = str(arg, here, 'equals-ignore-case must be a string').toLowerCase();
      t.stringPreds.push((s) => s.toLowerCase() === p);
      return;
    }
    case 'wildcard':
      t.stringPreds.push(compileWildcard(str(arg, here, 'wildcard must be a string'), here));
      return;
    case 'exists':
      if (arg === true) t.existsTrue = true;
      else if (arg === false) t.existsFalse = true;
      else fail(here, 'exists must be true or false');
      return;
    case 'numeric':
      t.numberPreds.push(compileNumeric(arg, here));
      return;
    case 'cidr':
      t.cidrs.push(parseCidr(str(arg, here, 'cidr must be a string'), here));
      return;
    case 'anything-but':
      addAnythingBut(t, arg, here);
      return;
    default:
      fail(path, `unrecognized match type "${op}"`);
  }
}

function ignoreCaseArg(arg: Json, path: string): string {
  const [op, value] = singleKey(arg, path, 'expression');
  if (op !== 'equals-ignore-case') fail(`${path}.${op}`, `unsupported operator "${op}" (only equals-ignore-case)`);
  return str(value, `${path}.${op}`, 'equals-ignore-case must be a string');
}

// ---------------------------------------------------------------------------------------------
// anything-but
// ---------------------------------------------------------------------------------------------

const ALWAYS: Test<boolean | null> = () => true;
const ANYTHING_BUT_OPS = new Set(['prefix', 'suffix', 'equals-ignore-case', 'wildcard']);

function addAnythingBut(t: LeafTests, arg: unknown, path: string): void {
  // Only values of the excluded kind can be excluded; every other present leaf matches.
  if (isObject(arg)) {
    const [op, value] = singleKey(arg, path, 'anything-but expression');
    const here = `${path}.${op}`;
    if (!ANYTHING_BUT_OPS.has(op)) fail(here, `unsupported anything-but operator "${op}"`);
    const list = stringList(value, here, op);
    if (list.length === 0) fail(here, `anything-but ${op} list must not be empty`);
    let excluded: Test<string>;
    switch (op) {
      case 'prefix':
      case 'suffix': {
        if (list.some((s) => s === '')) fail(here, `empty ${op} is not allowed in anything-but`);
        excluded = op === 'prefix' ? (s) => list.some((p) => s.startsWith(p)) : (s) => list.some((p) => s.endsWith(p));
        break;
      }
      case 'equals-ignore-case': {
        const set = new Set(list.map((s) => s.toLowerCase()));
        excluded = (s) => set.has(s.toLowerCase());
        break;
      }
      case 'wildcard': {
        const tests = list.map((w, i) => compileWildcard(w, Array.isArray(value) ? `${here}[${i}]` : here));
        excluded = (s) => tests.some((w) => w(s));
        break;
      }
      default:
        fail(here, `unsupported anything-but operator "${op}"`);
    }
    t.stringPreds.push((s) => !excluded(s));
    t.numberPreds.push(() => true);
    t.otherPreds.push(ALWAYS);
    return;
  }

  const values = Array.isArray(arg) ? arg : [arg];
  if (values.length === 0) fail(path, 'anything-but list must not be empty');
  const strings = new Set<string>();
  const numbers = new Set<number>();
  values.forEach((v: unknown, i) => {
    const here = Array.isArray(arg) ? `${path}[${i}]` : path;
    if (typeof v === 'string') strings.add(v);
    else if (typeof v === 'number') numbers.add(comparable(v, here));
    else fail(here, 'anything-but accepts only strings or numbers (not null, booleans, objects or nested lists)');
  });
  if (strings.size > 0 && numbers.size > 0) fail(path, 'anything-but list must be all strings or all numbers');
  t.stringPreds.push(strings.size > 0 ? (s) => !strings.has(s) : () => true);
  t.numberPreds.push(numbers.size > 0 ? (n) => !numbers.has(n) : () => true);
  t.otherPreds.push(ALWAYS);
}

function stringList(value: unknown, path: string, op: string): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) {
    return value.map((v: unknown, i) => str(v, `${path}[${i}]`, `anything-but ${op} values must be strings`));
  }
  return fail(path, `anything-but ${op} must be a string or a list of strings`);
}

// ---------------------------------------------------------------------------------------------
// numeric
// ---------------------------------------------------------------------------------------------

/**
 * event-ruler grammar: ["=", n] | ["<"|"<=", n] | [">"|">=", n] | [">"|">=", lo, "<"|"<=", hi]
 * with lo < hi. Anything else (e.g. ["<", 5, ">", 1]) is rejected by EventBridge.
 */
function compileNumeric(arg: unknown, path: string): Test<number> {
  if (!Array.isArray(arg)) fail(path, 'numeric must be an array like [">", 0, "<=", 5]');
  const items: readonly unknown[] = arg;
  const operand = (i: number, op: string): number => {
    const v = items[i];
    if (typeof v !== 'number') fail(`${path}[${i}]`, `value of ${op} must be a number`);
    return comparable(v, `${path}[${i}]`);
  };
  const op0 = items[0];
  if (typeof op0 !== 'string') fail(`${path}[0]`, 'numeric must start with an operator ("=", "<", "<=", ">", ">=")');
  const a = operand(1, op0);
  const only = (): void => {
    if (items.length > 2) fail(path, `numeric "${op0}" takes exactly one operand`);
  };
  switch (op0) {
    case '=':
      only();
      return (n) => n === a;
    case '<':
      only();
      return (n) => n < a;
    case '<=':
      only();
      return (n) => n <= a;
    case '>':
    case '>=': {
      const lo: Test<number> = op0 === '>' ? (n) => n > a : (n) => n >= a;
      if (items.length === 2) return lo;
      const op1 = items[2];
      if (op1 !== '<' && op1 !== '<=') fail(`${path}[2]`, `bad numeric range operator ${JSON.stringify(op1)} (expected "<" or "<=")`);
      const b = operand(3, op1);
      if (items.length > 4) fail(path, 'too many terms in numeric range');
      if (!(a < b)) fail(path, `numeric range bottom ${a} must be less than top ${b}`);
      return op1 === '<' ? (n) => lo(n) && n < b : (n) => lo(n) && n <= b;
    }
    default:
      return fail(`${path}[0]`, `unrecognized numeric operator ${JSON.stringify(op0)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// wildcard
// ---------------------------------------------------------------------------------------------

/**
 * `*` matches any run of characters (including none); `\*` is a literal star and `\\` a literal
 * backslash. Consecutive stars and any other escape are rejected, as EventBridge does.
 */
function compileWildcard(pattern: string, path: string): Test<string> {
  const segments: string[] = [];
  let current = '';
  let lastWasStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\') {
      const next = pattern[i + 1];
      if (next !== '*' && next !== '\\') fail(path, `invalid escape at position ${i} in wildcard ${JSON.stringify(pattern)} (only \\* and \\\\)`);
      current += next;
      i++;
      lastWasStar = false;
    } else if (c === '*') {
      if (lastWasStar) fail(path, `consecutive wildcard characters at position ${i} in ${JSON.stringify(pattern)}`);
      segments.push(current);
      current = '';
      lastWasStar = true;
    } else {
      current += c;
      lastWasStar = false;
    }
  }
  segments.push(current);

  if (segments.length === 1) {
    const exact = segments[0] as string;
    return (s) => s === exact;
  }
  const first = segments[0] as string;
  const last = segments[segments.length - 1] as string;
  const middle = segments.slice(1, -1);
  const minLength = segments.reduce((n, s) => n + s.length, 0);
  // Leftmost-greedy placement of the middle segments is optimal for star-only globs.
  return (s) => {
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    let pos = first.length;
    const end = s.length - last.length;
    for (let i = 0; i < middle.length; i++) {
      const seg = middle[i] as string;
      const at = s.indexOf(seg, pos);
      if (at < 0 || at + seg.length > end) return false;
      pos = at + seg.length;
    }
    return true;
  };
}

// ---------------------------------------------------------------------------------------------
// IP addresses and CIDR
// ---------------------------------------------------------------------------------------------

type Ip = { readonly v: 4; readonly n: number } | { readonly v: 6; readonly n: bigint };
interface Cidr {
  readonly v: 4 | 6;
  readonly lo4: number;
  readonly hi4: number;
  readonly lo6: bigint;
  readonly hi6: bigint;
}

// Same shapes event-ruler accepts as IP literals (Constants.IPv4_REGEX / IPv6_REGEX).
const IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;
const IPV6_CHARS = /^[0-9a-fA-F:]*:[0-9a-fA-F:]*$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function ipKey(ip: Ip): string {
  return `${ip.v}:${ip.n.toString(16)}`;
}

/** Parses an IP literal; octets are read as decimal. IPv4-mapped IPv6 becomes IPv4, as in Java. */
function parseIp(s: string): Ip | undefined {
  const m4 = IPV4.exec(s);
  if (m4 !== null) {
    let n = 0;
    for (let i = 1; i <= 4; i++) {
      const octet = Number(m4[i]);
      if (octet > 255) return undefined;
      n = n * 256 + octet;
    }
    return { v: 4, n };
  }
  if (!IPV6_CHARS.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : (halves[0] as string).split(':');
  const tail = halves.length === 2 ? (halves[1] === '' ? [] : (halves[1] as string).split(':')) : [];
  const groups = halves.length === 2 ? head.length + tail.length : head.length;
  if (halves.length === 2 ? groups > 7 : groups !== 8) return undefined;
  let n = 0n;
  const add = (g: string): boolean => {
    if (!HEX_GROUP.test(g)) return false;
    n = (n << 16n) | BigInt(parseInt(g, 16));
    return true;
  };
  for (const g of head) if (!add(g)) return undefined;
  if (halves.length === 2) n <<= BigInt(16 * (8 - groups));
  for (const g of tail) if (!add(g)) return undefined;
  if (n >> 32n === 0xffffn) return { v: 4, n: Number(n & 0xffffffffn) };
  return { v: 6, n };
}

/**
 * "addr/bits". The network is floored (10.0.0.7/24 covers 10.0.0.0-255). EventBridge rejects
 * /32 for IPv4 and /128 for IPv6 (event-ruler: "mask bits must be < 32|128").
 */
function parseCidr(s: string, path: string): Cidr {
  const parts = s.split('/');
  if (parts.length !== 2) fail(path, `malformed CIDR ${JSON.stringify(s)}, one '/' required`);
  const [addr, bitsText] = parts as [string, string];
  if (!/^[+-]?\d+$/.test(bitsText)) fail(path, `malformed CIDR ${JSON.stringify(s)}, mask bits must be an integer`);
  const bits = Number(bitsText);
  if (bits < 0) fail(path, `malformed CIDR ${JSON.stringify(s)}, mask bits must not be negative`);
  const ip = parseIp(addr);
  if (ip === undefined) fail(path, `invalid IP address ${JSON.stringify(addr)} in CIDR`);
  if (ip.v === 4) {
    if (bits > 31) fail(path, `IPv4 mask bits must be < 32 in ${JSON.stringify(s)}`);
    const size = 2 ** (32 - bits);
    const lo4 = Math.floor(ip.n / size) * size;
    return { v: 4, lo4, hi4: lo4 + size - 1, lo6: 0n, hi6: 0n };
  }
  if (bits > 127) fail(path, `IPv6 mask bits must be < 128 in ${JSON.stringify(s)}`);
  const host = (1n << BigInt(128 - bits)) - 1n;
  const lo6 = ip.n & ~host & ((1n << 128n) - 1n);
  return { v: 6, lo4: 0, hi4: 0, lo6, hi6: lo6 | host };
}

function cidrTest(cidrs: readonly Cidr[]): Test<string> {
  // One parse per event value, however many ranges the field lists.
  return (s) => {
    const ip = parseIp(s);
    if (ip === undefined) return false;
    for (let i = 0; i < cidrs.length; i++) {
      const c = cidrs[i] as Cidr;
      if (c.v !== ip.v) continue;
      if (ip.v === 4 ? ip.n >= c.lo4 && ip.n <= c.hi4 : ip.n >= c.lo6 && ip.n <= c.hi6) return true;
    }
    return false;
  };
}
