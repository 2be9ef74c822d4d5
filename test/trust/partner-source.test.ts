import { describe, expect, it } from 'vitest';
import { agentConnected, uid } from '../../lib/detections/builders.ts';
import { summary } from '../support/cli.ts';
import { replayCli } from './support.ts';

// Once a partner event source is configured, events from any other
// source are quarantined with that reason. The check is in the shared normalizer (lib/ocsf/normalize.ts).
const token = { uuid: uid('token', 'ci-linux'), description: 'ci-linux' };
const agent = { uuid: uid('agent', 'ci-1'), name: 'ci-1', ip: '3.80.1.1' };
const ours = agentConnected({ at: '2026-03-10T10:00:00Z', agent, token });
const theirs = { ...agentConnected({ at: '2026-03-10T10:01:00Z', agent, token, org: { uuid: uid('org', 'evil'), slug: 'evil-org' } }) };
const forged = { ...ours, id: 'f0f0f0f0-0000-4000-8000-000000000001', source: 'aws.partner/buildkite.com/acme-inc/9999-other-source' };

describe('partner event source', () => {
  it('quarantines events from any source but the configured one, with the reason', async () => {
    const config = { aws: { partnerEventBusName: ours.source } };
    const r = await replayCli({ envelopes: [ours, theirs, forged], config, args: ['--containment', 'off'] });
    expect(r.code).toBe(0);
    expect(summary(r.stderr)).toMatchObject({ events: 3, normalized: 1, quarantined: 2 });
    expect(r.quarantine.map((q) => q['reason'])).toEqual([
      expect.stringContaining(`source "${String(theirs.source)}" is not the configured partner event source "${String(ours.source)}"`),
      expect.stringContaining(`source "${String(forged.source)}" is not the configured partner event source "${String(ours.source)}"`),
    ]);
    // Nothing is lost: the quarantine keeps the input as it came.
    expect(r.quarantine.map((q) => q['input'])).toEqual([theirs, forged]);
  });

  it('accepts any Buildkite partner source while none is configured', async () => {
    const r = await replayCli({ envelopes: [ours, theirs], args: ['--containment', 'off'] });
    expect(summary(r.stderr)).toMatchObject({ events: 2, normalized: 2, quarantined: 0 });
  });
});
