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

/** An organization membership by `<org-slug>/<membership-uuid>`; null when it does not exist. */
export const FIND_ORGANIZATION_MEMBER = /* GraphQL */ `
  query KitewatchFindOrganizationMember($slug: ID!) {
    organizationMember(slug: $slug) {
      id
      uuid
      role
      user {
        uuid
        name
      }
    }
  }
`;

/** One page of an organization's memberships (to find the membership of a user uuid). */
export const LIST_ORGANIZATION_MEMBERS = /* GraphQL */ `
  query KitewatchListOrganizationMembers($slug: ID!, $after: String) {
    organization(slug: $slug) {
      members(first: 100, after: $after) {
        edges {
          node {
            id
            uuid
            role
            user {
              uuid
              name
            }
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`;

/** Sets a membership's role (containment demotes to MEMBER). */
export const UPDATE_ORGANIZATION_MEMBER_ROLE = /* GraphQL */ `
  mutation KitewatchUpdateOrganizationMemberRole($id: ID!, $role: OrganizationMemberRole!) {
    organizationMemberUpdate(input: { id: $id, role: $role }) {
      organizationMember {
        uuid
        role
      }
    }
  }
`;

/** Removes a user from the organization (Buildkite has no suspend). */
export const DELETE_ORGANIZATION_MEMBER = /* GraphQL */ `
  mutation KitewatchDeleteOrganizationMember($id: ID!) {
    organizationMemberDelete(input: { id: $id }) {
      deletedOrganizationMemberID
    }
  }
`;

/** An invitation by `<org-slug>/<invitation-uuid>`; null when it does not exist. */
export const FIND_ORGANIZATION_INVITATION = /* GraphQL */ `
  query KitewatchFindOrganizationInvitation($slug: ID!) {
    organizationInvitation(slug: $slug) {
      id
      uuid
      email
      role
      state
    }
  }
`;

export const REVOKE_ORGANIZATION_INVITATION = /* GraphQL */ `
  mutation KitewatchRevokeOrganizationInvitation($id: ID!) {
    organizationInvitationRevoke(input: { id: $id }) {
      organizationInvitation {
        uuid
        state
      }
    }
  }
`;

/** A job by uuid; only command jobs can be canceled. */
export const FIND_JOB = /* GraphQL */ `
  query KitewatchFindJob($uuid: ID!) {
    job(uuid: $uuid) {
      ... on JobTypeCommand {
        id
        uuid
        state
      }
    }
  }
`;

export const CANCEL_JOB = /* GraphQL */ `
  mutation KitewatchCancelJob($id: ID!) {
    jobTypeCommandCancel(input: { id: $id }) {
      jobTypeCommand {
        uuid
        state
      }
    }
  }
`;

export const GRAPHQL_DOCUMENTS = {
  FIND_AGENT_TOKEN,
  REVOKE_AGENT_TOKEN,
  PIPELINE_BY_UUID,
  AGENT_PLACEMENT,
  FIND_ORGANIZATION_MEMBER,
  LIST_ORGANIZATION_MEMBERS,
  UPDATE_ORGANIZATION_MEMBER_ROLE,
  DELETE_ORGANIZATION_MEMBER,
  FIND_ORGANIZATION_INVITATION,
  REVOKE_ORGANIZATION_INVITATION,
  FIND_JOB,
  CANCEL_JOB,
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

export interface OrganizationMemberNode {
  readonly id: string;
  readonly uuid: string;
  readonly role: 'ADMIN' | 'MEMBER';
  readonly user: { readonly uuid: string; readonly name: string };
}

export interface FindOrganizationMemberData {
  readonly organizationMember: OrganizationMemberNode | null;
}

export interface ListOrganizationMembersData {
  readonly organization: {
    readonly members: {
      readonly edges: ReadonlyArray<{ readonly node: OrganizationMemberNode | null } | null> | null;
      readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null } | null;
    } | null;
  } | null;
}

export interface UpdateOrganizationMemberRoleData {
  readonly organizationMemberUpdate: { readonly organizationMember: { readonly uuid: string; readonly role: string } | null } | null;
}

export interface DeleteOrganizationMemberData {
  readonly organizationMemberDelete: { readonly deletedOrganizationMemberID: string } | null;
}

export interface FindOrganizationInvitationData {
  readonly organizationInvitation: { readonly id: string; readonly uuid: string; readonly email: string; readonly role: string; readonly state: string } | null;
}

export interface RevokeOrganizationInvitationData {
  readonly organizationInvitationRevoke: { readonly organizationInvitation: { readonly uuid: string; readonly state: string } | null } | null;
}

export interface FindJobData {
  /** Empty object for jobs that are not command jobs (block, trigger, wait). */
  readonly job: { readonly id?: string; readonly uuid?: string; readonly state?: string } | null;
}

export interface CancelJobData {
  readonly jobTypeCommandCancel: { readonly jobTypeCommand: { readonly uuid: string; readonly state: string } | null } | null;
}
