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

export const GRAPHQL_DOCUMENTS = {
  FIND_AGENT_TOKEN,
  REVOKE_AGENT_TOKEN,
} as const;

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
