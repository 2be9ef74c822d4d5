/**
 * A `cdk deploy` of a synthesized assembly onto moto's CloudFormation: the bootstrap resources the
 * templates expect, the file assets published where the asset manifests say, then CreateStack or
 * UpdateStack per stack in dependency order. The repo has no CloudFormation SDK client, and the
 * query protocol is a form POST with an XML answer, so it is spoken directly (moto does not check
 * signatures; the credential scope routes the request).
 *
 * What moto's CloudFormation does not do is either substituted (see NOT_EMULATED) or, for
 * CloudFormation's export-in-use rule, enforced here from what moto reports.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { CreateEventBusCommand, CreatePartnerEventSourceCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

export class CloudFormationError extends Error {
  override readonly name = 'CloudFormationError';
  readonly action: string;
  readonly code: string;

  constructor(action: string, code: string, message: string) {
    super(`${action}: ${code}: ${message}`);
    this.action = action;
    this.code = code;
  }
}

const decode = (s: string): string =>
  s
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');

/** Text of every `<tag>` element in `xml` (not nested in one another). */
export function xmlAll(xml: string, tag: string): string[] {
  return [...xml.matchAll(new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g'))].map((m) => m[1] as string);
}

export function xmlOne(xml: string, tag: string): string | undefined {
  const found = xmlAll(xml, tag)[0];
  return found === undefined ? undefined : decode(found);
}

/** The CloudFormation query API of a moto server, in one region (and account: moto's x-moto-account-id). */
export class CloudFormationApi {
  readonly endpoint: string;
  readonly region: string;
  readonly account: string | undefined;

  constructor(endpoint: string, region: string, account?: string) {
    this.endpoint = endpoint;
    this.region = region;
    this.account = account;
  }

  async call(action: string, params: Record<string, string | undefined> = {}): Promise<string> {
    const body = new URLSearchParams({ Action: action, Version: '2010-05-15' });
    for (const [k, v] of Object.entries(params)) if (v !== undefined) body.set(k, v);
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20261204/${this.region}/cloudformation/aws4_request, SignedHeaders=host, Signature=0`,
        ...(this.account === undefined ? {} : { 'x-moto-account-id': this.account }),
      },
      body,
    });
    const text = await res.text();
    if (!res.ok) {
      // A resource model's error comes in its own service's shape (XML or JSON); a crash in moto as an HTML page.
      const json = /^\s*\{/.test(text) ? (JSON.parse(text) as { __type?: string; message?: string; Message?: string }) : undefined;
      const code = xmlOne(text, 'Code') ?? json?.__type ?? `HTTP ${res.status}`;
      const message =
        xmlOne(text, 'Message') ??
        json?.message ??
        json?.Message ??
        `${text
          .replace(/<[^>]+>/g, ' ')
          .trim()
          .slice(0, 300)} (moto's log has the traceback)`;
      throw new CloudFormationError(action, code, message);
    }
    return text;
  }

  async stackStatus(stackName: string): Promise<string | undefined> {
    try {
      return xmlOne(await this.call('DescribeStacks', { StackName: stackName }), 'StackStatus');
    } catch (error) {
      if (error instanceof CloudFormationError && /does not exist/.test(error.message)) return undefined;
      throw error;
    }
  }

  /** Export name -> value of the stack's outputs, as CloudFormation evaluates them now. */
  async exportsOf(stackName: string): Promise<Map<string, string>> {
    const xml = await this.call('DescribeStacks', { StackName: stackName });
    const out = new Map<string, string>();
    for (const member of xmlAll(xmlAll(xml, 'Outputs')[0] ?? '', 'member')) {
      const name = xmlOne(member, 'ExportName');
      if (name !== undefined) out.set(name, xmlOne(member, 'OutputValue') ?? '');
    }
    return out;
  }

  async template(stackName: string): Promise<Template> {
    return JSON.parse(xmlOne(await this.call('GetTemplate', { StackName: stackName }), 'TemplateBody') ?? '{}') as Template;
  }

  /** Logical id -> [type, physical id] of the stack's resources as moto holds them. */
  async resources(stackName: string): Promise<Map<string, { type: string; physicalId: string }>> {
    const xml = await this.call('DescribeStackResources', { StackName: stackName });
    const out = new Map<string, { type: string; physicalId: string }>();
    for (const member of xmlAll(xml, 'member')) {
      // moto lists a placeholder it has updated as an entry without ids.
      const id = xmlOne(member, 'LogicalResourceId');
      if (id === undefined) continue;
      out.set(id, { type: xmlOne(member, 'ResourceType') ?? '', physicalId: xmlOne(member, 'PhysicalResourceId') ?? '' });
    }
    return out;
  }

  /** Names of the stacks not deleted (ListStacks: DescribeStacks fails on a stack moto left half-created). */
  async liveStacks(): Promise<string[]> {
    const xml = await this.call('ListStacks');
    return xmlAll(xml, 'member')
      .filter((m) => xmlOne(m, 'StackStatus') !== 'DELETE_COMPLETE')
      .map((m) => xmlOne(m, 'StackName'))
      .filter((n): n is string => n !== undefined && n !== '');
  }
}

export interface Template {
  Resources: Record<string, TemplateResource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  Parameters?: Record<string, { Type: string; Default?: string }>;
  [key: string]: unknown;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Record<string, unknown>;
  Condition?: string;
}

/**
 * Resource types moto 5.2.5's CloudFormation has no model for (it skips them on create, and a
 * GetAtt on one fails the stack). The emulation deploys each as a no-op placeholder
 * (AWS::CloudFormation::WaitConditionHandle, which moto also skips) and replaces every Ref and
 * GetAtt to it by the name or ARN CloudFormation would return, so the resources that use it still
 * deploy. What is lost: whatever the substituted resource itself would have checked.
 */
export const NOT_EMULATED: Readonly<Record<string, string>> = {
  'AWS::KinesisFirehose::DeliveryStream': 'moto emulates Firehose, but not as a CloudFormation resource: stream names and destinations are not checked',
  'AWS::Logs::LogStream': 'no CloudFormation model (the Firehose error log streams)',
  'AWS::Glue::Database': 'no Glue in moto CloudFormation (Security Lake tables)',
  'AWS::Glue::Table': 'no Glue in moto CloudFormation (Security Lake tables)',
  'AWS::CloudWatch::Alarm': 'moto emulates CloudWatch alarms, but not as a CloudFormation resource: alarm names and actions are not checked',
  'AWS::S3::BucketPolicy': 'no CloudFormation model: bucket policies are not applied',
  'AWS::SQS::QueuePolicy': 'no CloudFormation model: queue policies are not applied',
  'AWS::SNS::TopicPolicy': 'no CloudFormation model: topic policies are not applied',
  'AWS::SNS::Subscription': 'no CloudFormation model: the alarm mail and queue subscriptions are not created',
  'AWS::Events::EventBusPolicy': 'no CloudFormation model: bus policies are not applied',
  'AWS::Lambda::Alias': 'no CloudFormation model: the runbook aliases are not created (their ARNs are computed)',
  'AWS::Lambda::LayerVersionPermission': 'no CloudFormation model',
  'AWS::Lambda::LayerVersion': "moto's model has no Ref value (the layer version ARN), so no function could name it: the IP data layer is not published",
  'AWS::SecretsManager::RotationSchedule': 'no CloudFormation model: rotation is not scheduled',
  'AWS::CloudFormation::CustomResource': 'moto would invoke the provider Lambda, which needs Docker',
  'Custom::*': 'moto would invoke the provider Lambda, which needs Docker',
};

/**
 * Resource types the Kitewatch templates use that moto's CloudFormation creates, updates and
 * deletes for real (names, ImportValue, GetAtt, collisions with retained resources). A type in
 * neither list stops the emulation, so a new one gets looked at.
 */
export const EMULATED: readonly string[] = [
  'AWS::CloudFormation::WaitConditionHandle',
  'AWS::DynamoDB::Table',
  'AWS::Events::Archive',
  'AWS::Events::EventBus',
  'AWS::Events::Rule',
  'AWS::IAM::ManagedPolicy',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::KMS::Alias',
  'AWS::KMS::Key',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::Function',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Version',
  'AWS::Logs::LogGroup',
  'AWS::S3::Bucket',
  'AWS::SNS::Topic',
  'AWS::SQS::Queue',
  'AWS::SSM::Parameter',
  'AWS::StepFunctions::StateMachine',
];

/**
 * Shapes moto's models read differently from CloudFormation, rewritten so the resource deploys;
 * each keeps the property's meaning.
 */
export const MOTO_ADAPTATIONS: Readonly<Record<string, { readonly why: string; readonly adapt: (properties: Record<string, unknown>, name: string) => Record<string, unknown> }>> = {
  'AWS::KMS::Key': {
    why: 'moto 5.2.5 reads the Tags of a CloudFormation key in the KMS API shape (TagKey/TagValue) and fails on Key/Value',
    adapt: (p) => (Array.isArray(p['Tags']) ? { ...p, Tags: (p['Tags'] as { Key: string; Value: unknown }[]).map((t) => ({ TagKey: t.Key, TagValue: t.Value })) } : p),
  },
  'AWS::KMS::Key#policy': {
    why: 'moto 5.2.5 cannot update a CloudFormation KMS key in place (the key turns into nothing and every GetAtt to it fails) and does not enforce key policies: the policy, which changes with the config, is replaced by a constant one',
    adapt: (p) => ({ ...p, KeyPolicy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: 'emulated' }, Action: 'kms:*', Resource: '*' }] } }),
  },
  'AWS::Events::Archive': {
    why: 'moto 5.2.5 parses an archive EventPattern only as a JSON string; CloudFormation takes the object',
    adapt: (p) => (p['EventPattern'] !== undefined && typeof p['EventPattern'] !== 'string' ? { ...p, EventPattern: JSON.stringify(p['EventPattern']) } : p),
  },
  'AWS::Events::Archive#name': {
    why: "moto names an archive <stack>-<logical id>-<random>, beyond the 48 characters archive names allow; CloudFormation's generated name fits: a generated-style short name is given instead",
    adapt: (p, name) => (p['ArchiveName'] === undefined ? { ...p, ArchiveName: name } : p),
  },
  'AWS::SSM::Parameter#name': {
    why: 'moto 5.2.5 requires the Name CloudFormation generates when it is absent: a generated-style CFN-<logical id>-<random> name is given',
    adapt: (p, name) => (p['Name'] === undefined ? { ...p, Name: `CFN-${name}` } : p),
  },
  'AWS::SSM::Parameter#tags': {
    why: 'moto 5.2.5 reads the Tags of a CloudFormation parameter as a list of Key/Value; CloudFormation takes a map',
    adapt: (p) => (p['Tags'] !== undefined && !Array.isArray(p['Tags']) ? { ...p, Tags: Object.entries(p['Tags'] as Record<string, unknown>).map(([Key, Value]) => ({ Key, Value })) } : p),
  },
  'AWS::Lambda::Function': {
    why: 'the layers are substituted (AWS::Lambda::LayerVersion above) and moto refuses a layer ARN it has not published',
    adapt: ({ Layers: _layers, ...p }) => p,
  },
};

