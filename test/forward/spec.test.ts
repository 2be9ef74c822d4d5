import { describe, expect, it } from 'vitest';
import { SinkSpecError } from '../../lib/forward/errors.ts';
import { parseSinkSpec } from '../../lib/forward/spec.ts';

describe('--sink spec syntax', () => {
  it.each([
    ['splunk-hec:https://splunk.example:8088', 'splunk-hec', 'https://splunk.example:8088/services/collector/event'],
    ['splunk-hec:https://splunk.example:8088/', 'splunk-hec', 'https://splunk.example:8088/services/collector/event'],
    ['splunk-hec:https://proxy.example/splunk', 'splunk-hec', 'https://proxy.example/splunk/services/collector/event'],
    ['splunk-hec:http://127.0.0.1:8088', 'splunk-hec', 'http://127.0.0.1:8088/services/collector/event'],
    ['http:https://siem.example/ingest', 'http', 'https://siem.example/ingest'],
    ['http:http://127.0.0.1:1234/x', 'http', 'http://127.0.0.1:1234/x'],
    ['http:https://siem.example/ingest?dataset=kitewatch', 'http', 'https://siem.example/ingest?dataset=kitewatch'],
    ['http://127.0.0.1:1234/x', 'http', 'http://127.0.0.1:1234/x'],
    ['https://siem.example/ingest', 'http', 'https://siem.example/ingest'],
  ])('%s -> %s %s', (spec, kind, endpoint) => {
    expect(parseSinkSpec(spec)).toMatchObject({ kind, endpoint, spec });
  });

  it.each(['stdout', 'file:out.ndjson', 'kafka:localhost:9092', 'splunk:https://x', ''])('%s is not a remote sink', (spec) => {
    expect(parseSinkSpec(spec)).toBeUndefined();
  });

  it.each([
    ['http:', /a URL is required after "http:"/],
    ['splunk-hec:', /a URL is required after "splunk-hec:"/],
    ['http:127.0.0.1:8080/path', /has no http:\/\/ or https:\/\/ scheme; write http:https:\/\/127\.0\.0\.1:8080\/path/],
    ['http:siem.example/ingest', /write http:https:\/\/siem\.example\/ingest/],
    ['splunk-hec:splunk.example:8088', /write splunk-hec:https:\/\/splunk\.example:8088/],
    ['http:ftp://siem.example/x', /no http:\/\/ or https:\/\/ scheme/],
    ['http:https://', /not a valid URL|no host/],
    ['http:https://user:pw@siem.example/x', /credentials in the URL are not accepted/],
    ['splunk-hec:https://x:tok@splunk.example', /set SPLUNK_HEC_TOKEN instead/],
    ['http:https://siem.example/x#frag', /#fragment/],
    ['splunk-hec:https://splunk.example:8088?token=abc', /takes no \?query/],
    ['splunk-hec:https://splunk.example:8088/services/collector/event', /without \/services\/collector \(e\.g\. splunk-hec:https:\/\/splunk\.example:8088\)/],
    ['splunk-hec:https://splunk.example/services/collector', /without \/services\/collector/],
    ['https:siem.example', /write http:https:\/\/siem\.example/],
    ['http:https://exa mple.com', /not a valid URL/],
  ])('%s is refused with the fix', (spec, message) => {
    expect(() => parseSinkSpec(spec)).toThrow(SinkSpecError);
    expect(() => parseSinkSpec(spec)).toThrow(message);
  });

  it('error messages mask credentials typed into the spec', () => {
    for (const spec of ['http:https://user:hunter2@siem.example/x', 'splunk-hec:https://x:hunter2@splunk.example', 'https://u:hunter2@siem.example/x#f', 'http:u:hunter2@siem.example']) {
      expect(() => parseSinkSpec(spec)).toThrow(/\*\*\*@/);
      try {
        parseSinkSpec(spec);
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });
});
