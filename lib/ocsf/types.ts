/**
 * OCSF 1.8.0 shapes Kitewatch emits. Deliberately loose (the JSON Schemas in data/ocsf are the
 * authority and the tests validate against them); these types keep the code honest about the
 * fields it reads back.
 */
export const OCSF_VERSION = '1.8.0';

export interface OcsfProduct {
  name: string;
  vendor_name: string;
  version?: string;
  feature?: { name: string };
}

export interface OcsfMetadata {
  version: typeof OCSF_VERSION;
  product: OcsfProduct;
  uid: string;
  original_event_uid?: string;
  correlation_uid?: string;
  tenant_uid?: string;
  event_code?: string;
  log_name?: string;
  log_provider?: string;
  original_time?: string;
  logged_time?: number;
  profiles?: string[];
  labels?: string[];
}

export interface OcsfObservable {
  name: string;
  type_id: number;
  type?: string;
  value: string;
}

export interface OcsfUser {
  uid?: string;
  name?: string;
  type?: string;
  type_id?: number;
  email_addr?: string;
  credential_uid?: string;
  org?: { uid?: string; name?: string };
}

export interface OcsfResource {
  uid?: string;
  name?: string;
  type?: string;
  data?: Record<string, unknown>;
}

export interface OcsfEndpoint {
  ip?: string;
  hostname?: string;
  instance_uid?: string;
  name?: string;
  svc_name?: string;
  uid?: string;
  location?: { country?: string };
  autonomous_system?: { number?: number; name?: string };
}

export interface OcsfEvent {
  activity_id: number;
  activity_name?: string;
  category_uid: number;
  category_name?: string;
  class_uid: number;
  class_name?: string;
  type_uid: number;
  type_name?: string;
  severity_id: number;
  severity?: string;
  status_id?: number;
  status?: string;
  status_detail?: string;
  time: number;
  message?: string;
  metadata: OcsfMetadata;
  actor?: { user?: OcsfUser; session?: Record<string, unknown>; app_name?: string };
  user?: OcsfUser;
  src_endpoint?: OcsfEndpoint;
  resources?: OcsfResource[];
  observables?: OcsfObservable[];
  unmapped?: Record<string, unknown>;
  [key: string]: unknown;
}

export const SEVERITY = {
  0: 'Unknown',
  1: 'Informational',
  2: 'Low',
  3: 'Medium',
  4: 'High',
  5: 'Critical',
  6: 'Fatal',
  99: 'Other',
} as const;
export type SeverityId = keyof typeof SEVERITY;

export const STATUS = { 0: 'Unknown', 1: 'Success', 2: 'Failure', 99: 'Other' } as const;
export type StatusId = keyof typeof STATUS;

/** A finding's status (Detection Finding `status_id`): its triage state, not an outcome. */
export const FINDING_STATUS = { 0: 'Unknown', 1: 'New', 2: 'In Progress', 3: 'Suppressed', 4: 'Resolved', 5: 'Archived', 6: 'Deleted', 99: 'Other' } as const;

/** The caption of `status_id` in the given class. */
export function statusCaption(classUid: number, statusId: number): string | undefined {
  const table: Readonly<Record<number, string>> = classUid === 2004 ? FINDING_STATUS : STATUS;
  return table[statusId];
}

/** The classes Kitewatch emits: uid -> names. `type_uid = class_uid * 100 + activity_id`. */
export const CLASSES = {
  2004: { name: 'Detection Finding', category: 2, categoryName: 'Findings' },
  3001: { name: 'Account Change', category: 3, categoryName: 'Identity & Access Management' },
  3002: { name: 'Authentication', category: 3, categoryName: 'Identity & Access Management' },
  3004: { name: 'Entity Management', category: 3, categoryName: 'Identity & Access Management' },
  3005: { name: 'User Access Management', category: 3, categoryName: 'Identity & Access Management' },
  3006: { name: 'Group Management', category: 3, categoryName: 'Identity & Access Management' },
  6003: { name: 'API Activity', category: 6, categoryName: 'Application Activity' },
  7001: { name: 'Remediation Activity', category: 7, categoryName: 'Remediation' },
} as const;
export type ClassUid = keyof typeof CLASSES;

