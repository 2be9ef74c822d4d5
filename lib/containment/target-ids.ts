import { checkId, quoteId } from '../contracts/ids.ts';
import type { ActionId } from './actions.ts';
import type { Target } from './activity.ts';

/**
 * The id checks every containment step passes before it can reach a URL or an AWS call: the
 * automatic path (engine), the runbooks and the approval path all go through `execute` / `preview`,
 * which call this. A target id comes from event data an attacker may shape (an agent uuid of `..`
 * would turn `.../agents/../stop` into `.../stop`); an id of the wrong format is a Failure with
 * the reason, and nothing is called.
 */

// Secrets Manager names: letters, digits and /_+=.@- (AWS's documented set); ARNs of that form.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;
// IAM role names (64 characters of [\w+=,.@-]) and role ARNs with a path.
const ROLE_NAME = /^[\w+=,.@-]{1,64}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;

function first(...checks: (string | undefined)[]): string | undefined {
  return checks.find((c) => c !== undefined);
}

const problem = (r: ReturnType<typeof checkId>): string | undefined => (r.ok ? undefined : r.reason);

function optional(kind: 'uuid' | 'slug', what: string, value: unknown): string | undefined {
  return value === undefined ? undefined : problem(checkId(kind, what, value));
}

/** Why the target's ids cannot be used for this action, or undefined when they are well-formed. */
export function targetIdProblem(action: ActionId, t: Target): string | undefined {
  const org = optional('slug', 'the organization slug', t.org);
  const cluster = optional('uuid', 'the cluster id', t.attrs?.['cluster_id']);
  switch (action) {
    case 'revoke-agent-token':
      return first(org, problem(checkId('uuid', 'the agent token id', t.uid)), cluster);
    case 'stop-agent':
      return first(org, problem(checkId('uuid', 'the agent id', t.uid)));
    case 'pause-queue':
      return first(org, problem(checkId('uuid', 'the queue id', t.uid)), cluster);
    case 'cancel-build': {
      const n = t.attrs?.['number'];
      return first(
        org,
        optional('slug', 'the pipeline slug', t.attrs?.['pipeline']),
        n === undefined || (Number.isSafeInteger(Number(n)) && Number(n) > 0) ? undefined : `the build number is not a positive integer: ${quoteId(n)}`,
      );
    }
    case 'archive-pipeline':
      // A slug only from a responder (runbook input); from a finding, the uuid, resolved through the API.
      return first(org, t.attrs?.['slug'] !== undefined ? optional('slug', 'the pipeline slug', t.attrs['slug']) : problem(checkId('uuid', 'the pipeline id', t.uid)));
    case 'rotate-secret':
      return SECRET_ARN.test(t.uid) || SECRET_NAME.test(t.uid) ? undefined : `the Secrets Manager secret id is not a secret ARN or name: ${quoteId(t.uid)}`;
    case 'revoke-role-sessions':
      return ROLE_ARN.test(t.uid) || ROLE_NAME.test(t.uid) ? undefined : `the IAM role is not a role ARN or name: ${quoteId(t.uid)}`;
  }
}