/**
 * Types whose moto model answers Ref with the model object instead of the physical id:
 * Ref is rewritten to the GetAtt that returns what CloudFormation's Ref does.
 */
export const REF_AS_GETATT: Readonly<Record<string, string>> = {
  'AWS::Events::EventBus': 'Name',
};

/** Why moto cannot deploy `type` (undefined: it can). */
export function notEmulatedReason(type: string): string | undefined {
  return NOT_EMULATED[type] ?? (type.startsWith('Custom::') ? NOT_EMULATED['Custom::*'] : undefined);
}

/** Substituted types whose Ref is an ARN in CloudFormation (for the others it is a name or id). */
const REF_IS_ARN = new Set(['AWS::Lambda::Alias', 'AWS::Lambda::LayerVersion', 'AWS::SNS::Subscription', 'AWS::SecretsManager::RotationSchedule']);

/** What CloudFormation would return for Ref / GetAtt of a substituted resource. */
function placeholderValue(type: string, physicalName: string, attribute: string | undefined, region: string, account: string): string {
  const [, service = 'x', kind = 'x'] = type.toLowerCase().split('::');
  if (attribute === 'Arn' || (attribute === undefined && REF_IS_ARN.has(type))) return `arn:aws:${service}:${region}:${account}:${kind}/${physicalName}`;
  if (attribute === undefined) return physicalName;
  return `${physicalName}-${attribute}`;
}

