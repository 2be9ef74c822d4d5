import * as z from 'zod/mini';
import '../config/zod-en.ts';
import { CidrError, parseCidr } from '../enrich/cidr.ts';
import { isUuid, quoteId } from '../contracts/ids.ts';

/**
 * `detectors.<id>` in kitewatch.config.json: one strict block per detector id, every key with
 * a default and a description (docs/configuration.md is generated from them).
 * An unknown detector id or an unknown key inside a block is an error that names it.
 * Owned by the detections module: each detector's block sits beside its code.
 */

const enabled = z._default(z.boolean(), true).check(z.describe('Turn the detector off without removing its config.'));

function dedupWindow(minutes: number) {
  return z
    ._default(z.int().check(z.positive(), z.lte(60 * 24 * 30)), minutes)
    .check(
      z.describe(
        'Incident window: new evidence about the same entity and cause within this many minutes (event time) of the last updates the open finding instead of raising a new one; after this many minutes without new evidence the incident closes.',
      ),
    );
}

/**
 * One identity in an allow-list: a Buildkite UUID, or `{ uuid, note }` to say who it is. Never a
 * name: users pick their own display names, so a user renamed "Terraform-Cloud" would pass as
 * the IaC identity. A name here is a config error that says so.
 */
export const IdentityEntry = z
  .union(
    [
      z.string(),
      z.strictObject({
        uuid: z.string().check(z.describe('The Buildkite UUID.')),
        note: z.optional(z.string()).check(z.describe('Who this is, for people reading the config (never compared).')),
      }),
    ],
    { error: 'must be a Buildkite UUID or { "uuid": "...", "note": "..." }' },
  )
  .check(
    // Checked on the union, so a name gets this message rather than zod's "invalid input".
    z.superRefine((entry, ctx) => {
      const value = typeof entry === 'string' ? entry : entry.uuid;
      if (!isUuid(value)) ctx.addIssue({ code: 'custom', message: notUuid(value), path: typeof entry === 'string' ? [] : ['uuid'] });
    }),
  );
export type IdentityEntry = z.infer<typeof IdentityEntry>;

function notUuid(value: string): string {
  return (
    `${quoteId(value)} is not a UUID. Identity lists hold Buildkite UUIDs only, because names are chosen by the users themselves ` +
    '(anyone can rename themself to match). Use the uuid, e.g. { "uuid": "0190e6b6-3c3d-4a5b-9d1e-2f4a6b8c0d1e", "note": "the name" }'
  );
}

/** An allow-list of identities (see IdentityEntry); other modules use it for their own lists. */
export const identityList = (what: string) =>
  z._default(z.array(IdentityEntry), []).check(z.describe(`${what}: Buildkite UUIDs, each a string or { "uuid", "note" } (never names: users choose those).`));

const identities = identityList;

const cidr = z.string().check(
  z.superRefine((value, ctx) => {
    try {
      parseCidr(value);
    } catch (error) {
      if (!(error instanceof CidrError)) throw error;
      ctx.addIssue({ code: 'custom', message: `${error.message}, e.g. 203.0.113.0/24 or 2001:db8::/32` });
    }
  }),
);

const isoTime = z.iso.datetime({ offset: true }).check(z.describe('ISO 8601 date-time, e.g. 2026-03-10T14:00:00Z.'));

const d = (text: string) => z.describe(text);

export const UnusualIpConfig = z
  .strictObject({
    enabled,
    // A network in use stays one incident until it is acknowledged or unused for a week.
    dedupWindowMinutes: dedupWindow(7 * 24 * 60),
    learningPeriodHours: z._default(z.number().check(z.gte(0)), 24).check(d('Hours after an entity is first seen during which its networks are learned silently.')),
    networkMemoryDays: z._default(z.int().check(z.positive()), 90).check(d('A network (ASN or country) not used by the entity for this many days is forgotten and becomes new again.')),
    allowedCidrs: z._default(z.array(cidr), []).check(d('Addresses that are never unusual (offices, NAT gateways, VPN egress), as CIDR ranges or single IPs.')),
    entities: z
      ._default(z.array(z.enum(['agentToken', 'apiToken', 'actor'])), ['agentToken', 'apiToken', 'actor'])
      .check(d('Which entities are watched: agent tokens (agent registrations), API tokens and actors (audit log).')),
    ignoreActors: identities('Actors whose network is not tracked (e.g. a SaaS integration that calls from anywhere)'),
    acknowledged: z
      ._default(
        z.array(
          z.strictObject({
            entity: z.string().check(z.regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'the uuid of the agent token, API token or actor')),
            networks: z
              .array(
                z.string().check(z.regex(/^(AS\d+|[A-Z]{2}|(aws|gcp|azure):[a-z0-9-]+)$/, 'AS<number>, a two-letter country code, or <aws|gcp|azure>:<region> (e.g. AS16509, SG, aws:ap-southeast-1)')),
              )
              .check(z.minLength(1)),
            note: z.optional(z.string()),
          }),
        ),
        [],
      )
      .check(d('Networks confirmed as expected for an entity (a finding acknowledged in config): they are known to it from now on. The same as `kitewatch detections ack` records in state.')),
    blockedRegistrations: z._default(z.boolean(), true).check(d('Raise Agent Blocked and Cluster Token Registration Blocked (a token used outside its allowed IPs) at once.')),
  })
  .check(d('unusual-ip: an actor, API token or agent token acting from a network it has not used before.'));

