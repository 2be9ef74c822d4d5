import * as z from 'zod';
import { CidrError, parseCidr } from '../enrich/cidr.ts';

/**
 * `detectors.<id>` in kitewatch.config.json: one strict block per detector id, every key with
 * a default and a description (the README's configuration reference is generated from them).
 * An unknown detector id or an unknown key inside a block is an error that names it.
 * Owned by the detections module (issue 4).
 */

const enabled = z.boolean().default(true).describe('Turn the detector off without removing its config.');

function dedupWindow(minutes: number) {
  return z
    .number()
    .int()
    .positive()
    .max(60 * 24 * 30)
    .default(minutes)
    .describe('Do not raise the same finding for the same entity again inside this many minutes (event time).');
}

const identities = (what: string) =>
  z
    .array(z.string().min(1))
    .default([])
    .describe(`${what}: Buildkite user uuids or names (names compare case-insensitively).`);

const cidr = z.string().superRefine((value, ctx) => {
  try {
    parseCidr(value);
  } catch (error) {
    if (!(error instanceof CidrError)) throw error;
    ctx.addIssue({ code: 'custom', message: `${error.message}, e.g. 203.0.113.0/24 or 2001:db8::/32` });
  }
});

const isoTime = z.iso.datetime({ offset: true }).describe('ISO 8601 date-time, e.g. 2026-03-10T14:00:00Z.');

export const UnusualIpConfig = z
  .object({
    enabled,
    dedupWindowMinutes: dedupWindow(24 * 60),
    learningPeriodHours: z
      .number()
      .min(0)
      .default(24)
      .describe('Hours after an entity is first seen during which its networks are learned silently.'),
    networkMemoryDays: z
      .number()
      .int()
      .positive()
      .default(90)
      .describe('A network (ASN or country) not used by the entity for this many days is forgotten and becomes new again.'),
    allowedCidrs: z
      .array(cidr)
      .default([])
      .describe('Addresses that are never unusual (offices, NAT gateways, VPN egress), as CIDR ranges or single IPs.'),
    entities: z
      .array(z.enum(['agentToken', 'apiToken', 'actor']))
      .default(['agentToken', 'apiToken', 'actor'])
      .describe('Which entities are watched: agent tokens (agent registrations), API tokens and actors (audit log).'),
    ignoreActors: identities('Actors whose network is not tracked (e.g. a SaaS integration that calls from anywhere)'),
    blockedRegistrations: z
      .boolean()
      .default(true)
      .describe('Raise Agent Blocked and Cluster Token Registration Blocked (a token used outside its allowed IPs) at once.'),
  })
  .strict()
  .describe('unusual-ip: an actor, API token or agent token acting from a network it has not used before.');

export const TokenSpikeConfig = z
  .object({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    windowMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(10)
      .describe('Length of the counting window in minutes (counts use a sliding estimate over two windows).'),
    alpha: z
      .number()
      .gt(0)
      .max(1)
      .default(0.3)
      .describe('EWMA weight of the newest window in the baseline (0-1; higher forgets faster). Only windows with activity update it.'),
    factor: z
      .number()
      .min(1)
      .default(4)
      .describe('A window is a spike when its count is at least this many times the baseline (and at least the minimum).'),
    minAgentRegistrations: z
      .number()
      .int()
      .positive()
      .default(50)
      .describe('Agent registrations per window on one agent token below which nothing is raised, whatever the baseline.'),
    minAuditEvents: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe('Audit events per window by one actor or API token below which nothing is raised, whatever the baseline.'),
    maxImplicatedAgents: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(50)
      .describe('At most this many agents of the burst are named as implicated (most recent first; the finding counts all). The token roster holds 100.'),
  })
  .strict()
  .describe('token-spike: one token or actor used far above its own baseline.');

