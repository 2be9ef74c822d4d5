import type { Logger } from '@aws-lambda-powertools/logger';
import { CreateCustomLogSourceCommand, DeleteCustomLogSourceCommand, ListLogSourcesCommand, type CustomLogSourceResource, type SecurityLakeClient } from '@aws-sdk/client-securitylake';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { describeIssues } from '../../lib/config/issues.ts';
import { SECURITY_LAKE_EVENT_CLASSES, sourceNameProblem } from '../../lib/forward/security-lake.ts';

/**
 * The Security Lake custom source registration behind `Custom::KitewatchSecurityLakeSource`:
 * CloudFormation has no resource type for a custom source, so this calls CreateCustomLogSource and
 * DeleteCustomLogSource. One resource is one source (one OCSF class). Idempotent both ways:
 * creating a source that exists adopts it, deleting one that is gone succeeds. The answer always
 * carries a reason CloudFormation shows on the stack event.
 */

/** The resource properties, as the construct sets them (CloudFormation passes every scalar as a string). */
const DOCUMENTED_EVENT_CLASSES = new Set(Object.values(SECURITY_LAKE_EVENT_CLASSES).filter((c): c is string => c !== null));

export const SourceProperties = z.object({
  SourceName: z.string().check(z.refine((name) => sourceNameProblem(name) === undefined, { message: 'is not a Security Lake custom source name (at most 20 of letters, digits, _ . -)' })),
  SourceVersion: z.optional(z.string().check(z.regex(/^[A-Za-z0-9._-]{1,32}$/))),
  /** Empty for a class Security Lake's documented list lacks: the source is registered without one. */
  EventClasses: z.optional(z.array(z.string().check(z.refine((c) => DOCUMENTED_EVENT_CLASSES.has(c), { message: 'is not an event class Kitewatch registers' })))),
  CrawlerRoleArn: z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, 'must be an IAM role ARN')),
  ProviderPrincipal: z.string().check(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id')),
  ExternalId: z.string().check(z.regex(/^[\w+=,.@:/-]{2,1224}$/, 'must be 2-1224 of letters, digits and +=,.@:/-')),
});
export type SourceProperties = z.infer<typeof SourceProperties>;

export interface CustomResourceResult {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly PhysicalResourceId: string;
  readonly Reason?: string;
  readonly Data?: Readonly<Record<string, string>>;
}

export interface LakeSourcesDeps {
  readonly client: Pick<SecurityLakeClient, 'send'>;
  /** This account and region: where the sources are registered and listed. */
  readonly account: string;
  readonly region: string;
  readonly logger: Pick<Logger, 'info' | 'warn' | 'error'>;
}

/** CloudFormation keeps at most 4 KB of response; the reason stays well inside it. */
const REASON_MAX = 1000;

/** The physical id of a source: its name, and its version when it has one. */
export function physicalId(p: Pick<SourceProperties, 'SourceName' | 'SourceVersion'>): string {
  return p.SourceVersion === undefined ? p.SourceName : `${p.SourceName}/${p.SourceVersion}`;
}

class PropertiesError extends Error {
  override readonly name = 'PropertiesError';
}

