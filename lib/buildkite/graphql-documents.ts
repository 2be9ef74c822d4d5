/**
 * Every GraphQL document Kitewatch sends to Buildkite, in one place so that one test
 * (test/buildkite/graphql-documents.test.ts) validates all of them against Buildkite's schema
 * (data/buildkite/schema.graphql). Add a document here, never inline elsewhere.
 */

/** A legacy (unclustered) agent token by `<org-slug>/<token-uuid>`; null when it does not exist. */
export const FIND_AGENT_TOKEN = /* GraphQL */ `
  query KitewatchFindAgentToken($slug: ID!) {
    agentToken(slug: $slug) {
      id
      uuid
      description
      revokedAt
      revokedReason
    }
  }
`;

/** Revokes a legacy (unclustered) agent token; clustered tokens use REST DELETE instead. */
export const REVOKE_AGENT_TOKEN = /* GraphQL */ `
  mutation KitewatchRevokeAgentToken($id: ID!, $reason: String!) {
    agentTokenRevoke(input: { id: $id, reason: $reason }) {
      agentToken {
        uuid
        revokedAt
        revokedReason
      }
    }
  }
`;

/**
 * A pipeline by its uuid: containment archives by slug, and takes the slug from Buildkite rather
 * than from event data (an audit subject's name is the pipeline's display name, anyone's choice).
 */
export const PIPELINE_BY_UUID = /* GraphQL */ `
  query KitewatchPipelineByUuid($uuid: ID!) {
    pipeline(uuid: $uuid) {
      uuid
      slug
      archived
      organization {
        slug
      }
    }
  }
`;

/**
 * Where Buildkite placed an agent: its cluster and queue, which only admins create. Protection
 * of agents matches these, never the name or tags the agent reported about itself.
 */
export const AGENT_PLACEMENT = /* GraphQL */ `
  query KitewatchAgentPlacement($slug: ID!) {
    agent(slug: $slug) {
      uuid
      clusterQueue {
        uuid
        key
        cluster {
          uuid
        }
      }
    }
  }
`;

export const GRAPHQL_DOCUMENTS = {
  FIND_AGENT_TOKEN,
  REVOKE_AGENT_TOKEN,
  PIPELINE_BY_UUID,
  AGENT_PLACEMENT,
} as const;

export interface PipelineByUuidData {
  readonly pipeline: { readonly uuid: string; readonly slug: string; readonly archived: boolean; readonly organization: { readonly slug: string } } | null;
}

export interface AgentPlacementData {
  readonly agent: {
    readonly uuid: string;
    readonly clusterQueue: { readonly uuid: string; readonly key: string; readonly cluster: { readonly uuid: string } | null } | null;
  } | null;
}

export interface FindAgentTokenData {
  readonly agentToken: {
    readonly id: string;
    readonly uuid: string;
    readonly description: string | null;
    readonly revokedAt: string | null;
    readonly revokedReason: string | null;
  } | null;
}

export interface RevokeAgentTokenData {
  readonly agentTokenRevoke: {
    readonly agentToken: { readonly uuid: string; readonly revokedAt: string | null; readonly revokedReason: string | null };
  } | null;
}
