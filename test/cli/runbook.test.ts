import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Io } from '../../lib/cli/io.ts';
import { main } from '../../lib/cli/main.ts';
import { COMMANDS } from '../../lib/cli/commands.ts';
import { createRunbookCommand, runbookCommand } from '../../lib/cli/runbook.ts';
import type { RunbookReport } from '../../lib/containment/runbooks.ts';
import { runCli, tempDir } from '../support/cli.ts';
import { FakeBuildkite } from '../support/fake-buildkite.ts';
import { recording } from '../containment/helpers.ts';

let bk: FakeBuildkite;
let dir: string;
let out: string[];
let err: string[];
const io: Io = { out: (l) => void out.push(l), err: (l) => void err.push(l) };

function input(value: unknown, name = 'input.json'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

beforeEach(async () => {
  bk = await FakeBuildkite.start();
  dir = tempDir('kitewatch-runbook-');
  out = [];
  err = [];
});
afterEach(async () => {
  expect([...out, ...err].join('\n')).not.toContain(bk.token);
  await bk.close();
});

describe('kitewatch runbook (local)', () => {
  it('runs a runbook locally: dry-run by default, then for real with "dryRun": false', async () => {
    const agent = bk.addAgent();
    const cmd = createRunbookCommand({ env: { BUILDKITE_API_TOKEN: bk.token } });
    const file = input({ org: 'acme', agentId: agent.id });
    expect(await cmd.run(['stop-agent', '--input', file, '--buildkite-api-url', bk.url], io)).toBe(0);
    const dry = JSON.parse(out.join('\n')) as RunbookReport;
    expect(dry).toMatchObject({ runbook: 'stop-agent', dryRun: true, outcome: 'dry-run', calls: [`PUT /v2/organizations/acme/agents/${agent.id}/stop {"force":true}`] });
    expect(bk.calls).toEqual([]);

    out = [];
    const live = input({ org: 'acme', agentId: agent.id, dryRun: false }, 'live.json');
    expect(await cmd.run(['stop-agent', '--input', live, '--buildkite-api-url', bk.url], io)).toBe(0);
    expect(JSON.parse(out.join('\n'))).toMatchObject({ outcome: 'done', ok: true, activities: [{ class_uid: 7001, command_uid: 'stop-agent', status: 'Success' }] });
    expect(bk.callLines()).toEqual([`PUT /v2/organizations/acme/agents/${agent.id}/stop`]);
  });

  it('exits 1 when the runbook fails (no token), 2 on usage or input errors naming the field', async () => {
    const cmd = createRunbookCommand({ env: {} });
    const file = input({ org: 'acme', agentId: '0198e45b-c0d5-4a0b-8e37-e140af750d2d', dryRun: false });
    expect(await cmd.run(['stop-agent', '--input', file, '--buildkite-api-url', bk.url], io)).toBe(1);
    expect(err.join('\n')).toContain('failed: missing Buildkite API token: BUILDKITE_API_TOKEN is not set');

    const cases: [string[], RegExp][] = [
      [['stop-agent', '--input', input({ org: 'acme' }, 'bad.json')], /stop-agent input is invalid: agentId/],
      [['stop-agent', '--input', input('{nope', 'broken.json')], /is not valid JSON/],
      [['stop-agent'], /--input FILE is required/],
      [['nuke-everything', '--input', file], /unknown runbook "nuke-everything"/],
      [['stop-agent', '--input', file, '--deployed'], /--deployed needs --function-name/],
      [['stop-agent', '--input', join(dir, 'absent.json')], /cannot read --input .*absent\.json: ENOENT/],
      [['stop-agent', '--input', file, '--buildkite-api-url', 'not a url'], /--buildkite-api-url is not a URL/],
    ];
    for (const [args, message] of cases) {
      err = [];
      expect(await cmd.run(args, io), args.join(' ')).toBe(2);
      expect(err.join('\n')).toMatch(message);
    }
    expect(bk.calls).toEqual([]);
  });

  it('is reachable through `kitewatch runbook` and has help', async () => {
    const table = [createRunbookCommand({ env: { BUILDKITE_API_TOKEN: bk.token } })];
    expect(await main(['runbook', '--help'], io, table)).toBe(0);
    expect(out.join('\n')).toContain('approve-action');
    out = [];
    expect(await main(['help'], io)).toBe(0);
    expect(out.join('\n')).toContain('kitewatch runbook <runbook>');
    expect(COMMANDS).toContain(runbookCommand);
  });
});

describe('kitewatch runbook --deployed', () => {
  it('invokes the Lambda with the input as payload and prints its report', async () => {
    const report = { runbook: 'archive-pipeline', dryRun: false, outcome: 'done', ok: true, detail: 'done', message: 'Archived', calls: [], activities: [] };
    const { client, sent } = recording({ send: async () => ({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(report)) }) } as unknown as LambdaClient);
    const regions: (string | undefined)[] = [];
    const cmd = createRunbookCommand({ lambda: (r) => (regions.push(r), client) });
    const body = { org: 'acme', pipeline: 'deploy', dryRun: false };
    const code = await cmd.run(['archive-pipeline', '--input', input(body), '--deployed', '--function-name', 'kw-runbook-archive-pipeline', '--region', 'eu-west-1'], io);
    expect(code).toBe(0);
    expect(regions).toEqual(['eu-west-1']);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.name).toBe('Invoke');
    expect(sent[0]?.input).toMatchObject({ FunctionName: 'kw-runbook-archive-pipeline', InvocationType: 'RequestResponse' });
    expect(JSON.parse(new TextDecoder().decode(sent[0]?.input['Payload'] as Uint8Array))).toEqual(body);
    expect(JSON.parse(out.join('\n'))).toEqual(report);
    expect(bk.calls).toEqual([]);
  });

  it('reports a function error and exits 1; a bad input never reaches the Lambda', async () => {
    const failing = recording({
      send: async () => ({
        StatusCode: 200,
        FunctionError: 'Unhandled',
        Payload: new TextEncoder().encode(JSON.stringify({ errorType: 'RunbookInputError', errorMessage: 'stop-agent input is invalid: agentId: must be a UUID' })),
      }),
    } as unknown as LambdaClient);
    const cmd = createRunbookCommand({ lambda: () => failing.client });
    const good = input({ org: 'acme', agentId: '0198e45b-c0d5-4a0b-8e37-e140af750d2d' });
    expect(await cmd.run(['stop-agent', '--input', good, '--deployed', '--function-name', 'kw-stop'], io)).toBe(1);
    expect(err.join('\n')).toContain('kw-stop failed (Unhandled): RunbookInputError: stop-agent input is invalid: agentId');
    failing.sent.length = 0;
    expect(await cmd.run(['stop-agent', '--input', input({ org: 'acme' }, 'bad.json'), '--deployed', '--function-name', 'kw-stop'], io)).toBe(2);
    expect(failing.sent).toEqual([]);
  });
});

