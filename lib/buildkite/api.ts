import { apiPath, type BuildkiteClient } from './client.ts';
import {
  AGENT_PLACEMENT,
  CANCEL_JOB,
  DELETE_ORGANIZATION_MEMBER,
  FIND_AGENT_TOKEN,
  FIND_JOB,
  FIND_ORGANIZATION_INVITATION,
  FIND_ORGANIZATION_MEMBER,
  LIST_ORGANIZATION_MEMBERS,
  PIPELINE_BY_UUID,
  REVOKE_AGENT_TOKEN,
  REVOKE_ORGANIZATION_INVITATION,
  UPDATE_ORGANIZATION_MEMBER_ROLE,
  type AgentPlacementData,
  type CancelJobData,
  type DeleteOrganizationMemberData,
  type FindAgentTokenData,
  type FindJobData,
  type FindOrganizationInvitationData,
  type FindOrganizationMemberData,
  type ListOrganizationMembersData,
  type OrganizationMemberNode,
  type PipelineByUuidData,
  type RevokeAgentTokenData,
  type RevokeOrganizationInvitationData,
  type UpdateOrganizationMemberRoleData,
} from './graphql-documents.ts';

/**
 * The Buildkite operations containment uses, typed, with the paths and bodies of
 * ../shared/buildkite/api-notes.md. Results name the idempotent outcomes ("gone") instead of
 * throwing, so callers can treat a retry after success as success.
 */
export interface Cluster {
  readonly id: string;
  readonly graphql_id?: string;
  readonly name?: string;
}

export interface ClusterAgentToken {
  readonly id: string;
  readonly graphql_id?: string;
  readonly description?: string;
  readonly allowed_ip_addresses?: string | null;
  readonly expires_at?: string | null;
  readonly created_at?: string;
}

/** Only the create response carries the token value. */
export interface CreatedClusterAgentToken extends ClusterAgentToken {
  readonly token: string;
}

export interface LegacyAgentToken {
  readonly id: string;
  readonly uuid: string;
  readonly description: string | null;
  readonly revokedAt: string | null;
}

export type Gone = 'gone';

export class BuildkiteApi {
  readonly client: BuildkiteClient;
  readonly #record: ((call: string) => void) | undefined;

  /** `record` receives `METHOD /path` (or `graphql Operation`) for each logical call, for reports. */
  constructor(client: BuildkiteClient, record?: (call: string) => void) {
    this.client = client;
    this.#record = record;
  }

  async listClusters(org: string): Promise<Cluster[]> {
    const path = apiPath`/v2/organizations/${org}/clusters`;
    this.#record?.(`GET ${path}`);
    return this.client.restPaged<Cluster>('listClusters', path);
  }

  async listClusterTokens(org: string, clusterId: string): Promise<ClusterAgentToken[]> {
    const path = apiPath`/v2/organizations/${org}/clusters/${clusterId}/tokens`;
    this.#record?.(`GET ${path}`);
    return this.client.restPaged<ClusterAgentToken>('listClusterTokens', path);
  }

  async getClusterToken(org: string, clusterId: string, tokenId: string): Promise<ClusterAgentToken | undefined> {
    const path = apiPath`/v2/organizations/${org}/clusters/${clusterId}/tokens/${tokenId}`;
    this.#record?.(`GET ${path}`);
    const res = await this.client.rest<ClusterAgentToken>('getClusterToken', 'GET', path, { accept: [404] });
    return res.status === 404 ? undefined : res.body;
  }

  async createClusterToken(org: string, clusterId: string, input: { description: string; expiresAt?: string; allowedIpAddresses?: string }): Promise<CreatedClusterAgentToken> {
    const path = apiPath`/v2/organizations/${org}/clusters/${clusterId}/tokens`;
    this.#record?.(`POST ${path}`);
    const body: Record<string, string> = { description: input.description };
    if (input.expiresAt !== undefined) body['expires_at'] = input.expiresAt;
    if (input.allowedIpAddresses !== undefined) body['allowed_ip_addresses'] = input.allowedIpAddresses;
    const res = await this.client.rest<CreatedClusterAgentToken>('createClusterToken', 'POST', path, { body, idempotent: false });
    if (typeof res.body?.token !== 'string' || typeof res.body.id !== 'string') {
      throw new Error('Buildkite createClusterToken answered without the token id or value');
    }
    return res.body;
  }