export interface Emulated {
  readonly template: Template;
  /** Logical id -> original type of each substituted resource. */
  readonly substituted: ReadonlyMap<string, string>;
}

/** The template moto can deploy: NOT_EMULATED types replaced, Refs and GetAtts to them resolved. */
export function emulate(template: Template, stackName: string, region: string, account: string): Emulated {
  const substituted = new Map<string, string>();
  const unknown: string[] = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (notEmulatedReason(r.Type) !== undefined) substituted.set(id, r.Type);
    else if (!EMULATED.includes(r.Type)) unknown.push(`${id} (${r.Type})`);
  }
  if (unknown.length > 0) {
    throw new Error(`${stackName}: resource types neither emulated nor substituted: ${unknown.join(', ')}. Check moto's CloudFormation models and add each to EMULATED or NOT_EMULATED.`);
  }
  const refAs = (id: string): string | undefined => {
    const type = template.Resources[id]?.Type;
    return type === undefined ? undefined : REF_AS_GETATT[type];
  };
  const value = (id: string, attribute?: string): string => placeholderValue(substituted.get(id) as string, `${stackName}-${id}`, attribute, region, account);
  const rewrite = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(rewrite);
    if (node === null || typeof node !== 'object') return node;
    const obj = node as Record<string, unknown>;
    const keys = Object.keys(obj);
    if (keys.length === 1 && typeof obj['Ref'] === 'string' && substituted.has(obj['Ref'])) return value(obj['Ref']);
    if (keys.length === 1 && typeof obj['Ref'] === 'string' && refAs(obj['Ref']) !== undefined) return { 'Fn::GetAtt': [obj['Ref'], refAs(obj['Ref'])] };
    const getAtt = obj['Fn::GetAtt'];
    if (keys.length === 1 && Array.isArray(getAtt) && substituted.has(getAtt[0] as string)) return value(getAtt[0] as string, getAtt[1] as string);
    const sub = obj['Fn::Sub'];
    if (keys.length === 1 && (typeof sub === 'string' || Array.isArray(sub))) {
      const [text, vars] = typeof sub === 'string' ? [sub, undefined] : (sub as [string, unknown]);
      const replaced = text.replace(/\$\{([A-Za-z0-9]+)(?:\.([A-Za-z0-9.]+))?\}/g, (whole, id: string, attr: string | undefined) => (substituted.has(id) ? value(id, attr) : whole));
      return { 'Fn::Sub': vars === undefined ? replaced : [replaced, rewrite(vars)] };
    }
    return Object.fromEntries(keys.map((k) => [k, rewrite(obj[k])]));
  };
  const resources: Record<string, TemplateResource> = {};
  for (const [id, r] of Object.entries(template.Resources)) {
    if (substituted.has(id)) {
      const { Type, DependsOn, DeletionPolicy } = r;
      resources[id] = { Type: 'AWS::CloudFormation::WaitConditionHandle', Metadata: { 'kitewatch:emulates': Type } };
      if (DependsOn !== undefined) resources[id].DependsOn = DependsOn;
      if (DeletionPolicy !== undefined) resources[id].DeletionPolicy = DeletionPolicy;
    } else {
      const rewritten = rewrite(r) as TemplateResource;
      for (const [key, adaptation] of Object.entries(MOTO_ADAPTATIONS)) {
        if (key.split('#')[0] !== r.Type) continue;
        rewritten.Properties = adaptation.adapt(rewritten.Properties ?? {}, `${id.slice(0, 30)}-${randomBytes(4).toString('hex')}`);
      }
      resources[id] = rewritten;
    }
  }
  const rest = Object.fromEntries(
    Object.entries(template)
      .filter(([k]) => k !== 'Resources')
      .map(([k, v]) => [k, rewrite(v)]),
  );
  return { template: { ...rest, Resources: resources } as Template, substituted };
}

