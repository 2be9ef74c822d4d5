import { escapeControls } from '../contracts/terminal.ts';
import type { OcsfEvent } from '../ocsf/types.ts';
import type { PipelineCounts } from '../engine/pipeline.ts';

/** What the demo saw: every OCSF event the pipeline emitted, plus its counts. */
export interface DemoRun {
  readonly counts: PipelineCounts;
  readonly events: readonly OcsfEvent[];
  readonly orgSlug: string;
  readonly day: string;
}

interface FindingView {
  time: number;
  detector: string;
  severity: string;
  title: string;
  uid: string;
  /** An Update (activity 2) of a finding already listed: same uid, more evidence. */
  update: boolean;
}

interface ActionView {
  time: number;
  action: string;
  status: string;
  detail: string;
  target: string;
  finding: string;
  /** A dry-run of an action that enforce mode would hold for a responder's approval. */
  approval: boolean;
}

function hhmm(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}

function findings(run: DemoRun): FindingView[] {
  return run.events
    .filter((e) => e.class_uid === 2004)
    .map((e) => {
      const info = (e['finding_info'] ?? {}) as { title?: string; uid?: string; analytic?: { uid?: string } };
      return {
        time: e.time,
        detector: info.analytic?.uid ?? 'unknown',
        severity: e.severity ?? String(e.severity_id),
        // Titles quote names from event data: one line each, whatever they hold.
        title: escapeControls(info.title ?? e.message ?? ''),
        uid: info.uid ?? e.metadata.uid,
        update: e.activity_id === 2,
      };
    })
    .sort((a, b) => a.time - b.time);
}

function targetOf(e: OcsfEvent): string {
  const t = (e.unmapped?.['kitewatch'] as { target?: { type?: string; uid?: string; name?: string } } | undefined)?.target;
  if (t !== undefined) return `${t.type ?? ''} ${t.name ?? t.uid ?? ''}`.trim();
  return e.message ?? '';
}

/**
 * Remediation activities carry the wall-clock time they were decided; the story wants the event time of
 * the finding (or Update) that asked for them, which is the latest one with their correlation uid before them.
 */
function actions(run: DemoRun): ActionView[] {
  const findingTime = new Map<string, number>();
  const out: ActionView[] = [];
  for (const e of run.events) {
    if (e.class_uid === 2004) {
      const uid = (e['finding_info'] as { uid?: string } | undefined)?.uid ?? e.metadata.uid;
      findingTime.set(uid, e.time);
      continue;
    }
    if (e.class_uid !== 7001) continue;
    const finding = e.metadata.correlation_uid ?? '';
    out.push({
      time: findingTime.get(finding) ?? e.time,
      action: typeof e['command_uid'] === 'string' ? e['command_uid'] : '',
      status: e.status ?? '',
      detail: escapeControls(e.status_detail ?? ''),
      target: escapeControls(targetOf(e)),
      finding,
      approval: /would wait for approval/.test(e.message ?? ''),
    });
  }
  return out.sort((a, b) => a.time - b.time);
}

/** The short report the demo prints: a timeline of findings, what enforce mode would do, the counts. */
export function textReport(run: DemoRun): string {
  const f = findings(run);
  const a = actions(run);
  const c = run.counts;
  const lines: string[] = [];
  lines.push(`Kitewatch demo: the Buildkite organization "${run.orgSlug}" ${span(run)}`);
  lines.push('');
  const updates = f.filter((x) => x.update).length;
  // An Update carries the same finding uid with new evidence: counted apart, so "13 findings" never means 10 incidents.
  const findingCount = updates === 0 ? `${f.length} findings` : `${f.length - updates} findings (${updates} updated with new evidence)`;
  lines.push(`${c.events} Buildkite events in, ${c.normalized} normalized to OCSF 1.8, ${c.quarantined} quarantined, ${findingCount}, ${c.actions} remediation activities.`);
  lines.push('');
  lines.push('Findings (UTC):');
  if (f.length === 0) lines.push('  none');
  for (const x of f) lines.push(`  ${hhmm(x.time)}  ${x.severity.padEnd(13)} ${x.detector.padEnd(20)} ${x.update ? 'update: ' : ''}${x.title}`);
  lines.push('');
  lines.push('What enforce mode would do (this run was dry-run; nothing was changed):');
  const groups = groupActions(a.filter((x) => x.detail.includes('dry-run')));
  if (groups.length === 0) lines.push('  nothing');
  for (const g of groups) {
    lines.push(`  ${hhmm(g.time)}  ${g.action.padEnd(20)} ${summarizeTargets(g.targets)}${g.approval ? ' (once a responder approves)' : ''}`);
  }
  const held = groupActions(a.filter((x) => !x.detail.includes('dry-run')));
  if (held.length > 0) {
    lines.push('');
    lines.push('Held back or skipped by the policy:');
    for (const g of held) lines.push(`  ${g.action.padEnd(20)} ${summarizeTargets(g.targets)}: ${g.detail}`);
  }
  return lines.join('\n');
}

