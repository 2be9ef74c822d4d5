/**
 * unusual-ip test cases. Addresses are real and resolve through the bundled ip-location-db:
 * 3.80.0.0/12 is AS14618 Amazon (US), 185.220.101.0/24 AS60729 (DE), 86.1.2.3 AS5089 Virgin
 * Media (GB), 86.150.2.3 AS2856 BT (GB).
 */
import { agentConnected, audit, registrationBlocked, uid, type AgentRef } from './builders.ts';
import type { DetectorCase } from './types.ts';

const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const day = (d: number, time = '09:00:00'): string => `2026-03-${String(1 + d).padStart(2, '0')}T${time}Z`;
const agent = (name: string, ip: string): AgentRef => ({ uuid: uid('agent', name), name, ip, hostname: `ip-${ip.replaceAll('.', '-')}.ec2.internal` });
const jane = { uuid: uid('user', 'jane'), name: 'Jane Doe' };
const pipeline = { type: 'Pipeline', uuid: uid('pipeline', 'web'), name: 'web' };

export const unusualIpCases: readonly DetectorCase[] = [
  {
    name: 'agent token used from a new ASN after the learning period',
    kind: 'positive',
    events: [
      agentConnected({ at: day(0), agent: agent('ci-1', '3.80.10.1'), token }),
      agentConnected({ at: day(2), agent: agent('ci-2', '3.91.2.3'), token }),
      agentConnected({ at: day(2, '10:00:00'), agent: agent('rogue-1', '185.220.101.34'), token }),
      // Same network again while the incident is open: an Update naming the new agent too.
      agentConnected({ at: day(2, '10:05:00'), agent: agent('rogue-2', '185.220.101.35'), token }),
      // The same agent again: nothing new to act on, nothing raised.
      agentConnected({ at: day(2, '10:06:00'), agent: agent('rogue-2', '185.220.101.35'), token }),
    ],
    expect: [
      {
        at: 2,
        severity: 4,
        title: 'Agent token "ci-linux" used from a new network and country: AS60729',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: [uid('agent', 'rogue-1')],
      },
      {
        at: 3,
        severity: 4,
        title: 'Agent token "ci-linux" used from a new network and country: AS60729',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: [uid('agent', 'rogue-1'), uid('agent', 'rogue-2')],
        evidence: [2],
        update: true,
      },
    ],
  },
  {
    name: "an eu-west-1 fleet's agent token used from AWS Singapore: same ASN, new country and cloud region",
    kind: 'positive',
    events: [
      agentConnected({ at: day(0), agent: agent('eu-1', '34.240.1.1'), token }),
      agentConnected({ at: day(2), agent: agent('eu-2', '34.250.3.4'), token }),
      agentConnected({ at: day(2, '11:00:00'), agent: agent('sg-1', '52.220.1.1'), token }),
    ],
    expect: [
      {
        at: 2,
        severity: 4,
        title: 'Agent token "ci-linux" used from a new country: AS16509 Amazon.com, Inc. (SG, AWS ap-southeast-1), 52.220.1.1',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: [uid('agent', 'sg-1')],
      },
    ],
  },
  {
    name: 'an agent token used from a new cloud region of the same ASN and country (us-west-2 fleet, token used in us-east-2)',
    kind: 'positive',
    events: [
      agentConnected({ at: day(0), agent: agent('usw-1', '34.208.1.1'), token }),
      agentConnected({ at: day(2), agent: agent('usw-2', '54.200.1.1'), token }),
      agentConnected({ at: day(2, '11:00:00'), agent: agent('use-1', '3.128.1.1'), token }),
    ],
    expect: [
      {
        at: 2,
        severity: 4,
        title: 'used from a new cloud region: AS16509 Amazon.com, Inc. (US, AWS us-east-2), 3.128.1.1',
        target: { type: 'AgentToken', uid: token.uuid },
        implicated: [uid('agent', 'use-1')],
      },
    ],
  },
  {
    name: 'a fleet that moved region without acknowledgement: one finding for the incident, updated as new agents connect, not one a day',
    kind: 'positive',
    events: [
      agentConnected({ at: day(0), agent: agent('eu-1', '34.240.1.1'), token }),
      agentConnected({ at: day(2), agent: agent('eu-2', '34.250.3.4'), token }),
      ...Array.from({ length: 14 }, (_, d) => agentConnected({ at: day(3 + d), agent: agent(`fra-${d % 2}`, d % 2 === 0 ? '35.156.1.1' : '3.120.1.1'), token })),
    ],
    expect: [
      { at: 2, severity: 4, title: 'used from a new country: AS16509 Amazon.com, Inc. (DE, AWS eu-central-1)', target: { type: 'AgentToken', uid: token.uuid }, implicated: [uid('agent', 'fra-0')] },
      { at: 3, severity: 4, title: 'used from a new country', target: { type: 'AgentToken', uid: token.uuid }, implicated: [uid('agent', 'fra-0'), uid('agent', 'fra-1')], update: true },
    ],
  },
  {
    name: 'a region move acknowledged in config is learned: no finding',
    kind: 'negative',
    config: { acknowledged: [{ entity: token.uuid, networks: ['DE', 'aws:eu-central-1'], note: 'CI fleet moved to Frankfurt, CHG-1234' }] },
    events: [
      agentConnected({ at: day(0), agent: agent('eu-1', '34.240.1.1'), token }),
      agentConnected({ at: day(2), agent: agent('eu-2', '34.250.3.4'), token }),
      ...Array.from({ length: 14 }, (_, d) => agentConnected({ at: day(3 + d), agent: agent(`fra-${d}`, `35.156.1.${d + 1}`), token })),
    ],
    expect: [],
  },
  {
    name: 'autoscaling agents churning IPs inside one cloud ASN',
    kind: 'negative',
    events: Array.from({ length: 24 }, (_, i) =>
      agentConnected({ at: day(Math.floor(i / 8), `${String(6 + (i % 8) * 2).padStart(2, '0')}:15:00`), agent: agent(`asg-${i}`, `3.${80 + (i % 16)}.${(i * 37) % 256}.${(i * 91) % 256}`), token }),
    ),
    expect: [],
  },
  {
    name: 'a new network during the learning period is learned, not raised',
    kind: 'negative',
    events: [
      agentConnected({ at: day(0), agent: agent('ci-1', '3.80.10.1'), token }),
      agentConnected({ at: day(0, '12:00:00'), agent: agent('dc-1', '185.220.101.34'), token }),
      agentConnected({ at: day(3), agent: agent('dc-2', '185.220.101.40'), token }),
    ],
    expect: [],
  },
  {
    name: 'a new network inside allowedCidrs is not unusual',
    kind: 'negative',
    config: { allowedCidrs: ['185.220.101.0/24'] },
    events: [agentConnected({ at: day(0), agent: agent('ci-1', '3.80.10.1'), token }), agentConnected({ at: day(2), agent: agent('office-1', '185.220.101.34'), token })],
    expect: [],
  },
  {
    name: 'Agent Blocked is a finding at once, with the blocked agent implicated',
    kind: 'positive',
    events: [
      registrationBlocked({
        at: day(0),
        blockedIp: '185.220.101.34',
        clusterToken: { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '3.80.0.0/12' },
        agent: agent('rogue-1', '185.220.101.34'),
      }),
    ],
    expect: [
      {
        at: 0,
        severity: 4,
        title: 'Cluster token "prod cluster" used from AS60729',
        target: { type: 'ClusterToken', uid: uid('cluster-token', 'prod') },
        implicated: [uid('agent', 'rogue-1')],
      },
    ],
  },
  {
    name: 'Cluster Token Registration Blocked is a finding at once',
    kind: 'positive',
    events: [registrationBlocked({ at: day(0), blockedIp: '204.124.80.36', clusterToken: { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '202.144.160.0/24' } })],
    expect: [{ at: 0, severity: 4, title: 'outside its allowed IP addresses (202.144.160.0/24)', target: { type: 'ClusterToken', uid: uid('cluster-token', 'prod') } }],
  },
  {
    name: 'blocked registrations can be turned off',
    kind: 'negative',
    config: { blockedRegistrations: false },
    events: [registrationBlocked({ at: day(0), blockedIp: '204.124.80.36', clusterToken: { uuid: uid('cluster-token', 'prod'), description: 'prod cluster', allowedIps: '202.144.160.0/24' } })],
    expect: [],
  },
  {
    name: 'an actor acting from a new country',
    kind: 'positive',
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3' }),
      audit({ at: day(2), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.40.7' }),
      audit({ at: day(2, '11:00:00'), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '185.220.101.34' }),
    ],
    expect: [{ at: 2, severity: 4, title: 'Actor "Jane Doe" used from a new network and country', target: { type: 'Actor', uid: jane.uuid } }],
  },
  {
    name: 'an actor in a new ASN of a known country is Medium',
    kind: 'positive',
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3' }),
      audit({ at: day(2), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.150.2.3' }),
    ],
    expect: [{ at: 1, severity: 3, title: 'used from a new network: AS2856', target: { type: 'Actor', uid: jane.uuid } }],
  },
  {
    name: 'an API token named in the audit context is watched too',
    kind: 'positive',
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '3.80.1.1', context: { api_access_token_uuid: uid('api-token', 'deploy') } }),
      audit({ at: day(3), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '3.80.1.1', context: { api_access_token_uuid: uid('api-token', 'deploy') } }),
      audit({ at: day(3, '12:00:00'), type: 'BUILD_PAGE_SETTING_UPDATED', actor: jane, ip: '185.220.101.34', context: { api_access_token_uuid: uid('api-token', 'deploy') } }),
    ],
    expect: [
      { at: 2, severity: 4, title: 'API token', target: { type: 'ApiToken', uid: uid('api-token', 'deploy') }, related: [jane.uuid] },
      { at: 2, severity: 4, title: 'Actor "Jane Doe" used from a new network and country', target: { type: 'Actor', uid: jane.uuid }, related: [uid('api-token', 'deploy')] },
    ],
  },
  {
    name: "an API token named as GraphQL's AuditAPIContext names it (request_api_access_token_uuid) used from a new country",
    kind: 'positive',
    config: { entities: ['apiToken'] },
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3', via: { apiToken: uid('api-token', 'tf') } }),
      audit({ at: day(3), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.40.7', via: { apiToken: uid('api-token', 'tf') } }),
      audit({ at: day(3, '12:00:00'), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '185.220.101.34', via: { apiToken: uid('api-token', 'tf') } }),
    ],
    expect: [{ at: 2, severity: 4, title: 'API token', target: { type: 'ApiToken', uid: uid('api-token', 'tf') }, related: [jane.uuid] }],
  },
  {
    name: 'an audit event made through the agent API names the agent that made it (AuditAgentAPIContext)',
    kind: 'positive',
    config: { entities: ['actor'] },
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3' }),
      audit({ at: day(2), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '185.220.101.34', via: { agent: uid('agent', 'rogue-1') } }),
    ],
    expect: [{ at: 1, severity: 4, title: 'Actor "Jane Doe" used from a new network and country', target: { type: 'Actor', uid: jane.uuid }, implicated: [uid('agent', 'rogue-1')] }],
  },
  {
    name: 'ignored actors are not tracked',
    kind: 'negative',
    config: { ignoreActors: [{ uuid: jane.uuid, note: 'Jane Doe' }] },
    events: [
      audit({ at: day(0), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '86.1.2.3' }),
      audit({ at: day(2), type: 'PIPELINE_UPDATED', actor: jane, subject: pipeline, ip: '185.220.101.34' }),
    ],
    expect: [],
  },
  {
    name: 'a network unused for longer than networkMemoryDays is new again',
    kind: 'positive',
    config: { networkMemoryDays: 7 },
    events: [
      agentConnected({ at: day(0), agent: agent('ci-1', '3.80.10.1'), token }),
      agentConnected({ at: day(0, '10:00:00'), agent: agent('gcp-1', '34.120.1.1'), token }),
      // AWS is used again inside the memory window (and refreshed); Google is not.
      agentConnected({ at: day(5), agent: agent('ci-2', '3.80.10.2'), token }),
      agentConnected({ at: day(9), agent: agent('gcp-2', '34.120.1.2'), token }),
    ],
    expect: [{ at: 3, severity: 4, title: 'used from a new network: AS396982', target: { type: 'AgentToken', uid: token.uuid }, implicated: [uid('agent', 'gcp-2')] }],
  },
];