const zips = new Map<string, Buffer>();

/** A zip of `dir`, as cdk-assets uploads a directory asset (asset directories are immutable: cached by path). */
export function zipDirectory(dir: string): Buffer {
  const cached = zips.get(dir);
  if (cached !== undefined) return cached;
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dir);
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const path of files) {
    const name = Buffer.from(relative(dir, path).split('\\').join('/'));
    const data = readFileSync(path);
    const packed = deflateRawSync(data, { level: 1 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const entry = Buffer.alloc(46);
    entry.writeUInt32LE(0x02014b50, 0);
    entry.writeUInt16LE(20, 4);
    entry.writeUInt16LE(20, 6);
    entry.writeUInt16LE(8, 10);
    entry.writeUInt32LE(crc, 16);
    entry.writeUInt32LE(packed.length, 20);
    entry.writeUInt32LE(data.length, 24);
    entry.writeUInt16LE(name.length, 28);
    entry.writeUInt32LE(offset, 42);
    locals.push(local, name, packed);
    central.push(entry, name);
    offset += local.length + name.length + packed.length;
  }
  const centralSize = central.reduce((n, b) => n + b.length, 0);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(files.length, 8);
  end.writeUInt16LE(files.length, 10);
  end.writeUInt32LE(centralSize, 12);
  end.writeUInt32LE(offset, 16);
  const zip = Buffer.concat([...locals, ...central, end]);
  zips.set(dir, zip);
  return zip;
}

interface AssemblyManifest {
  artifacts: Record<string, { type: string; dependencies?: string[]; properties?: Record<string, unknown> }>;
}

interface AssetManifest {
  files?: Record<string, { source: { path: string; packaging?: string }; destinations: Record<string, { bucketName: string; objectKey: string }> }>;
}

export interface AssemblyStack {
  readonly name: string;
  readonly template: Template;
  readonly terminationProtection: boolean;
  /** Stack artifacts this one depends on (deployed first). */
  readonly dependencies: readonly string[];
  readonly assetManifest: string | undefined;
}

/** The stacks of a cloud assembly directory in the order `cdk deploy --all` deploys them. */
export function assemblyStacks(outdir: string): AssemblyStack[] {
  const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as AssemblyManifest;
  const stacks = new Map<string, AssemblyStack>();
  for (const [id, a] of Object.entries(manifest.artifacts)) {
    if (a.type !== 'aws:cloudformation:stack') continue;
    const deps = a.dependencies ?? [];
    const assets = deps.find((d) => manifest.artifacts[d]?.type === 'cdk:asset-manifest');
    stacks.set(id, {
      name: (a.properties?.['stackName'] as string | undefined) ?? id,
      template: JSON.parse(readFileSync(join(outdir, a.properties?.['templateFile'] as string), 'utf8')) as Template,
      terminationProtection: a.properties?.['terminationProtection'] === true,
      dependencies: deps.filter((d) => manifest.artifacts[d]?.type === 'aws:cloudformation:stack'),
      assetManifest: assets === undefined ? undefined : join(outdir, manifest.artifacts[assets]?.properties?.['file'] as string),
    });
  }
  const ordered: AssemblyStack[] = [];
  const visit = (id: string): void => {
    const s = stacks.get(id);
    if (s === undefined || ordered.includes(s)) return;
    for (const d of s.dependencies) visit(d);
    ordered.push(s);
  };
  for (const id of stacks.keys()) visit(id);
  return ordered;
}

const exportNamesOf = (t: Template): string[] => Object.values(t.Outputs ?? {}).flatMap((o) => (typeof o.Export?.Name === 'string' ? [o.Export.Name] : []));
const importNamesOf = (t: unknown): string[] => [...new Set([...JSON.stringify(t).matchAll(/"Fn::ImportValue":"([^"]+)"/g)].map((m) => m[1] as string))];

export interface DeployOptions {
  /** Parameter values (for parameters without a default). */
  readonly parameters?: Record<string, string>;
}

export type DeployResult = 'created' | 'updated' | 'unchanged';

/**
 * One account and region of moto, used the way the CDK CLI uses AWS: bootstrap once, then
 * publish assets and deploy stacks. Each deploy checks what moto does not (exports in use).
 */
export class EmulatedCloud {
  readonly cfn: CloudFormationApi;
  readonly s3: S3Client;
  readonly events: EventBridgeClient;
  /** Every substituted resource, `<stack>/<logicalId>` -> type, across deploys. */
  readonly substituted = new Map<string, string>();
  readonly endpoint: string;
  readonly account: string;
  readonly region: string;

  constructor(endpoint: string, account: string, region: string) {
    this.endpoint = endpoint;
    this.account = account;
    this.region = region;
    this.cfn = new CloudFormationApi(endpoint, region, account);
    this.events = new EventBridgeClient({ endpoint, region, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    this.s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  }

  private resolve(s: string): string {
    return s.replaceAll('${AWS::AccountId}', this.account).replaceAll('${AWS::Region}', this.region).replaceAll('${AWS::Partition}', 'aws');
  }

  /**
   * What `cdk bootstrap` leaves that the templates and asset manifests read: the asset bucket and
   * the version parameter (the BootstrapVersion parameter resolves it at deploy).
   */
  async bootstrap(stack: AssemblyStack, version = '30'): Promise<void> {
    const ssmPath = stack.template.Parameters?.['BootstrapVersion']?.Default;
    if (ssmPath !== undefined) await this.putParameter(ssmPath, version);
    for (const bucket of this.assetBuckets(stack)) {
      try {
        await this.s3.send(new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: this.region as 'eu-west-1' } }));
      } catch (error) {
        if ((error as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw error;
      }
    }
  }

  /**
   * The partner event bus, which associating Buildkite's partner event source creates before any
   * deploy (CloudFormation cannot): Buildkite's CreatePartnerEventSource, then CreateEventBus.
   * moto's rules read a bus name as if it were an ARN and keep what follows the last '/', so a
   * bus of that short name is created too.
   */
  async partnerBus(name: string): Promise<void> {
    const ignoreExisting = async (send: () => Promise<unknown>): Promise<void> => {
      try {
        await send();
      } catch (error) {
        if ((error as { name?: string }).name !== 'ResourceAlreadyExistsException') throw error;
      }
    };
    await ignoreExisting(() => this.events.send(new CreatePartnerEventSourceCommand({ Name: name, Account: this.account })));
    await ignoreExisting(() => this.events.send(new CreateEventBusCommand({ Name: name, EventSourceName: name })));
    await ignoreExisting(() => this.events.send(new CreateEventBusCommand({ Name: name.split('/').at(-1) })));
  }

  private assetBuckets(stack: AssemblyStack): string[] {
    if (stack.assetManifest === undefined) return [];
    const m = JSON.parse(readFileSync(stack.assetManifest, 'utf8')) as AssetManifest;
    return [...new Set(Object.values(m.files ?? {}).flatMap((f) => Object.values(f.destinations).map((d) => this.resolve(d.bucketName))))];
  }

  private async putParameter(name: string, value: string): Promise<void> {
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.PutParameter',
        authorization: `AWS4-HMAC-SHA256 Credential=testing/20261204/${this.region}/ssm/aws4_request, SignedHeaders=host, Signature=0`,
        'x-moto-account-id': this.account,
      },
      body: JSON.stringify({ Name: name, Value: value, Type: 'String', Overwrite: true }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`PutParameter ${name}: HTTP ${res.status} ${text.slice(0, 300)}`);
  }

  /** Uploads the stack's file assets (directories zipped) to their destinations, as cdk-assets does. */
  async publishAssets(stack: AssemblyStack): Promise<number> {
    if (stack.assetManifest === undefined) return 0;
    const dir = join(stack.assetManifest, '..');
    const m = JSON.parse(readFileSync(stack.assetManifest, 'utf8')) as AssetManifest;
    let published = 0;
    for (const file of Object.values(m.files ?? {})) {
      const path = join(dir, file.source.path);
      const body = file.source.packaging === 'zip' || statSync(path).isDirectory() ? zipDirectory(path) : readFileSync(path);
      for (const d of Object.values(file.destinations)) {
        await this.s3.send(new PutObjectCommand({ Bucket: this.resolve(d.bucketName), Key: this.resolve(d.objectKey), Body: body }));
        published++;
      }
    }
    return published;
  }

  /** Export name -> the live stacks importing it (read back from moto). */
  private async importers(except: string): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const name of await this.cfn.liveStacks()) {
      if (name === except) continue;
      for (const imported of importNamesOf(await this.cfn.template(name))) out.set(imported, [...(out.get(imported) ?? []), name]);
    }
    return out;
  }

  /**
   * CloudFormation refuses to delete or change an export another stack imports; moto does not
   * check. Returns the refusals CloudFormation would give for replacing the stack's exports by
   * `next` (undefined: deleting the stack).
   */
  async exportsInUse(stackName: string, next: Map<string, string> | undefined): Promise<string[]> {
    const current = await this.cfn.exportsOf(stackName);
    const importers = await this.importers(stackName);
    const refusals: string[] = [];
    for (const [name, value] of current) {
      const users = importers.get(name);
      if (users === undefined) continue;
      if (next === undefined || !next.has(name)) refusals.push(`Cannot delete export ${name} as it is in use by ${users.join(', ')}.`);
      else if (next.get(name) !== value) refusals.push(`Cannot update export ${name} as it is in use by ${users.join(', ')}.`);
    }
    return refusals;
  }

  /** CreateStack or UpdateStack (skipped when the template has not changed, as cdk does). */
  async deploy(stack: AssemblyStack, options: DeployOptions = {}): Promise<DeployResult> {
    const { template, substituted } = emulate(stack.template, stack.name, this.region, this.account);
    for (const [id, type] of substituted) this.substituted.set(`${stack.name}/${id}`, type);
    const body = JSON.stringify(template);
    const params: Record<string, string> = {
      StackName: stack.name,
      TemplateBody: body,
      'Capabilities.member.1': 'CAPABILITY_IAM',
      'Capabilities.member.2': 'CAPABILITY_NAMED_IAM',
      'Capabilities.member.3': 'CAPABILITY_AUTO_EXPAND',
    };
    Object.entries(options.parameters ?? {}).forEach(([k, v], i) => {
      params[`Parameters.member.${i + 1}.ParameterKey`] = k;
      params[`Parameters.member.${i + 1}.ParameterValue`] = v;
    });
    const status = await this.cfn.stackStatus(stack.name);
    if (status === undefined || status === 'DELETE_COMPLETE') {
      if (stack.terminationProtection) params['EnableTerminationProtection'] = 'true';
      await this.cfn.call('CreateStack', params);
      await this.waitFor(stack.name, 'CREATE_COMPLETE');
      return 'created';
    }
    if (JSON.stringify(await this.cfn.template(stack.name)) === JSON.stringify(template)) return 'unchanged';
    // Export values are only known after the update; names that disappear are refused before.
    const before = await this.cfn.exportsOf(stack.name);
    const removed = await this.exportsInUse(stack.name, new Map(exportNamesOf(template).map((n) => [n, before.get(n) ?? ''])));
    if (removed.length > 0) throw new CloudFormationError('UpdateStack', 'ValidationError', removed.join(' '));
    await this.cfn.call('UpdateStack', params);
    await this.waitFor(stack.name, 'UPDATE_COMPLETE');
    const changed = [...(await this.cfn.exportsOf(stack.name))].filter(([n, v]) => before.has(n) && before.get(n) !== v).map(([n]) => n);
    const inUse = await this.importers(stack.name);
    const refused = changed.filter((n) => inUse.has(n));
    if (refused.length > 0)
      throw new CloudFormationError('UpdateStack', 'ValidationError', `Cannot update export ${refused.join(', ')} as it is in use by ${refused.flatMap((n) => inUse.get(n) ?? []).join(', ')}.`);
    return 'updated';
  }

  /** DeleteStack, refused as CloudFormation would while another stack imports one of its exports. */
  async destroy(stackName: string): Promise<void> {
    const refusals = await this.exportsInUse(stackName, undefined);
    if (refusals.length > 0) throw new CloudFormationError('DeleteStack', 'ValidationError', refusals.join(' '));
    await this.cfn.call('DeleteStack', { StackName: stackName });
    const status = await this.cfn.stackStatus(stackName);
    if (status !== undefined && status !== 'DELETE_COMPLETE') throw new Error(`${stackName}: ${status} after DeleteStack`);
  }

  /** moto creates synchronously; the wait is what the CLI does, and it catches a stack left half-done. */
  private async waitFor(stackName: string, wanted: string): Promise<void> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const status = await this.cfn.stackStatus(stackName);
      if (status === wanted) return;
      if (status === undefined || /FAILED|ROLLBACK/.test(status)) throw new Error(`${stackName}: ${status ?? 'gone'} while waiting for ${wanted}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${stackName}: not ${wanted} after 100 polls`);
  }

  /** Bootstrap, then publish and deploy every stack of the assembly in dependency order. */
  async deployAll(outdir: string, options: Record<string, DeployOptions> = {}): Promise<Map<string, DeployResult>> {
    const stacks = assemblyStacks(outdir);
    const results = new Map<string, DeployResult>();
    for (const stack of stacks) {
      await this.bootstrap(stack);
      await this.publishAssets(stack);
      results.set(stack.name, await this.deploy(stack, options[stack.name]));
    }
    return results;
  }
}