interface ActionGroup {
  /** When the first action of the group was decided. */
  time: number;
  action: string;
  finding: string;
  detail: string;
  approval: boolean;
  targets: string[];
}

/** One line per (finding, action, outcome), in time order: fifty stopped agents read as one line, not fifty. */
function groupActions(list: readonly ActionView[]): ActionGroup[] {
  const groups = new Map<string, ActionGroup>();
  for (const x of list) {
    const key = `${x.finding}\u0000${x.action}\u0000${x.detail}\u0000${x.approval}`;
    const g = groups.get(key) ?? { time: x.time, action: x.action, finding: x.finding, detail: x.detail, approval: x.approval, targets: [] };
    if (!g.targets.includes(x.target)) g.targets.push(x.target);
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => a.time - b.time);
}

function summarizeTargets(targets: readonly string[]): string {
  if (targets.length <= 3) return targets.join(', ');
  return `${targets.length} targets: ${targets.slice(0, 3).join(', ')}, ...`;
}

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

const SEVERITY_COLOUR: Record<string, string> = {
  Critical: '#b91c1c',
  High: '#ea580c',
  Medium: '#ca8a04',
  Low: '#2563eb',
  Informational: '#6b7280',
};

/** What the run covers: the demo day, after the quiet days of history that give detectors their baselines. */
function span(run: DemoRun): string {
  const start = Date.parse(`${run.day}T00:00:00Z`);
  let earliest = start;
  for (const e of run.events) if (e.class_uid !== 2004 && e.class_uid !== 7001 && e.time < earliest) earliest = e.time;
  const history = Math.ceil((start - earliest) / 86_400_000);
  return history > 0 ? `on ${run.day}, after ${history} day${history === 1 ? '' : 's'} of history` : `on ${run.day}`;
}