describe('kitewatch runbook: AWS setup errors say what is missing', () => {
  /** No region and no credentials anywhere the SDK looks. */
  const bare = (): NodeJS.ProcessEnv => {
    const home = tempDir('kitewatch-home-');
    return {
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      AWS_PROFILE: undefined,
      AWS_ACCESS_KEY_ID: undefined,
      AWS_SECRET_ACCESS_KEY: undefined,
      AWS_SESSION_TOKEN: undefined,
      AWS_ENDPOINT_URL: undefined,
      AWS_CONFIG_FILE: join(home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
      HOME: home,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  };

  it('--deployed takes the region from a full function ARN', async () => {
    const report = { runbook: 'stop-agent', dryRun: true, outcome: 'dry-run', ok: true, detail: 'dry-run', message: 'Would stop', calls: [], activities: [] };
    const { client } = recording({ send: async () => ({ StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(report)) }) } as unknown as LambdaClient);
    const regions: (string | undefined)[] = [];
    const cmd = createRunbookCommand({ lambda: (r) => (regions.push(r), client) });
    const file = input({ org: 'acme', agentId: '0198e45b-c0d5-4a0b-8e37-e140af750d2d' });
    const arn = 'arn:aws:lambda:ap-southeast-2:123456789012:function:kw-stop-agent';
    expect(await cmd.run(['stop-agent', '--input', file, '--deployed', '--function-name', arn], io)).toBe(0);
    expect(regions).toEqual(['ap-southeast-2']);
    expect(await cmd.run(['stop-agent', '--input', file, '--deployed', '--function-name', arn, '--region', 'eu-west-1'], io)).toBe(2);
    expect(err.join('\n')).toContain('--region eu-west-1 does not match the region of --function-name (ap-southeast-2)');
  });

  it('--deployed without any region names the three ways to give one', async () => {
    const file = input({ org: 'acme', agentId: '0198e45b-c0d5-4a0b-8e37-e140af750d2d' });
    const r = await runCli(['runbook', 'stop-agent', '--input', file, '--deployed', '--function-name', 'kw-stop-agent'], { env: bare() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('could not invoke kw-stop-agent: the AWS region is missing: pass --region REGION or the full function ARN');
    expect(r.stderr).toContain('AWS_REGION');
    expect(r.stderr).not.toContain('Error: Region is missing');
  });

  it('approve-action locally says the region is missing, then that credentials are, never "Error from Step Functions"', async () => {
    const file = input({ taskToken: 'AQCEAAAAKgAAAAMAAAAAAAAAAfake-token', decision: 'approve', responder: 'alice@example.com', dryRun: false });
    const noRegion = await runCli(['runbook', 'approve-action', '--input', file], { env: bare() });
    expect(noRegion.code).toBe(1);
    expect(noRegion.stderr).toContain('the AWS region is missing: set AWS_REGION');
    expect(noRegion.stderr).not.toContain('Error from Step Functions');
    const noCredentials = await runCli(['runbook', 'approve-action', '--input', file, '--region', 'eu-west-1'], { env: bare() });
    expect(noCredentials.code).toBe(1);
    expect(noCredentials.stderr).toContain('no AWS credentials found');
    expect(noCredentials.stdout + noCredentials.stderr).not.toContain('fake-token');
  });
});
