import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { CLASSES, type ClassUid } from './types.ts';

/**
 * Validates OCSF events against the OCSF 1.8.0 JSON Schemas shipped in data/ocsf/schemas.
 * Used by tests and by `kitewatch replay --validate`; not on the Lambda hot path.
 */
/** OCSF schema file (and class name in the raw schema) of each class Kitewatch emits. */
export const OCSF_CLASS_FILES: Record<ClassUid, string> = {
  2004: 'detection_finding',
  3001: 'account_change',
  3002: 'authentication',
  3004: 'entity_management',
  3005: 'user_access',
  3006: 'group_management',
  6003: 'api_activity',
  7001: 'remediation_activity',
};

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;
let ajv: Ajv2020 | undefined;
const compiled = new Map<number, ValidateFunction>();

function validatorFor(classUid: number): ValidateFunction | undefined {
  if (!Object.hasOwn(CLASSES, classUid)) return undefined;
  let v = compiled.get(classUid);
  if (v === undefined) {
    ajv ??= addFormats(new Ajv2020({ allErrors: true, strict: false }));
    const file = new URL(`../../data/ocsf/schemas/${OCSF_CLASS_FILES[classUid as ClassUid]}.schema.json`, import.meta.url);
    v = ajv.compile(JSON.parse(readFileSync(file, 'utf8')) as object);
    compiled.set(classUid, v);
  }
  return v;
}

export interface OcsfValidation {
  readonly valid: boolean;
  readonly errors: string[];
}

export function validateOcsf(event: unknown): OcsfValidation {
  const classUid = (event as { class_uid?: unknown } | null)?.class_uid;
  if (typeof classUid !== 'number') return { valid: false, errors: ['class_uid is missing or not a number'] };
  const validate = validatorFor(classUid);
  if (validate === undefined) return { valid: false, errors: [`class_uid ${classUid} is not a class Kitewatch emits`] };
  if (validate(event)) return { valid: true, errors: [] };
  return {
    valid: false,
    errors: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? ''}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`),
  };
}