export const TokenSpikeConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    windowMinutes: z._default(z.int().check(z.gte(1), z.lte(24 * 60)), 10).check(d('Length of the counting window in minutes (counts use a sliding estimate over two windows).')),
    alpha: z._default(z.number().check(z.gt(0), z.lte(1)), 0.3).check(d('EWMA weight of the newest window in the baseline (0-1; higher forgets faster). Only windows with activity update it.')),
    factor: z._default(z.number().check(z.gte(1)), 4).check(d('A window is a spike when its count is at least this many times the baseline (and at least the minimum).')),
    minAgentRegistrations: z._default(z.int().check(z.positive()), 50).check(d('Agent registrations per window on one agent token below which nothing is raised, whatever the baseline.')),
    minAuditEvents: z._default(z.int().check(z.positive()), 100).check(d('Audit events per window by one actor or API token below which nothing is raised, whatever the baseline.')),
    maxImplicatedAgents: z
      ._default(z.int().check(z.gte(0), z.lte(100)), 50)
      .check(d('At most this many agents of the burst are named as implicated (most recent first; the finding counts all). The token roster holds 100.')),
  })
  .check(d('token-spike: one token or actor used far above its own baseline.'));

export const SecretAccessConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    learningPeriodHours: z._default(z.number().check(z.gte(0)), 24).check(d('Hours after a reader (pipeline or actor) is first seen during which the secrets it reads are learned silently.')),
    memoryDays: z._default(z.int().check(z.positive()), 90).check(d('A secret not read by a reader for this many days is forgotten and becomes new again.')),
    sweepDistinctSecrets: z._default(z.int().check(z.gte(2)), 10).check(d('Distinct secrets read by one reader inside the sweep window that make a sweep.')),
    sweepWindowMinutes: z._default(z.int().check(z.positive()), 10).check(d('Sweep window in minutes.')),
    secretWriters: identities('Who is expected to create secrets, update their values, delete them or grant them to teams (rotation jobs, IaC)'),
    enumerationQueries: z._default(z.int().check(z.gte(2)), 25).check(d('SECRET_QUERIED events by one reader inside the enumeration window that make an enumeration.')),
    enumerationWindowMinutes: z._default(z.int().check(z.positive(), z.lte(24 * 60)), 10).check(d('Enumeration window in minutes.')),
    secretReaders: identities(
      'Declared bulk readers (rotation or backup identities: a user, or a pipeline) whose reads of many secrets are expected; they raise no sweep finding. New-secret findings and unusual-ip still apply to them',
    ),
  })
  .check(d("secret-access: secret reads that break the reader's pattern; secret changes by unexpected actors."));

export const BreakGlassWindow = z
  .strictObject({
    actors: z.array(IdentityEntry).check(z.minLength(1), d('Who works under the procedure: Buildkite user UUIDs, each a string or { "uuid", "note" }.')),
    start: isoTime,
    end: isoTime,
    reason: z.string().check(z.minLength(1), d('Ticket or incident reference, quoted in the findings.')),
  })
  .check(z.refine((w) => Date.parse(w.end) > Date.parse(w.start), { message: 'end must be after start', path: ['end'] }));

export const BreakGlassEditConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    iacActors: identities('Infrastructure-as-code identities whose changes are expected (Terraform, Pulumi service users)'),
    breakGlassActors: identities('Dedicated break-glass accounts: their changes are reported at informational severity'),
    breakGlassWindows: z._default(z.array(BreakGlassWindow), []).check(d('Declared break-glass procedures: changes by these actors inside [start, end) are reported at informational severity.')),
    ignoredTypes: z
      ._default(z.array(z.string().check(z.regex(/^[A-Z][A-Z0-9_]*$/, 'an audit event type such as PIPELINE_UPDATED'))), [])
      .check(d('Audit event types not to report even when made outside IaC.')),
  })
  .check(d('break-glass-edit: configuration changes made outside infrastructure as code.'));

