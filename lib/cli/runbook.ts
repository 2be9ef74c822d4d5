import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { awsSetupProblem, isMissingRegion } from '../aws/errors.ts';
import { lambdaSdk, lazyIamClient, lazySecretsManagerClient, lazySfnClient } from '../aws/lazy.ts';
import { BuildkiteClient, DEFAULT_API_URL, DEFAULT_GRAPHQL_URL } from '../buildkite/client.ts';
import { envTokenProvider } from '../buildkite/token.ts';
import { ACTIONS, RUNBOOK_IDS, type RunbookId } from '../containment/actions.ts';
import { RunbookInputError, parseRunbookInput } from '../containment/runbook-inputs.ts';
import { runRunbook, type RunbookDeps, type RunbookReport } from '../containment/runbooks.ts';
import type { Command, Io } from './command.ts';

export const RUNBOOK_USAGE = `Usage: kitewatch runbook <runbook> --input FILE [options]

Runs a containment runbook locally (BUILDKITE_API_TOKEN and the usual AWS environment), or
invokes its deployed Lambda. The input is JSON (see docs/runbooks.md); "dryRun" defaults to
true: set "dryRun": false to act. Prints the runbook's report (JSON) on stdout.

Runbooks:
${RUNBOOK_IDS.map((id) => `  ${id.padEnd(22)}${id === 'approve-action' ? 'approve or deny an action waiting for approval' : ACTIONS[id].title}`).join('\n')}

Options:
  --input FILE                  runbook input (JSON); "-" reads stdin
  --buildkite-api-url URL       REST API base (default ${DEFAULT_API_URL})
  --buildkite-graphql-url URL   GraphQL endpoint (default ${DEFAULT_GRAPHQL_URL})
  --deployed                    invoke the deployed runbook Lambda instead of running locally
  --function-name NAME          the Lambda to invoke (required with --deployed)
  --region REGION               AWS region of the Lambda, or locally of Step Functions and Secrets
                                Manager (default: the region in a function ARN, else AWS_REGION)
  -h, --help                    show this help

Exit codes: 0 the runbook did its job (or its dry-run), 1 it failed, 2 usage or input error.`;

export interface LocalRunbookOptions {
  readonly apiUrl: string;
  readonly graphqlUrl: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  /** --region; absent: the AWS environment. */
  readonly region?: string;
}

export interface RunbookCommandDeps {
  /** Dependencies of a local run. @default BUILDKITE_API_TOKEN, AWS clients from the environment */
  readonly local?: (opts: LocalRunbookOptions) => RunbookDeps;
  /** The Lambda client for --deployed. @default a LambdaClient for the region */
  readonly lambda?: (region: string | undefined) => Pick<LambdaClient, 'send'>;
  readonly env?: NodeJS.ProcessEnv;
  /** Reads --input ("-" is stdin). */
  readonly readInput?: (path: string) => string;
}