  /** DELETE a cluster agent token: 204 revoked, 404 already gone. */
  async revokeClusterToken(org: string, clusterId: string, tokenId: string): Promise<'revoked' | Gone> {
    const path = apiPath`/v2/organizations/${org}/clusters/${clusterId}/tokens/${tokenId}`;
    this.#record?.(`DELETE ${path}`);
    const res = await this.client.rest('revokeClusterToken', 'DELETE', path, { accept: [404] });
    return res.status === 404 ? 'gone' : 'revoked';
  }

  /** A legacy (unclustered) agent token by uuid, through GraphQL; undefined when none exists. */
  async findLegacyAgentToken(org: string, uuid: string): Promise<LegacyAgentToken | undefined> {
    this.#record?.('graphql KitewatchFindAgentToken');
    const data = await this.client.graphql<FindAgentTokenData>('findAgentToken', FIND_AGENT_TOKEN, { slug: `${org}/${uuid}` });
    const t = data.agentToken;
    return t === null ? undefined : { id: t.id, uuid: t.uuid, description: t.description, revokedAt: t.revokedAt };
  }

  async revokeLegacyAgentToken(id: string, reason: string): Promise<{ revokedAt: string | null }> {
    this.#record?.('graphql KitewatchRevokeAgentToken');
    const data = await this.client.graphql<RevokeAgentTokenData>('agentTokenRevoke', REVOKE_AGENT_TOKEN, { id, reason });
    return { revokedAt: data.agentTokenRevoke?.agentToken.revokedAt ?? null };
  }

  /** PUT .../agents/{id}/stop {"force": true}: 204 stopped; 400 not connected; 404 gone. */
  async stopAgent(org: string, agentId: string, force: boolean): Promise<'stopped' | 'not-connected' | Gone> {
    const path = apiPath`/v2/organizations/${org}/agents/${agentId}/stop`;
    this.#record?.(`PUT ${path}`);
    const res = await this.client.rest('stopAgent', 'PUT', path, { body: { force }, accept: [400, 404] });
    if (res.status === 404) return 'gone';
    if (res.status === 400) return 'not-connected';
    return 'stopped';
  }

  /** POST .../queues/{id}/pause_dispatch {dispatch_paused_note}. */
  async pauseQueueDispatch(org: string, clusterId: string, queueId: string, note: string): Promise<'paused' | Gone | { rejected: string }> {
    const path = apiPath`/v2/organizations/${org}/clusters/${clusterId}/queues/${queueId}/pause_dispatch`;
    this.#record?.(`POST ${path}`);
    const res = await this.client.rest<{ message?: string }>('pauseQueueDispatch', 'POST', path, {
      body: { dispatch_paused_note: note },
      idempotent: true,
      accept: [404, 422],
    });
    if (res.status === 404) return 'gone';
    if (res.status === 422) return { rejected: res.body?.message ?? 'Unprocessable Entity' };
    return 'paused';
  }

  /** PUT .../builds/{number}/cancel (the build NUMBER); 422 when it is no longer cancelable. */
  async cancelBuild(org: string, pipeline: string, buildNumber: number): Promise<'canceled' | Gone | { rejected: string }> {
    const path = apiPath`/v2/organizations/${org}/pipelines/${pipeline}/builds/${buildNumber}/cancel`;
    this.#record?.(`PUT ${path}`);
    const res = await this.client.rest<{ message?: string }>('cancelBuild', 'PUT', path, { accept: [404, 422] });
    if (res.status === 404) return 'gone';
    if (res.status === 422) return { rejected: res.body?.message ?? 'Unprocessable Entity' };
    return 'canceled';
  }

  /** A pipeline's slug and organization from its uuid (GraphQL); undefined when none exists. */
  async pipelineByUuid(uuid: string): Promise<{ uuid: string; slug: string; org: string; archived: boolean } | undefined> {
    this.#record?.('graphql KitewatchPipelineByUuid');
    const data = await this.client.graphql<PipelineByUuidData>('pipelineByUuid', PIPELINE_BY_UUID, { uuid });
    const p = data.pipeline;
    return p === null ? undefined : { uuid: p.uuid, slug: p.slug, org: p.organization.slug, archived: p.archived };
  }

  /** The cluster and queue Buildkite placed an agent in; undefined when the agent does not exist. */
  async agentPlacement(org: string, uuid: string): Promise<{ clusterId?: string; queueId?: string; queueKey?: string } | undefined> {
    this.#record?.('graphql KitewatchAgentPlacement');
    const data = await this.client.graphql<AgentPlacementData>('agentPlacement', AGENT_PLACEMENT, { slug: `${org}/${uuid}` });
    const a = data.agent;
    if (a === null) return undefined;
    const q = a.clusterQueue;
    return {
      ...(q?.cluster?.uuid !== undefined ? { clusterId: q.cluster.uuid } : {}),
      ...(q !== null ? { queueId: q.uuid, queueKey: q.key } : {}),
    };
  }