function parseProperties(raw: unknown, which: string): SourceProperties {
  const parsed = SourceProperties.safeParse(raw);
  if (!parsed.success) throw new PropertiesError(`${which} are invalid: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

const errorName = (e: unknown): string => (e as { name?: unknown } | null)?.name?.toString() ?? 'Error';
const errorMessage = (e: unknown): string => (e as { message?: unknown } | null)?.message?.toString() ?? String(e);

/** What the stack event says when Security Lake refuses: the operation, the source, the error, and what to do. */
function refusal(operation: string, p: SourceProperties, e: unknown): string {
  const name = errorName(e);
  const hint =
    name === 'AccessDeniedException'
      ? ` The registration function's role needs securitylake:${operation} on the data lake and the permissions Security Lake uses on the caller's behalf (docs/deploy.md, Security Lake); where Lake Formation governs the catalog, the role must also be a Lake Formation data lake administrator.`
      : name === 'ResourceNotFoundException' && operation === 'CreateCustomLogSource'
        ? ' Is Security Lake enabled in this account and Region? Register the sources where the lake lives, or set securityLake.register to false.'
        : '';
  return `Security Lake ${operation} of custom source ${physicalId(p)} failed: ${name}: ${errorMessage(e)}.${hint}`;
}

function dataOf(p: SourceProperties, source: CustomLogSourceResource | undefined): Record<string, string> {
  return {
    SourceName: p.SourceName,
    ...(source?.provider?.roleArn === undefined ? {} : { ProviderRoleArn: source.provider.roleArn }),
    ...(source?.provider?.location === undefined ? {} : { Location: source.provider.location }),
  };
}

export function createLakeSources(deps: LakeSourcesDeps) {
  const find = async (p: SourceProperties): Promise<CustomLogSourceResource | undefined> => {
    const out = await deps.client.send(
      new ListLogSourcesCommand({
        accounts: [deps.account],
        regions: [deps.region],
        sources: [{ customLogSource: { sourceName: p.SourceName, ...(p.SourceVersion === undefined ? {} : { sourceVersion: p.SourceVersion }) } }],
      }),
    );
    for (const entry of out.sources ?? []) {
      for (const s of entry.sources ?? []) {
        const c = s.customLogSource;
        if (c?.sourceName === p.SourceName && (p.SourceVersion === undefined || c.sourceVersion === p.SourceVersion)) return c;
      }
    }
    return undefined;
  };

  /** Creates the source, or adopts it when it is already registered. */
  const ensure = async (p: SourceProperties): Promise<CustomLogSourceResource | undefined> => {
    try {
      const out = await deps.client.send(
        new CreateCustomLogSourceCommand({
          sourceName: p.SourceName,
          ...(p.SourceVersion === undefined ? {} : { sourceVersion: p.SourceVersion }),
          ...(p.EventClasses === undefined || p.EventClasses.length === 0 ? {} : { eventClasses: [...p.EventClasses] }),
          configuration: {
            crawlerConfiguration: { roleArn: p.CrawlerRoleArn },
            providerIdentity: { principal: p.ProviderPrincipal, externalId: p.ExternalId },
          },
        }),
      );
      deps.logger.info('custom source created', { source: physicalId(p) });
      return out.source;
    } catch (e) {
      // Security Lake answers ConflictException for a name it has; anything else is a real refusal.
      if (errorName(e) !== 'ConflictException') throw new Error(refusal('CreateCustomLogSource', p, e), { cause: e });
      const existing = await find(p).catch((cause: unknown) => {
        throw new Error(refusal('ListLogSources', p, cause), { cause });
      });
      if (existing === undefined) throw new Error(refusal('CreateCustomLogSource', p, e), { cause: e });
      deps.logger.info('custom source already registered: adopted', { source: physicalId(p) });
      return existing;
    }
  };

  /** Deletes the source; one that is already gone counts as deleted. */
  const remove = async (p: SourceProperties): Promise<void> => {
    try {
      await deps.client.send(new DeleteCustomLogSourceCommand({ sourceName: p.SourceName, ...(p.SourceVersion === undefined ? {} : { sourceVersion: p.SourceVersion }) }));
      deps.logger.info('custom source deleted', { source: physicalId(p) });
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') {
        deps.logger.info('custom source already gone', { source: physicalId(p) });
        return;
      }
      throw new Error(refusal('DeleteCustomLogSource', p, e), { cause: e });
    }
  };

  const sameRegistration = (a: SourceProperties, b: SourceProperties): boolean =>
    a.CrawlerRoleArn === b.CrawlerRoleArn &&
    a.ProviderPrincipal === b.ProviderPrincipal &&
    a.ExternalId === b.ExternalId &&
    JSON.stringify(a.EventClasses ?? []) === JSON.stringify(b.EventClasses ?? []);

  const handle = async (event: CloudFormationCustomResourceEvent): Promise<CustomResourceResult> => {
    switch (event.RequestType) {
      case 'Create': {
        const p = parseProperties(event.ResourceProperties, 'ResourceProperties');
        return { Status: 'SUCCESS', PhysicalResourceId: physicalId(p), Data: dataOf(p, await ensure(p)) };
      }
      case 'Update': {
        const p = parseProperties(event.ResourceProperties, 'ResourceProperties');
        const old = parseProperties(event.OldResourceProperties, 'OldResourceProperties');
        if (physicalId(p) !== physicalId(old)) {
          // A new name is a new source: create it and answer its id; CloudFormation then sends
          // Delete for the old id once the update succeeded (and never if it rolls back).
          return { Status: 'SUCCESS', PhysicalResourceId: physicalId(p), Data: dataOf(p, await ensure(p)) };
        }
        if (!sameRegistration(p, old)) {
          // Security Lake has no update call for a custom source: register it again under the same name.
          await remove(old);
        }
        return { Status: 'SUCCESS', PhysicalResourceId: physicalId(p), Data: dataOf(p, await ensure(p)) };
      }
      case 'Delete': {
        const parsed = SourceProperties.safeParse(event.ResourceProperties);
        // An id that is not this source's (a create that failed answered another) names nothing to delete.
        if (!parsed.success || event.PhysicalResourceId !== physicalId(parsed.data)) {
          deps.logger.info('nothing registered under this resource', { physicalResourceId: event.PhysicalResourceId });
          return { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId };
        }
        await remove(parsed.data);
        return { Status: 'SUCCESS', PhysicalResourceId: event.PhysicalResourceId };
      }
    }
  };

  return {
    /** Never throws: a failure is a FAILED answer with the reason. */
    handle: async (event: CloudFormationCustomResourceEvent): Promise<CustomResourceResult> => {
      try {
        return await handle(event);
      } catch (e) {
        deps.logger.error('custom source request failed', { requestType: event.RequestType, logicalResourceId: event.LogicalResourceId, error: errorMessage(e) });
        // Keep the old id on a failed update (CloudFormation rolls back to it); a failed create gets an id that names no source.
        const id = event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId;
        return { Status: 'FAILED', PhysicalResourceId: id, Reason: errorMessage(e).slice(0, REASON_MAX) };
      }
    },
  };
}

export type LakeSources = ReturnType<typeof createLakeSources>;

/** The response CloudFormation waits for: a PUT of JSON to the pre-signed ResponseURL (empty content type, as the URL was signed). */
export function responseBody(event: CloudFormationCustomResourceEvent, result: CustomResourceResult): string {
  return JSON.stringify({
    Status: result.Status,
    Reason: result.Reason ?? (result.Status === 'SUCCESS' ? 'OK' : 'failed'),
    PhysicalResourceId: result.PhysicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
    ...(result.Data === undefined ? {} : { Data: result.Data }),
  });
}

export async function sendResponse(event: CloudFormationCustomResourceEvent, result: CustomResourceResult, fetchImpl: typeof fetch = fetch): Promise<void> {
  const body = responseBody(event, result);
  const res = await fetchImpl(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) }, body });
  if (!res.ok) throw new Error(`CloudFormation did not take the response: HTTP ${res.status}`);
}
