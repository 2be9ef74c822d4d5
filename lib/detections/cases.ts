/**
 * Runs the detectors' own test cases (the `*.cases.ts` data beside each detector): used by
 * `kitewatch detections test` and by vitest (test/detections/cases.test.ts).
 *
 * Each case runs twice, state flushed after every event and flushed only at the end, and both
 * runs must give identical findings: results don't depend on batch boundaries.
 */
import { parseConfig } from '../config/load.ts';
import type { IpEnricher } from '../enrich/ip.ts';
import type { FindingResource } from '../findings/contract.ts';
import { normalizeEnvelope } from '../ocsf/normalize.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import { validateOcsf } from '../ocsf/validate.ts';
import type { StatePort } from '../state/port.ts';
import { SqliteState } from '../state/sqlite.ts';
import { breakGlassEditCases } from './break-glass-edit.cases.ts';
import type { DetectorId } from './config.ts';
import { DETECTORS } from './index.ts';
import { accountTakeoverCases } from './account-takeover.cases.ts';
import { interactiveSessionCases } from './interactive-session.cases.ts';
import { monitoringDisabledCases } from './monitoring-disabled.cases.ts';
import { privilegeGrantCases } from './privilege-grant.cases.ts';
import { secretAccessCases, secretAccessIacCases } from './secret-access.cases.ts';
import { createDetectStage } from './stage.ts';
import { thirdPartyAccessCases } from './third-party-access.cases.ts';
import { tokenSpikeCases } from './token-spike.cases.ts';
import type { AnyDetector, DetectorCase, ExpectedFinding } from './types.ts';
import { unusualIpCases } from './unusual-ip.cases.ts';

export const CASES: Readonly<Record<DetectorId, readonly DetectorCase[]>> = {
  'unusual-ip': unusualIpCases,
  'token-spike': tokenSpikeCases,
  'secret-access': [...secretAccessCases, ...secretAccessIacCases],
  'break-glass-edit': breakGlassEditCases,
  'monitoring-disabled': monitoringDisabledCases,
  'privilege-grant': privilegeGrantCases,
  'third-party-access': thirdPartyAccessCases,
  'interactive-session': interactiveSessionCases,
  'account-takeover': accountTakeoverCases,
};

export interface RaisedFinding {
  /** Index of the input event that raised it. */
  readonly at: number;
  readonly finding: OcsfEvent;
}

export interface CaseResult {
  readonly detector: DetectorId;
  readonly name: string;
  readonly kind: DetectorCase['kind'];
  readonly passed: boolean;
  readonly problems: readonly string[];
  readonly findings: readonly RaisedFinding[];
  readonly ms: number;
}

export interface RunOptions {
  readonly enrich?: IpEnricher;
  /** A fresh, empty store for each run (default: an in-memory SQLite store). Closed after the run. */
  readonly state?: () => Promise<StatePort>;
}

/** Normalizes the case's envelopes with the production normalizer. */
export function normalizeCase(c: DetectorCase): OcsfEvent[] {
  return c.events.map((envelope, i) => {
    const r = normalizeEnvelope(envelope);
    if (!r.ok) throw new Error(`event ${i} does not normalize: ${r.reason}`);
    return r.event;
  });
}

/** Feeds events through a one-detector stage on a fresh in-memory store. */
export async function runDetector(
  detector: AnyDetector,
  events: readonly OcsfEvent[],
  config: Readonly<Record<string, unknown>> | undefined,
  flushEvery: number,
  options: RunOptions = {},
): Promise<RaisedFinding[]> {
  const kwConfig = parseConfig({ detectors: { [detector.meta.id]: config ?? {} } }, `case config for ${detector.meta.id}`);
  const state = options.state !== undefined ? await options.state() : new SqliteState({ path: ':memory:' });
  const stage = createDetectStage(kwConfig, state, { detectors: [detector], ...(options.enrich ? { enrich: options.enrich } : {}) });
  const out: RaisedFinding[] = [];
  try {
    for (const [i, event] of events.entries()) {
      for (const finding of await stage.detect(event)) out.push({ at: i, finding });
      if ((i + 1) % flushEvery === 0) {
        for (const finding of await stage.drain()) out.push({ at: i, finding });
        await stage.flush();
      }
    }
    for (const finding of await stage.drain()) out.push({ at: events.length - 1, finding });
    await stage.flush();
  } finally {
    await state.close();
  }
  return out;
}

function resourcesOf(f: OcsfEvent): FindingResource[] {
  return (f.resources ?? []) as unknown as FindingResource[];
}

function describeFinding(r: RaisedFinding): string {
  const target = resourcesOf(r.finding).find((x) => x.data?.role === 'target');
  const info = r.finding['finding_info'] as { title?: string } | undefined;
  return `#${r.at}${r.finding.activity_id === 2 ? ' (update)' : ''} ${r.finding.severity} "${info?.title ?? '?'}" target ${target ? `${target.type} ${target.uid}` : 'none'}`;
}

