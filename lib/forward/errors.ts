/**
 * Errors a remote sink raises before it sends anything: a malformed spec, a missing token, a
 * spill path that is taken, a bad retry setting. The CLI prints the message and exits 2.
 */
export class SinkSetupError extends Error {
  override readonly name: string = 'SinkSetupError';
}

export class SinkSpecError extends SinkSetupError {
  override readonly name = 'SinkSpecError';
}

export class SpillError extends SinkSetupError {
  override readonly name = 'SpillError';
}

export class RetryConfigError extends SinkSetupError {
  override readonly name = 'RetryConfigError';
}
