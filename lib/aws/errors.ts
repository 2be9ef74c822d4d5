/**
 * What an AWS SDK error says about the caller's AWS setup, in words a user can act on; undefined
 * for any other error. These two come from the client itself, before any request is signed, so
 * they never quote a request (a task token, a secret).
 */
export function awsSetupProblem(error: unknown): string | undefined {
  const e = error as { name?: unknown } | null | undefined;
  if (isMissingRegion(error)) return 'the AWS region is missing: set AWS_REGION (kitewatch runbook also takes --region REGION)';
  if (e?.name === 'CredentialsProviderError') return 'no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
  return undefined;
}

/** The SDK client was built without a region (none given, none in the environment). */
export function isMissingRegion(error: unknown): boolean {
  return (error as { message?: unknown } | null | undefined)?.message === 'Region is missing';
}