/** Differences between what was raised and what the case expects (empty: pass). */
export function compareFindings(raised: readonly RaisedFinding[], expected: readonly ExpectedFinding[], events: readonly OcsfEvent[], detectorId: string): string[] {
  const problems: string[] = [];
  if (raised.length !== expected.length) {
    problems.push(`expected ${expected.length} finding(s), got ${raised.length}${raised.length > 0 ? `: ${raised.map(describeFinding).join('; ')}` : ''}`);
  }
  expected.forEach((exp, i) => {
    const got = raised[i];
    if (got === undefined) return;
    const f = got.finding;
    const info = f['finding_info'] as { uid?: string; title?: string; analytic?: { uid?: string } } | undefined;
    const label = `finding ${i + 1}`;
    const activity = exp.update === true ? 2 : 1;
    if (f.activity_id !== activity) problems.push(`${label}: activity ${f.activity_id}, expected ${activity} (${exp.update === true ? 'Update' : 'Create'})`);
    if (exp.update === true && !raised.slice(0, i).some((r) => r.finding.activity_id === 1 && (r.finding['finding_info'] as { uid?: string }).uid === info?.uid)) {
      problems.push(`${label}: an Update whose finding_info.uid no earlier finding has`);
    }
    if (got.at !== exp.at) problems.push(`${label}: raised by event #${got.at}, expected #${exp.at}`);
    if (f.severity_id !== exp.severity) problems.push(`${label}: severity ${f.severity_id} (${f.severity}), expected ${exp.severity}`);
    if (!(info?.title ?? '').includes(exp.title)) problems.push(`${label}: title "${info?.title}" does not contain "${exp.title}"`);
    if (info?.analytic?.uid !== detectorId) problems.push(`${label}: analytic.uid is ${info?.analytic?.uid}`);
    const rs = resourcesOf(f);
    const target = rs.find((r) => r.data?.role === 'target');
    if (target?.type !== exp.target.type || target.uid !== exp.target.uid) {
      problems.push(`${label}: target ${target ? `${target.type} ${target.uid}` : 'none'}, expected ${exp.target.type} ${exp.target.uid}`);
    }
    const implicated = rs
      .filter((r) => r.data?.role === 'implicated')
      .map((r) => r.uid)
      .sort();
    const wantImplicated = [...(exp.implicated ?? [])].sort();
    if (JSON.stringify(implicated) !== JSON.stringify(wantImplicated)) {
      problems.push(`${label}: implicated [${implicated.join(', ')}], expected [${wantImplicated.join(', ')}]`);
    }
    const related = new Set(rs.filter((r) => r.data?.role === 'related').map((r) => r.uid));
    for (const uid of exp.related ?? []) if (!related.has(uid)) problems.push(`${label}: related resource ${uid} missing`);
    // Related, or the target itself when the finding is about the organization.
    if (!rs.some((r) => r.type === 'Organization' && typeof r.name === 'string')) problems.push(`${label}: no Organization resource with the org slug`);
    const cited = new Set(((f['evidences'] ?? []) as Array<{ uid?: string }>).map((e) => e.uid));
    for (const idx of [exp.at, ...(exp.evidence ?? [])]) {
      const uid = events[idx]?.metadata.uid;
      if (uid === undefined || !cited.has(uid)) problems.push(`${label}: event #${idx} is not cited in evidences[]`);
    }
    const v = validateOcsf(f);
    if (!v.valid) problems.push(`${label}: not valid OCSF 1.8: ${v.errors.slice(0, 3).join('; ')}`);
  });
  return problems;
}

/**
 * What must not depend on batch boundaries: every new finding exactly, and the last version of
 * each finding's entities and counts. (Updates are raised once per incident per batch, so their
 * number does.)
 */
function outcome(raised: readonly RaisedFinding[]): unknown {
  const created = raised.filter((r) => r.finding.activity_id !== 2);
  const last = new Map<string, unknown>();
  for (const { finding } of raised) {
    const fi = finding['finding_info'] as { uid: string; related_events_count?: number; last_seen_time?: number };
    const entities = resourcesOf(finding)
      .map((r) => `${r.type} ${r.uid} ${r.data.role}`)
      .sort();
    last.set(fi.uid, { entities, count: fi.related_events_count, lastSeen: fi.last_seen_time, severity: finding.severity_id });
  }
  return { created, last: [...last.entries()].sort((a, b) => a[0].localeCompare(b[0])) };
}

export async function runCase(detector: AnyDetector, c: DetectorCase, options: RunOptions = {}): Promise<CaseResult> {
  const t0 = performance.now();
  const problems: string[] = [];
  let findings: RaisedFinding[] = [];
  try {
    if (c.kind === 'negative' && c.expect.length > 0) problems.push('a negative case must expect no findings');
    if (c.kind === 'positive' && c.expect.length === 0) problems.push('a positive case must expect findings');
    const events = normalizeCase(c);
    findings = await runDetector(detector, events, c.config, 1, options);
    const batched = await runDetector(detector, events, c.config, Number.MAX_SAFE_INTEGER, options);
    if (JSON.stringify(outcome(batched)) !== JSON.stringify(outcome(findings))) {
      problems.push('findings differ between flushing after every event and flushing once (batch boundaries must not matter)');
    }
    problems.push(...compareFindings(findings, c.expect, events, detector.meta.id));
  } catch (error) {
    problems.push(`threw ${(error as Error).name}: ${(error as Error).message}`);
  }
  return { detector: detector.meta.id, name: c.name, kind: c.kind, passed: problems.length === 0, problems, findings, ms: performance.now() - t0 };
}

/** Every case of every detector (or of the named ones), in registry order. */
export async function runAllCases(ids?: readonly string[], options: RunOptions = {}): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const d of DETECTORS) {
    if (ids !== undefined && ids.length > 0 && !ids.includes(d.meta.id)) continue;
    for (const c of CASES[d.meta.id]) results.push(await runCase(d, c, options));
  }
  return results;
}