export const MonitoringDisabledConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(15),
    eventBridgeNotificationServices: z
      ._default(z.array(IdentityEntry), [])
      .check(
        d(
          'UUIDs of the notification service(s) that feed Kitewatch, when they do not say "EventBridge" in their type or name (a string or { "uuid", "note" }; names can be changed, so they are not accepted).',
        ),
      ),
  })
  .check(d('monitoring-disabled: anything that blinds Kitewatch or weakens sign-in security.'));

export const PrivilegeGrantConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    iacActors: identities('Identities whose grants are expected (the IaC or SCIM identity that manages members and teams)'),
    teamMaintainers: z._default(z.boolean(), true).check(d("Also report grants of a team maintainer role (maintainers manage the team's pipelines and members).")),
  })
  .check(d('privilege-grant: organization admin or team maintainer rights granted outside IaC.'));

export const ThirdPartyAccessConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    iacActors: identities('Identities whose third-party grants are expected (the IaC identity that registers API applications)'),
    ignoredTypes: z
      ._default(z.array(z.string().check(z.regex(/^[A-Z][A-Z0-9_]*$/, 'an audit event type such as PORTAL_TOKEN_CREATED'))), [])
      .check(d('Audit event types not to report (e.g. PORTAL_TOKEN_CREATED where portals are routine).')),
  })
  .check(d('third-party-access: OAuth and API applications, portal tokens and impersonation.'));

export const InteractiveSessionConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    sensitivePipelines: z
      ._default(z.array(z.string().check(z.minLength(1))), [])
      .check(d('Pipelines (uuids, or slugs compared case-insensitively) where a shell inside a job is High (deploys, releases, signing).')),
  })
  .check(d('interactive-session: someone opened a terminal inside a running job.'));

export const AccountTakeoverConfig = z
  .strictObject({
    enabled,
    dedupWindowMinutes: dedupWindow(60),
    windowMinutes: z
      ._default(z.int().check(z.gte(1), z.lte(7 * 24 * 60)), 60)
      .check(d('Steps on one user (new email, primary email, password reset, TOTP removed or added) inside this many minutes are counted together.')),
    minSteps: z._default(z.int().check(z.gte(2)), 2).check(d('Distinct steps inside the window that make a takeover (one step from a network new to the user is enough on its own).')),
  })
  .check(d('account-takeover: account recovery steps on one user in quick succession, or from a new network.'));

export const DetectorsConfig = z
  .prefault(
    z.strictObject({
      'unusual-ip': z.prefault(UnusualIpConfig, {}),
      'token-spike': z.prefault(TokenSpikeConfig, {}),
      'secret-access': z.prefault(SecretAccessConfig, {}),
      'break-glass-edit': z.prefault(BreakGlassEditConfig, {}),
      'monitoring-disabled': z.prefault(MonitoringDisabledConfig, {}),
      'privilege-grant': z.prefault(PrivilegeGrantConfig, {}),
      'third-party-access': z.prefault(ThirdPartyAccessConfig, {}),
      'interactive-session': z.prefault(InteractiveSessionConfig, {}),
      'account-takeover': z.prefault(AccountTakeoverConfig, {}),
    }),
    {},
  )
  .check(d('Per-detector settings, keyed by detector id (see the detector catalog).'));

export type DetectorsConfig = z.infer<typeof DetectorsConfig>;
export type DetectorId = keyof DetectorsConfig;
export type UnusualIpConfig = z.infer<typeof UnusualIpConfig>;
export type TokenSpikeConfig = z.infer<typeof TokenSpikeConfig>;
export type SecretAccessConfig = z.infer<typeof SecretAccessConfig>;
export type BreakGlassEditConfig = z.infer<typeof BreakGlassEditConfig>;
export type MonitoringDisabledConfig = z.infer<typeof MonitoringDisabledConfig>;
export type PrivilegeGrantConfig = z.infer<typeof PrivilegeGrantConfig>;
export type ThirdPartyAccessConfig = z.infer<typeof ThirdPartyAccessConfig>;
export type InteractiveSessionConfig = z.infer<typeof InteractiveSessionConfig>;
export type AccountTakeoverConfig = z.infer<typeof AccountTakeoverConfig>;

/** The schema of each detector's block, by id (the case runner validates case overrides with it). */
export const DETECTOR_CONFIG_SCHEMAS = {
  'unusual-ip': UnusualIpConfig,
  'token-spike': TokenSpikeConfig,
  'secret-access': SecretAccessConfig,
  'break-glass-edit': BreakGlassEditConfig,
  'monitoring-disabled': MonitoringDisabledConfig,
  'privilege-grant': PrivilegeGrantConfig,
  'third-party-access': ThirdPartyAccessConfig,
  'interactive-session': InteractiveSessionConfig,
  'account-takeover': AccountTakeoverConfig,
} as const;

export const DETECTOR_IDS = Object.keys(DETECTOR_CONFIG_SCHEMAS) as DetectorId[];
