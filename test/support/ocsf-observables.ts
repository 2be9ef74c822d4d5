/**
 * The observable type id OCSF 1.8.0 gives an attribute path (data/ocsf/observables.json, extracted
 * from the raw schema by scripts/ocsf-observables.ts): set on the attribute by the class or
 * object, else by the dictionary attribute, else by its type (ip_t -> 2, ...).
 */
import { readFileSync } from 'node:fs';
import { OCSF_CLASS_FILES } from '../../lib/ocsf/validate.ts';

interface Entry {
  type?: string;
  observable?: number;
}
interface Table {
  types: Record<string, number>;
  attributes: Record<string, Entry>;
  objects: Record<string, Record<string, Entry>>;
  classes: Record<string, Record<string, Entry>>;
}

const TABLE = JSON.parse(readFileSync(new URL('../../data/ocsf/observables.json', import.meta.url), 'utf8')) as Table;

export type SchemaObservable = { readonly known: false } | { readonly known: true; readonly typeId: number | undefined };

/** `resources[].uid` in class 6003 -> 10; unknown when the path leaves the schema (unmapped, data). */
export function schemaObservable(classUid: number, path: string): SchemaObservable {
  const cls = TABLE.classes[(OCSF_CLASS_FILES as Record<number, string | undefined>)[classUid] ?? ''] ?? {};
  let owner: Record<string, Entry> | undefined = cls;
  let typeId: number | undefined;
  const segments = path.split('.').map((s) => s.replace(/\[\w*\]$/, ''));
  for (const [i, seg] of segments.entries()) {
    const dict = TABLE.attributes[seg];
    if (dict === undefined) return { known: false };
    const own: Entry | undefined = owner?.[seg];
    const type: string = own?.type ?? dict.type ?? '';
    typeId = own?.observable ?? dict.observable ?? TABLE.types[type];
    if (i < segments.length - 1) {
      if (type.endsWith('_t') || type === 'object') return { known: false }; // free-form (unmapped, data)
      owner = TABLE.objects[type] ?? {};
    }
  }
  return { known: true, typeId };
}
