import { SinkSpecError } from './errors.ts';
import { HEC_LIMITS } from './hec.ts';

export { SinkSpecError };

/**
 * `--sink SPEC` for remote sinks. stdout and file:PATH are the caller's.
 *
 * | spec                         | meaning                                                       |
 * |------------------------------|---------------------------------------------------------------|
 * | `splunk-hec:URL`             | Splunk HEC; URL is the base, events go to URL/services/collector/event |
 * | `http:URL`                   | NDJSON batches POSTed to URL                                  |
 * | `http://...`, `https://...`  | shorthand for `http:http://...`, `http:https://...`           |
 *
 * URL must be absolute with its scheme (`http:127.0.0.1:8080/x` is refused with the fix in the
 * message: a missing scheme is not guessed, since plain http would send events unencrypted).
 * Credentials in the URL are refused (they would end up in shell history and logs; use the
 * environment). A `#fragment` is refused. Splunk's URL takes no `?query`: tokens never go there.
 * Plain `http://` to anything but a loopback host is refused when a secret would travel with it.
 */
export type RemoteSinkSpec =
  { readonly kind: 'splunk-hec'; readonly spec: string; readonly url: URL; readonly endpoint: string } | { readonly kind: 'http'; readonly spec: string; readonly url: URL; readonly endpoint: string };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isLoopback(url: URL): boolean {
  return LOOPBACK.has(url.hostname) || /^127\.\d+\.\d+\.\d+$/.test(url.hostname);
}

/** The spec as error messages show it: userinfo (a password, a token) masked. */
export function redactSpec(spec: string): string {
  return spec.replace(/[^/\s@]+@/g, '***@');
}

function parseUrl(rawSpec: string, raw: string, kind: RemoteSinkSpec['kind']): URL {
  const spec = redactSpec(rawSpec);
  const shownRaw = redactSpec(raw);
  const example = kind === 'splunk-hec' ? 'splunk-hec:https://splunk.example:8088' : 'http:https://siem.example/ingest';
  if (raw === '') throw new SinkSpecError(`--sink "${spec}": a URL is required after "${kind}:", e.g. ${example}`);
  if (!/^https?:\/\//i.test(raw)) {
    const guess = shownRaw.replace(/^\/\//, '');
    throw new SinkSpecError(`--sink "${spec}": "${shownRaw}" has no http:// or https:// scheme; write ${kind}:https://${guess} (or ${kind}:http://${guess} for a local test server)`);
  }
  if (!URL.canParse(raw)) throw new SinkSpecError(`--sink "${spec}": "${shownRaw}" is not a valid URL`);
  const url = new URL(raw);
  if (url.hostname === '') throw new SinkSpecError(`--sink "${spec}": the URL has no host`);
  if (url.username !== '' || url.password !== '') {
    throw new SinkSpecError(`--sink "${spec}": credentials in the URL are not accepted; ${kind === 'splunk-hec' ? 'set SPLUNK_HEC_TOKEN' : 'set KITEWATCH_HTTP_AUTHORIZATION'} instead`);
  }
  if (url.hash !== '') throw new SinkSpecError(`--sink "${spec}": the URL must not have a #fragment`);
  return url;
}

/** How a sink is named in output: query values may be keys (some intakes take one there), so not shown. */
export function displayName(spec: RemoteSinkSpec): string {
  return `${spec.kind}:${spec.url.origin}${spec.url.pathname}${spec.url.search === '' ? '' : '?…'}`;
}

/** Parses a remote sink spec; undefined when the spec is not a remote sink this module knows. */
export function parseSinkSpec(spec: string): RemoteSinkSpec | undefined {
  const shown = redactSpec(spec);
  if (spec.startsWith('splunk-hec:')) {
    const url = parseUrl(spec, spec.slice('splunk-hec:'.length), 'splunk-hec');
    if (url.search !== '') {
      throw new SinkSpecError(`--sink "${shown}": the HEC URL takes no ?query (the token goes in a header, from SPLUNK_HEC_TOKEN)`);
    }
    const base = url.pathname.replace(/\/+$/, '');
    if (/\/services\/collector(\/|$)/.test(base)) {
      const root = `${url.origin}${base.replace(/\/services\/collector.*$/, '')}`;
      throw new SinkSpecError(`--sink "${shown}": give the HEC base URL, without /services/collector (e.g. splunk-hec:${root})`);
    }
    return { kind: 'splunk-hec', spec, url, endpoint: `${url.origin}${base}${HEC_LIMITS.path}` };
  }
  // "http://host/x" is itself a URL (shorthand); "http:URL" wraps one.
  const bare = /^https?:\/\//.test(spec);
  if (bare || spec.startsWith('http:')) {
    const url = parseUrl(spec, bare ? spec : spec.slice('http:'.length), 'http');
    return { kind: 'http', spec, url, endpoint: url.href };
  }
  if (spec.startsWith('https:')) {
    throw new SinkSpecError(`--sink "${shown}": write http:https://${spec.slice('https:'.length).replace(/^\/\//, '')} (the sink is "http:", the URL follows it)`);
  }
  return undefined;
}
