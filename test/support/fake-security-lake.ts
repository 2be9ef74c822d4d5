import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local HTTP server that plays the three Amazon Security Lake REST operations Kitewatch calls,
 * as the API reference documents them (restJson1, service `securitylake`, API version 2018-05-10):
 *
 * - CreateCustomLogSource  POST   /v1/datalake/logsources/custom             -> 200 {source: CustomLogSourceResource}
 * - DeleteCustomLogSource  DELETE /v1/datalake/logsources/custom/{sourceName}?sourceVersion= -> 200 {}
 * - ListLogSources         POST   /v1/datalake/logsources/list               -> 200 {sources: [{account, region, sources: [LogSourceResource]}]}
 *
 * Errors are the documented shapes: HTTP status plus `x-amzn-ErrorType` and `{message}`
 * (AccessDeniedException 403, BadRequestException 400, ConflictException 409,
 * ResourceNotFoundException 404). moto (5.2.5 here) has no Security Lake backend, so the
 * registration handler is tested against this instead.
 * https://docs.aws.amazon.com/security-lake/latest/APIReference/API_CreateCustomLogSource.html
 * https://docs.aws.amazon.com/security-lake/latest/APIReference/API_DeleteCustomLogSource.html
 * https://docs.aws.amazon.com/security-lake/latest/APIReference/API_ListLogSources.html
 */

export interface FakeCustomSource {
  readonly sourceName: string;
  readonly sourceVersion?: string | undefined;
  readonly eventClasses?: readonly string[] | undefined;
  readonly crawlerRoleArn: string;
  readonly principal: string;
  readonly externalId: string;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly body: unknown;
  readonly signed: boolean;
}

export interface FakeSecurityLake {
  readonly endpoint: string;
  readonly sources: Map<string, FakeCustomSource>;
  readonly calls: RecordedCall[];
  /** Operations answered with AccessDeniedException, as IAM would without the grant. */
  readonly deny: Set<'CreateCustomLogSource' | 'DeleteCustomLogSource' | 'ListLogSources'>;
  /** When false, CreateCustomLogSource answers ResourceNotFoundException (Security Lake not enabled in the region). */
  dataLakeEnabled: boolean;
  close(): Promise<void>;
}

const EVENT_CLASS = /^[A-Z_0-9]*$/;
const SOURCE_NAME = /^[\w\-_:.]*$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

const key = (name: string, version: string | undefined): string => `${name}\u0000${version ?? ''}`;

function providerRole(account: string, region: string, name: string): string {
  return `arn:aws:iam::${account}:role/AmazonSecurityLake-Provider-${name}-${region}`;
}