  /** POST .../pipelines/{slug}/archive. */
  async archivePipeline(org: string, pipeline: string): Promise<'archived' | Gone | { rejected: string }> {
    const path = apiPath`/v2/organizations/${org}/pipelines/${pipeline}/archive`;
    this.#record?.(`POST ${path}`);
    const res = await this.client.rest<{ message?: string }>('archivePipeline', 'POST', path, { idempotent: true, accept: [404, 422] });
    if (res.status === 404) return 'gone';
    if (res.status === 422) return { rejected: res.body?.message ?? 'Unprocessable Entity' };
    return 'archived';
  }

  /** An organization membership by its uuid; undefined when none exists. */
  async findOrganizationMember(org: string, memberUuid: string): Promise<OrganizationMemberNode | undefined> {
    this.#record?.('graphql KitewatchFindOrganizationMember');
    const data = await this.client.graphql<FindOrganizationMemberData>('findOrganizationMember', FIND_ORGANIZATION_MEMBER, { slug: `${org}/${memberUuid}` });
    return data.organizationMember ?? undefined;
  }

  /** The membership of a user (by the user's uuid), paging through the organization's members. */
  async findMembershipOfUser(org: string, userUuid: string): Promise<OrganizationMemberNode | undefined> {
    let after: string | null = null;
    // Bounded: 100 pages of 100 members.
    for (let page = 0; page < 100; page++) {
      this.#record?.('graphql KitewatchListOrganizationMembers');
      const data: ListOrganizationMembersData = await this.client.graphql<ListOrganizationMembersData>('listOrganizationMembers', LIST_ORGANIZATION_MEMBERS, { slug: org, after });
      const members = data.organization?.members;
      for (const edge of members?.edges ?? []) if (edge?.node?.user.uuid === userUuid) return edge.node;
      if (members?.pageInfo?.hasNextPage !== true || members.pageInfo.endCursor === null) return undefined;
      after = members.pageInfo.endCursor;
    }
    return undefined;
  }

  async setOrganizationMemberRole(id: string, role: 'ADMIN' | 'MEMBER'): Promise<void> {
    this.#record?.('graphql KitewatchUpdateOrganizationMemberRole');
    await this.client.graphql<UpdateOrganizationMemberRoleData>('organizationMemberUpdate', UPDATE_ORGANIZATION_MEMBER_ROLE, { id, role });
  }

  async deleteOrganizationMember(id: string): Promise<void> {
    this.#record?.('graphql KitewatchDeleteOrganizationMember');
    await this.client.graphql<DeleteOrganizationMemberData>('organizationMemberDelete', DELETE_ORGANIZATION_MEMBER, { id });
  }

  async findOrganizationInvitation(org: string, invitationUuid: string): Promise<{ id: string; state: string; email: string; role: string } | undefined> {
    this.#record?.('graphql KitewatchFindOrganizationInvitation');
    const data = await this.client.graphql<FindOrganizationInvitationData>('findOrganizationInvitation', FIND_ORGANIZATION_INVITATION, { slug: `${org}/${invitationUuid}` });
    return data.organizationInvitation ?? undefined;
  }

  async revokeOrganizationInvitation(id: string): Promise<void> {
    this.#record?.('graphql KitewatchRevokeOrganizationInvitation');
    await this.client.graphql<RevokeOrganizationInvitationData>('organizationInvitationRevoke', REVOKE_ORGANIZATION_INVITATION, { id });
  }

  /** A job by uuid: undefined when none; `command: false` for block, trigger and wait jobs. */
  async findJob(uuid: string): Promise<{ command: true; id: string; state: string } | { command: false } | undefined> {
    this.#record?.('graphql KitewatchFindJob');
    const data = await this.client.graphql<FindJobData>('findJob', FIND_JOB, { uuid });
    if (data.job === null) return undefined;
    return typeof data.job.id === 'string' && typeof data.job.state === 'string' ? { command: true, id: data.job.id, state: data.job.state } : { command: false };
  }

  async cancelJob(id: string): Promise<void> {
    this.#record?.('graphql KitewatchCancelJob');
    await this.client.graphql<CancelJobData>('jobTypeCommandCancel', CANCEL_JOB, { id });
  }
}