/** A self-contained HTML report (inline CSS and SVG, no scripts, no network) with a timeline chart. */
export function htmlReport(run: DemoRun): string {
  const f = findings(run);
  const a = actions(run);
  const normalized = run.events.filter((e) => e.class_uid !== 2004 && e.class_uid !== 7001);
  const start = Date.parse(`${run.day}T00:00:00Z`);
  const bucketMs = 15 * 60_000;
  const buckets = new Array<number>(96).fill(0);
  for (const e of normalized) {
    const i = Math.floor((e.time - start) / bucketMs);
    if (i >= 0 && i < 96) buckets[i] = (buckets[i] ?? 0) + 1;
  }
  const max = Math.max(1, ...buckets);
  const W = 960;
  const H = 220;
  const plotH = 150;
  const x = (ms: number) => 40 + ((ms - start) / 86_400_000) * (W - 60);
  const bars = buckets
    .map((n, i) => {
      const h = (n / max) * plotH;
      return `<rect x="${(40 + (i * (W - 60)) / 96).toFixed(1)}" y="${(20 + plotH - h).toFixed(1)}" width="${((W - 60) / 96 - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="#93c5fd"><title>${hhmm(start + i * bucketMs)}: ${n} events</title></rect>`;
    })
    .join('');
  // Marker lines go behind the bars (a finding sits on the spike it explains) and their dots above the plot.
  const markLines = f
    .map(
      (m) => `<line x1="${x(m.time).toFixed(1)}" x2="${x(m.time).toFixed(1)}" y1="20" y2="${20 + plotH}" stroke="${SEVERITY_COLOUR[m.severity] ?? '#000'}" stroke-width="2" stroke-dasharray="3 2"/>`,
    )
    .join('');
  const marks = f
    .map((m) => `<circle cx="${x(m.time).toFixed(1)}" cy="14" r="5" fill="${SEVERITY_COLOUR[m.severity] ?? '#000'}"><title>${esc(`${hhmm(m.time)} ${m.detector}: ${m.title}`)}</title></circle>`)
    .join('');
  const ticks = [0, 3, 6, 9, 12, 15, 18, 21, 24]
    .map((h) => `<text x="${x(start + h * 3_600_000).toFixed(1)}" y="${20 + plotH + 18}" font-size="11" text-anchor="middle">${String(h).padStart(2, '0')}:00</text>`)
    .join('');
  const findingRows = f
    .map(
      (m) =>
        `<tr><td>${hhmm(m.time)}</td><td><span class="sev" style="background:${SEVERITY_COLOUR[m.severity] ?? '#000'}">${esc(m.severity)}</span></td><td><code>${esc(m.detector)}</code></td><td>${m.update ? 'update: ' : ''}${esc(m.title)}</td></tr>`,
    )
    .join('');
  // One row per finding and action, at the event time of the finding that asked: fifty stopped agents are one row.
  const actionRows = groupActions(a)
    .map((g) => {
      const targets = g.targets.length <= 6 ? g.targets.join(', ') : `${g.targets.length}: ${g.targets.slice(0, 6).join(', ')}, ...`;
      return `<tr><td>${hhmm(g.time)}</td><td><code>${esc(g.action)}</code></td><td>${esc(targets)}</td><td>${esc(g.detail)}</td></tr>`;
    })
    .join('');
  const c = run.counts;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Kitewatch demo report: ${esc(run.orgSlug)} ${esc(run.day)}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1000px;color:#111827}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e5e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
.sev{color:#fff;border-radius:4px;padding:0 .4rem;font-size:12px}.counts span{display:inline-block;margin-right:1.5rem}
.counts b{font-size:1.3rem;display:block}code{font-size:12px}
</style></head><body>
<h1>Kitewatch demo: <code>${esc(run.orgSlug)}</code> ${esc(span(run))}</h1>
<p class="counts"><span><b>${c.events}</b>Buildkite events</span><span><b>${c.normalized}</b>normalized (OCSF 1.8)</span><span><b>${c.quarantined}</b>quarantined</span><span><b>${f.filter((x) => !x.update).length}</b>findings</span><span><b>${f.filter((x) => x.update).length}</b>updates</span><span><b>${c.actions}</b>remediation activities</span></p>
<h2>Timeline: events per 15 minutes, findings as markers (UTC)</h2>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="events and findings over the day">
<line x1="40" x2="${W - 20}" y1="${20 + plotH}" y2="${20 + plotH}" stroke="#9ca3af"/>${markLines}${bars}${marks}${ticks}
<text x="4" y="28" font-size="11">${max}</text><text x="4" y="${20 + plotH}" font-size="11">0</text>
</svg>
<h2>Findings</h2>
<table><thead><tr><th>time</th><th>severity</th><th>detector</th><th>finding</th></tr></thead><tbody>${findingRows || '<tr><td colspan="4">none</td></tr>'}</tbody></table>
<h2>Containment (dry-run: what enforce mode would do)</h2>
<table><thead><tr><th>time</th><th>action</th><th>target</th><th>outcome</th></tr></thead><tbody>${actionRows || '<tr><td colspan="4">none</td></tr>'}</tbody></table>
<p>Generated by <code>kitewatch demo</code>. Every event above is an OCSF 1.8.0 event validated against its JSON Schema.</p>
</body></html>
`;
}