export async function startFakeSecurityLake(opts: { readonly account: string; readonly region: string; readonly bucket: string }): Promise<FakeSecurityLake> {
  const sources = new Map<string, FakeCustomSource>();
  const calls: RecordedCall[] = [];
  const deny = new Set<'CreateCustomLogSource' | 'DeleteCustomLogSource' | 'ListLogSources'>();
  const state = { dataLakeEnabled: true };

  const resource = (s: FakeCustomSource): Record<string, unknown> => ({
    sourceName: s.sourceName,
    ...(s.sourceVersion === undefined ? {} : { sourceVersion: s.sourceVersion }),
    provider: { roleArn: providerRole(opts.account, opts.region, s.sourceName), location: `s3://${opts.bucket}/ext/${s.sourceName}/${s.sourceVersion === undefined ? '' : `${s.sourceVersion}/`}` },
    attributes: {
      crawlerArn: `arn:aws:glue:${opts.region}:${opts.account}:crawler/${s.sourceName}`,
      databaseArn: `arn:aws:glue:${opts.region}:${opts.account}:database/amazon_security_lake_glue_db_${opts.region.replaceAll('-', '_')}`,
      tableArn: `arn:aws:glue:${opts.region}:${opts.account}:table/amazon_security_lake_table_${opts.region.replaceAll('-', '_')}_ext_${s.sourceName}`,
    },
  });

  const send = (res: ServerResponse, status: number, body: unknown, errorType?: string): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }) });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, type: string, message: string): void => send(res, status, { message }, type);

  const handle = (req: IncomingMessage, res: ServerResponse, raw: string): void => {
    const url = new URL(req.url ?? '/', 'http://fake');
    let body: unknown = {};
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw) as unknown;
      } catch {
        fail(res, 400, 'BadRequestException', 'body is not JSON');
        return;
      }
    }
    const signed = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/securitylake\/aws4_request/.test(req.headers.authorization ?? '');
    calls.push({ method: req.method ?? '', path: url.pathname + url.search, body, signed });
    if (!signed) {
      fail(res, 403, 'AccessDeniedException', 'request is not signed for securitylake');
      return;
    }

    if (req.method === 'POST' && url.pathname === '/v1/datalake/logsources/custom') {
      if (deny.has('CreateCustomLogSource')) return fail(res, 403, 'AccessDeniedException', 'User is not authorized to perform: securitylake:CreateCustomLogSource');
      if (!state.dataLakeEnabled) return fail(res, 404, 'ResourceNotFoundException', 'Security Lake is not enabled in this Region');
      const b = body as {
        sourceName?: string;
        sourceVersion?: string;
        eventClasses?: unknown;
        configuration?: { crawlerConfiguration?: { roleArn?: string }; providerIdentity?: { principal?: string; externalId?: string } };
      };
      const name = b.sourceName;
      if (typeof name !== 'string' || name.length < 1 || name.length > 64 || !SOURCE_NAME.test(name)) return fail(res, 400, 'BadRequestException', 'sourceName is invalid');
      if (b.sourceVersion !== undefined && !/^[A-Za-z0-9\-._]{1,32}$/.test(b.sourceVersion)) return fail(res, 400, 'BadRequestException', 'sourceVersion is invalid');
      if (b.eventClasses !== undefined && (!Array.isArray(b.eventClasses) || !b.eventClasses.every((c) => typeof c === 'string' && EVENT_CLASS.test(c)))) {
        return fail(res, 400, 'BadRequestException', 'eventClasses is invalid');
      }
      const roleArn = b.configuration?.crawlerConfiguration?.roleArn;
      const principal = b.configuration?.providerIdentity?.principal;
      const externalId = b.configuration?.providerIdentity?.externalId;
      if (typeof roleArn !== 'string' || !ROLE_ARN.test(roleArn)) return fail(res, 400, 'BadRequestException', 'configuration.crawlerConfiguration.roleArn is invalid');
      if (typeof principal !== 'string' || typeof externalId !== 'string') return fail(res, 400, 'BadRequestException', 'configuration.providerIdentity is required');
      if (sources.has(key(name, b.sourceVersion))) return send(res, 409, { message: `custom source ${name} already exists`, resourceName: name, resourceType: 'CustomLogSource' }, 'ConflictException');
      const source: FakeCustomSource = { sourceName: name, sourceVersion: b.sourceVersion, eventClasses: b.eventClasses as string[] | undefined, crawlerRoleArn: roleArn, principal, externalId };
      sources.set(key(name, b.sourceVersion), source);
      return send(res, 200, { source: resource(source) });
    }

    const del = /^\/v1\/datalake\/logsources\/custom\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && del !== null) {
      if (deny.has('DeleteCustomLogSource')) return fail(res, 403, 'AccessDeniedException', 'User is not authorized to perform: securitylake:DeleteCustomLogSource');
      const name = decodeURIComponent(del[1] ?? '');
      const version = url.searchParams.get('sourceVersion') ?? undefined;
      if (!sources.delete(key(name, version))) return fail(res, 404, 'ResourceNotFoundException', `custom source ${name} does not exist`);
      return send(res, 200, {});
    }

    if (req.method === 'POST' && url.pathname === '/v1/datalake/logsources/list') {
      if (deny.has('ListLogSources')) return fail(res, 403, 'AccessDeniedException', 'User is not authorized to perform: securitylake:ListLogSources');
      const wanted = ((body as { sources?: { customLogSource?: { sourceName?: string; sourceVersion?: string } }[] }).sources ?? []).flatMap((s) =>
        s.customLogSource === undefined ? [] : [s.customLogSource],
      );
      const matching = [...sources.values()].filter(
        (s) => wanted.length === 0 || wanted.some((w) => w.sourceName === s.sourceName && (w.sourceVersion === undefined || w.sourceVersion === s.sourceVersion)),
      );
      return send(res, 200, { sources: [{ account: opts.account, region: opts.region, sources: matching.map((s) => ({ customLogSource: resource(s) })) }] });
    }
    fail(res, 404, 'ResourceNotFoundException', `no route ${req.method ?? ''} ${url.pathname}`);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    sources,
    calls,
    deny,
    get dataLakeEnabled() {
      return state.dataLakeEnabled;
    },
    set dataLakeEnabled(v: boolean) {
      state.dataLakeEnabled = v;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e === undefined ? resolve() : reject(e)))),
  };
}
