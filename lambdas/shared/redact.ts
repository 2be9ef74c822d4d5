/**
 * Log redaction. Powertools Logger has no built-in redaction, so its `jsonReplacerFn` runs this
 * on every key/value it serializes: values under secret-sounding keys are dropped, and
 * token-shaped substrings anywhere else are masked.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEY = /(token|secret|passw(or)?d|authorization|api[-_]?key|credential|private[-_]?key|cookie|signature|session[-_]?key)/i;

// Shapes of credentials that can appear inside free text (commands, env dumps, error messages).
const SECRET_VALUES: readonly RegExp[] = [
  /\bbk[a-z]{2}_[A-Za-z0-9]{16,}/g, // Buildkite API, agent and cluster tokens (bkua_, bkct_, ...)
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key ids
  /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, // JWTs (Buildkite OIDC tokens)
  /\bgh[pousr]_[A-Za-z0-9]{30,}/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----|$)/g,
];

export function redactString(value: string): string {
  let out = value;
  for (const pattern of SECRET_VALUES) out = out.replace(pattern, REDACTED);
  return out;
}

/** A JSON.stringify replacer; objects are left alone so their children are visited in turn. */
export function redactReplacer(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (key !== '' && SECRET_KEY.test(key)) return REDACTED;
  return redactString(value);
}