export function defaultLocalRunbookDeps(opts: LocalRunbookOptions): RunbookDeps {
  const region = opts.region !== undefined ? { region: opts.region } : {};
  return {
    execution: {
      buildkite: new BuildkiteClient({ apiUrl: opts.apiUrl, graphqlUrl: opts.graphqlUrl, token: envTokenProvider(opts.env) }),
      // On first use: a dry run or a Buildkite-only runbook never loads these packages.
      secretsManager: lazySecretsManagerClient(region),
      iam: lazyIamClient(),
      now: Date.now,
      log: opts.log,
    },
    sfn: lazySfnClient(region),
  };
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The region in a Lambda function ARN (`arn:aws:lambda:REGION:ACCOUNT:function:NAME`), if it is one. */
export function regionOfFunctionArn(name: string): string | undefined {
  return /^arn:aws[a-z-]*:lambda:([a-z0-9-]+):\d{12}:function:/.exec(name)?.[1];
}

function isRunbookId(value: string | undefined): value is RunbookId {
  return value !== undefined && (RUNBOOK_IDS as readonly string[]).includes(value);
}

export function createRunbookCommand(deps: RunbookCommandDeps = {}): Command {
  const readInput = deps.readInput ?? ((path: string) => readFileSync(path === '-' ? 0 : path, 'utf8'));
  return {
    name: 'runbook <runbook>',
    summary: 'run a containment runbook locally, or its deployed Lambda',
    async run(argv: readonly string[], io: Io): Promise<number> {
      let parsed;
      try {
        parsed = parseArgs({
          args: [...argv],
          allowPositionals: true,
          strict: true,
          options: {
            input: { type: 'string' },
            'buildkite-api-url': { type: 'string', default: DEFAULT_API_URL },
            'buildkite-graphql-url': { type: 'string', default: DEFAULT_GRAPHQL_URL },
            deployed: { type: 'boolean', default: false },
            'function-name': { type: 'string' },
            region: { type: 'string' },
            help: { type: 'boolean', short: 'h', default: false },
          },
        });
      } catch (error) {
        io.err(`kitewatch runbook: ${(error as Error).message}\n(see kitewatch runbook --help)`);
        return 2;
      }
      const v = parsed.values;
      if (v.help) {
        io.out(RUNBOOK_USAGE);
        return 0;
      }
      let runbook: RunbookId;
      let input: unknown;
      try {
        const [name, ...extra] = parsed.positionals;
        if (!isRunbookId(name)) throw new UsageError(name === undefined ? 'name a runbook' : `unknown runbook "${name}" (one of ${RUNBOOK_IDS.join(', ')})`);
        if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
        runbook = name;
        if (v.input === undefined) throw new UsageError('--input FILE is required');
        if (v.deployed && v['function-name'] === undefined) throw new UsageError('--deployed needs --function-name NAME');
        if (!v.deployed && v['function-name'] !== undefined) throw new UsageError('--function-name only applies with --deployed');
        const arnRegion = regionOfFunctionArn(v['function-name'] ?? '');
        if (arnRegion !== undefined && v.region !== undefined && v.region !== arnRegion) {
          throw new UsageError(`--region ${v.region} does not match the region of --function-name (${arnRegion})`);
        }
        for (const [flag, url] of [
          ['--buildkite-api-url', v['buildkite-api-url']],
          ['--buildkite-graphql-url', v['buildkite-graphql-url']],
        ] as const) {
          if (!URL.canParse(url)) throw new UsageError(`${flag} is not a URL: ${url}`);
        }
        let text: string;
        try {
          text = readInput(v.input);
        } catch (cause) {
          throw new UsageError(`cannot read --input ${v.input}: ${(cause as NodeJS.ErrnoException).code ?? (cause as Error).message}`);
        }
        try {
          input = JSON.parse(text);
        } catch {
          throw new UsageError(`--input ${v.input} is not valid JSON`);
        }
        // Checked here too, so a deployed call with a bad input fails before it is sent.
        parseRunbookInput(runbook, input);
      } catch (error) {
        if (error instanceof UsageError || error instanceof RunbookInputError) {
          io.err(`kitewatch runbook: ${error.message}\n(see kitewatch runbook --help)`);
          return 2;
        }
        throw error;
      }

      if (v.deployed) {
        const functionName = v['function-name'] as string;
        return invokeDeployed(runbook, input, functionName, v.region ?? regionOfFunctionArn(functionName), deps, io);
      }

      const env = deps.env ?? process.env;
      const local = (deps.local ?? defaultLocalRunbookDeps)({
        apiUrl: v['buildkite-api-url'],
        graphqlUrl: v['buildkite-graphql-url'],
        env,
        log: (line) => io.err(`kitewatch: ${line}`),
        ...(v.region !== undefined ? { region: v.region } : {}),
      });
      const report = await runRunbook(runbook, input, local);
      io.out(JSON.stringify(report, null, 2));
      if (!report.ok) io.err(`kitewatch runbook ${runbook}: ${report.detail}`);
      return report.ok ? 0 : 1;
    },
  };
}

async function invokeDeployed(runbook: RunbookId, input: unknown, functionName: string, region: string | undefined, deps: RunbookCommandDeps, io: Io): Promise<number> {
  let out;
  try {
    const { InvokeCommand, LambdaClient } = await lambdaSdk();
    const lambda = (deps.lambda ?? ((r) => new LambdaClient(r === undefined ? {} : { region: r })))(region);
    out = await lambda.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(input)) }));
  } catch (error) {
    const setup = isMissingRegion(error)
      ? 'the AWS region is missing: pass --region REGION or the full function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME), or set AWS_REGION'
      : awsSetupProblem(error);
    io.err(`kitewatch runbook: could not invoke ${functionName}: ${setup ?? `${(error as Error).name}: ${(error as Error).message}`}`);
    return 1;
  }
  const text = out.Payload === undefined ? '' : new TextDecoder().decode(out.Payload);
  if (out.FunctionError !== undefined) {
    let detail = text;
    try {
      const e = JSON.parse(text) as { errorType?: string; errorMessage?: string };
      detail = `${e.errorType ?? 'Error'}: ${e.errorMessage ?? ''}`;
    } catch {
      // Keep the raw text.
    }
    io.err(`kitewatch runbook: ${functionName} failed (${out.FunctionError}): ${detail}`);
    return 1;
  }
  let report: RunbookReport;
  try {
    report = JSON.parse(text) as RunbookReport;
  } catch {
    io.err(`kitewatch runbook: ${functionName} did not answer with a runbook report`);
    return 1;
  }
  io.out(JSON.stringify(report, null, 2));
  if (report.ok === false) io.err(`kitewatch runbook ${runbook}: ${report.detail}`);
  return report.ok === false ? 1 : 0;
}

export const runbookCommand: Command = createRunbookCommand();
