/**
 * The detector registry: ids are a contract (config keys, finding_info.analytic.uid, the
 * containment policy). Order is the order detectors run in on each event.
 */
import { SEVERITY } from '../ocsf/types.ts';
import { breakGlassEdit } from './break-glass-edit.ts';
import { DETECTOR_IDS } from './config.ts';
import { accountTakeover } from './account-takeover.ts';
import { interactiveSession } from './interactive-session.ts';
import { monitoringDisabled } from './monitoring-disabled.ts';
import { privilegeGrant } from './privilege-grant.ts';
import { secretAccess } from './secret-access.ts';
import { thirdPartyAccess } from './third-party-access.ts';
import { tokenSpike } from './token-spike.ts';
import type { AnyDetector, AttackRef, DetectorMeta } from './types.ts';
import { unusualIp } from './unusual-ip.ts';

export const DETECTORS: readonly AnyDetector[] = [unusualIp, tokenSpike, secretAccess, breakGlassEdit, monitoringDisabled, privilegeGrant, thirdPartyAccess, interactiveSession, accountTakeover];

// A detector without a config block (or a block without a detector) is a wiring bug: fail at import.
{
  const ids = DETECTORS.map((d) => d.meta.id);
  const missing = DETECTOR_IDS.filter((id) => !ids.includes(id));
  if (missing.length > 0 || new Set(ids).size !== ids.length || ids.length !== DETECTOR_IDS.length) {
    throw new Error(`detector registry and config schema disagree: registry ${ids.join(', ')}; config ${DETECTOR_IDS.join(', ')}`);
  }
}

export function detectorById(id: string): AnyDetector | undefined {
  return DETECTORS.find((d) => d.meta.id === id);
}

function attackText(a: AttackRef): string {
  const t = a.sub_technique ?? a.technique;
  return `${t.uid} ${t.name} (${a.tactic.name})`;
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function severityText(m: DetectorMeta): string {
  return m.severityNotes ?? SEVERITY[m.severity];
}

/** What every detector promises about repeats: the incident model (lib/detections/incident.ts). */
export const INCIDENT_TEXT = [
  "**One finding per incident.** A detector's finding is about one entity and one cause (its dedup key: e.g. an agent token and a network, a reader and its sweep). " +
    'The first evidence opens an incident and raises a finding (activity Create). While the incident is open, new evidence about the same entity and cause updates that finding: ' +
    'the same `finding_info.uid`, activity Update, `related_events_count`, `last_seen_time`, and every secret, agent or other entity involved so far (up to 300 to act on and 30 for context). ' +
    'An Update is raised only when the evidence names a new entity to act on or raises the severity; containment acts on the entities an Update names for the first time ' +
    '(`resources[].data.since_update`), so every swept secret and every agent is acted on once. Other repeats only extend the incident.',
  "**When an incident closes.** When no new evidence arrives for the detector's `dedupWindowMinutes` (event time; 7 days for unusual-ip, so a network in use stays one finding until it is acknowledged, and 15 to 60 minutes for the others: see the configuration reference). " +
    'The next evidence after that opens a new incident and a new finding. An incident that keeps receiving evidence (a network used every day) stays one finding.',
  '**Learning period: what a brand-new identity or token can do silently in its first 24 h** (`learningPeriodHours`, from the first event that names it). ' +
    "unusual-ip learns every network it uses: a token or actor whose first use is from an attacker's network takes that network as its own (a Cluster Token Registration Blocked is still raised at once). " +
    'secret-access learns every secret a new reader reads: a new pipeline or person may read any number of secrets one by one without a new-secret finding; a sweep (10 distinct secrets in 10 minutes) is raised even then, except for declared `secretReaders`. ' +
    'token-spike has no baseline for a new token: its bursts are judged against the minimum only (50 agent registrations or 100 audit events in 10 minutes), and a recurring burst is new until seen on 3 days. ' +
    'The other detectors have no learning period. `kitewatch backfill` shortens it for everything the audit log shows (actors, API tokens, secret readers): run it over the last weeks before going live, on the same `--state`, and their first 24 h are history; agent tokens are learned from live agent events only.',
].join('\n\n');

/** The detector catalog (docs/detectors.md), generated from the detectors' metadata. */
export function detectorCatalogMarkdown(): string {
  const lines: string[] = ['| id | title | severity | MITRE ATT&CK | default thresholds | recommended containment |', '|---|---|---|---|---|---|'];
  for (const { meta: m } of DETECTORS) {
    lines.push(`| \`${m.id}\` | ${cell(m.title)} | ${cell(severityText(m))} | ${cell(m.attacks.map(attackText).join('; '))} | ${cell(m.defaultThresholds)} | ${cell(m.recommendedContainment)} |`);
  }
  lines.push('', INCIDENT_TEXT);
  for (const { meta: m } of DETECTORS) {
    lines.push('', `### \`${m.id}\`: ${m.title}`, '', m.description, '', `Targets: ${m.targets.join(', ')}. Configure under \`detectors.${m.id}\`.`, '', '**Check**', '');
    for (const c of m.runbook.check) lines.push(`- ${c}`);
    lines.push('', '**Act**', '');
    for (const a of m.runbook.act) lines.push(`- ${a}`);
  }
  return `${lines.join('\n')}\n`;
}