export const SecretAccessConfig = z
  .object({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    learningPeriodHours: z
      .number()
      .min(0)
      .default(24)
      .describe('Hours after a reader (pipeline or actor) is first seen during which the secrets it reads are learned silently.'),
    memoryDays: z
      .number()
      .int()
      .positive()
      .default(90)
      .describe('A secret not read by a reader for this many days is forgotten and becomes new again.'),
    sweepDistinctSecrets: z
      .number()
      .int()
      .min(2)
      .default(10)
      .describe('Distinct secrets read by one reader inside the sweep window that make a sweep.'),
    sweepWindowMinutes: z.number().int().positive().default(10).describe('Sweep window in minutes.'),
    secretWriters: identities('Who is expected to update secret values or delete secrets (rotation jobs, IaC)'),
  })
  .strict()
  .describe('secret-access: secret reads that break the reader\'s pattern; secret changes by unexpected actors.');

export const BreakGlassWindow = z
  .object({
    actors: z.array(z.string().min(1)).min(1).describe('Who works under the procedure: user uuids or names.'),
    start: isoTime,
    end: isoTime,
    reason: z.string().min(1).describe('Ticket or incident reference, quoted in the findings.'),
  })
  .strict()
  .refine((w) => Date.parse(w.end) > Date.parse(w.start), { message: 'end must be after start', path: ['end'] });

export const BreakGlassEditConfig = z
  .object({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    iacActors: identities('Infrastructure-as-code identities whose changes are expected (Terraform, Pulumi service users)'),
    breakGlassActors: identities('Dedicated break-glass accounts: their changes are reported at informational severity'),
    breakGlassWindows: z
      .array(BreakGlassWindow)
      .default([])
      .describe('Declared break-glass procedures: changes by these actors inside [start, end) are reported at informational severity.'),
    ignoredTypes: z
      .array(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'an audit event type such as PIPELINE_UPDATED'))
      .default([])
      .describe('Audit event types not to report even when made outside IaC.'),
  })
  .strict()
  .describe('break-glass-edit: configuration changes made outside infrastructure as code.');

export const MonitoringDisabledConfig = z
  .object({
    enabled,
    dedupWindowMinutes: dedupWindow(15),
    eventBridgeNotificationServices: z
      .array(z.string().min(1))
      .default([])
      .describe('Uuids or names of the notification service(s) that feed Kitewatch, when they do not say "EventBridge" in their type or name.'),
  })
  .strict()
  .describe('monitoring-disabled: anything that blinds Kitewatch or weakens sign-in security.');

export const DetectorsConfig = z
  .object({
    'unusual-ip': UnusualIpConfig.prefault({}),
    'token-spike': TokenSpikeConfig.prefault({}),
    'secret-access': SecretAccessConfig.prefault({}),
    'break-glass-edit': BreakGlassEditConfig.prefault({}),
    'monitoring-disabled': MonitoringDisabledConfig.prefault({}),
  })
  .strict()
  .prefault({})
  .describe('Per-detector settings, keyed by detector id (see the detector catalog).');

export type DetectorsConfig = z.infer<typeof DetectorsConfig>;
export type DetectorId = keyof DetectorsConfig;
export type UnusualIpConfig = z.infer<typeof UnusualIpConfig>;
export type TokenSpikeConfig = z.infer<typeof TokenSpikeConfig>;
export type SecretAccessConfig = z.infer<typeof SecretAccessConfig>;
export type BreakGlassEditConfig = z.infer<typeof BreakGlassEditConfig>;
export type MonitoringDisabledConfig = z.infer<typeof MonitoringDisabledConfig>;

/** The schema of each detector's block, by id (the case runner validates case overrides with it). */
export const DETECTOR_CONFIG_SCHEMAS = {
  'unusual-ip': UnusualIpConfig,
  'token-spike': TokenSpikeConfig,
  'secret-access': SecretAccessConfig,
  'break-glass-edit': BreakGlassEditConfig,
  'monitoring-disabled': MonitoringDisabledConfig,
} as const;

export const DETECTOR_IDS = Object.keys(DETECTOR_CONFIG_SCHEMAS) as DetectorId[];