/** Activity names per class (OCSF 1.8.0 enums), so that `activity_name` always agrees with the id. */
export const ACTIVITIES: Record<ClassUid, Record<number, string>> = {
  2004: { 0: 'Unknown', 1: 'Create', 2: 'Update', 3: 'Close', 99: 'Other' },
  3001: {
    0: 'Unknown',
    1: 'Create',
    2: 'Enable',
    3: 'Password Change',
    4: 'Password Reset',
    5: 'Disable',
    6: 'Delete',
    7: 'Attach Policy',
    8: 'Detach Policy',
    9: 'Lock',
    10: 'MFA Factor Enable',
    11: 'MFA Factor Disable',
    12: 'Unlock',
    99: 'Other',
  },
  3002: {
    0: 'Unknown',
    1: 'Logon',
    2: 'Logoff',
    3: 'Authentication Ticket',
    4: 'Service Ticket Request',
    5: 'Service Ticket Renew',
    6: 'Preauth',
    7: 'Account Switch',
    99: 'Other',
  },
  3004: {
    0: 'Unknown',
    1: 'Create',
    2: 'Read',
    3: 'Update',
    4: 'Delete',
    5: 'Move',
    6: 'Enroll',
    7: 'Unenroll',
    8: 'Enable',
    9: 'Disable',
    10: 'Activate',
    11: 'Deactivate',
    12: 'Suspend',
    13: 'Resume',
    99: 'Other',
  },
  3005: { 0: 'Unknown', 1: 'Assign Privileges', 2: 'Revoke Privileges', 99: 'Other' },
  3006: {
    0: 'Unknown',
    1: 'Assign Privileges',
    2: 'Revoke Privileges',
    3: 'Add User',
    4: 'Remove User',
    5: 'Delete',
    6: 'Create',
    7: 'Add Subgroup',
    8: 'Remove Subgroup',
    99: 'Other',
  },
  6003: { 0: 'Unknown', 1: 'Create', 2: 'Read', 3: 'Update', 4: 'Delete', 99: 'Other' },
  7001: { 0: 'Unknown', 1: 'Isolate', 2: 'Evict', 3: 'Restore', 4: 'Harden', 5: 'Detect', 99: 'Other' },
};

/** The classification block every OCSF event starts with, consistent by construction. */
export function classify(
  classUid: ClassUid,
  activityId: number,
  severityId: SeverityId,
  activityNameOverride?: string,
): Pick<OcsfEvent, 'activity_id' | 'activity_name' | 'category_uid' | 'category_name' | 'class_uid' | 'class_name' | 'type_uid' | 'type_name' | 'severity_id' | 'severity'> {
  const cls = CLASSES[classUid];
  const activityName = activityNameOverride ?? ACTIVITIES[classUid][activityId] ?? 'Other';
  return {
    activity_id: activityId,
    activity_name: activityName,
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: classUid,
    class_name: cls.name,
    type_uid: classUid * 100 + activityId,
    type_name: `${cls.name}: ${activityName}`,
    severity_id: severityId,
    severity: SEVERITY[severityId],
  };
}

export function status(statusId: StatusId, detail?: string): Pick<OcsfEvent, 'status_id' | 'status' | 'status_detail'> {
  return detail === undefined || detail === '' ? { status_id: statusId, status: STATUS[statusId] } : { status_id: statusId, status: STATUS[statusId], status_detail: detail };
}

/** Classification names per (class, activity), so the hot path does not rebuild `type_name`. */
const NAMES = new Map<number, { activityName: string; typeName: string }>();

/**
 * `{ ...classify(...), ...status(...) }` as one fresh object with the same keys in the same
 * order: the mappers then add their fields to it instead of spreading and compacting.
 */
export function header(
  classUid: ClassUid,
  activityId: number,
  severityId: SeverityId,
  /** Undefined leaves the status keys out (the audit mapper places them later). */
  statusId: StatusId | undefined,
  statusDetail?: string,
  activityNameOverride?: string,
): OcsfEvent {
  const cls = CLASSES[classUid];
  let activityName: string;
  let typeName: string;
  if (activityNameOverride === undefined) {
    const key = classUid * 1000 + activityId;
    let names = NAMES.get(key);
    if (names === undefined) {
      const name = ACTIVITIES[classUid][activityId] ?? 'Other';
      names = { activityName: name, typeName: `${cls.name}: ${name}` };
      NAMES.set(key, names);
    }
    activityName = names.activityName;
    typeName = names.typeName;
  } else {
    activityName = activityNameOverride;
    typeName = `${cls.name}: ${activityNameOverride}`;
  }
  const e = {
    activity_id: activityId,
    activity_name: activityName,
    category_uid: cls.category,
    category_name: cls.categoryName,
    class_uid: classUid,
    class_name: cls.name,
    type_uid: classUid * 100 + activityId,
    type_name: typeName,
    severity_id: severityId,
    severity: SEVERITY[severityId],
  } as OcsfEvent;
  if (statusId !== undefined) addStatus(e, statusId, statusDetail);
  return e;
}

/** Appends `status(...)`'s keys to `e`, in its order. */
export function addStatus(e: OcsfEvent, statusId: StatusId, detail?: string): void {
  e.status_id = statusId;
  e.status = STATUS[statusId];
  if (detail !== undefined && detail !== '') e.status_detail = detail;
}
