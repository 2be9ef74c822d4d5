import { BatchImportFindingsCommand, type AwsSecurityFinding, type SecurityHubClient } from '@aws-sdk/client-securityhub';
import { ASFF_LIMITS, asffProblems, chunk } from './asff.ts';

/**
 * BatchImportFindings in calls of at most 100 findings, with a verdict per item: imported, or
 * failed with the reason (invalid before sending, listed in FailedFindings, or the call failed).
 * Items are keyed by the caller (an SQS message id) so failures map back to what to redeliver.
 */
export interface ImportItem<K> {
  readonly key: K;
  readonly finding: AwsSecurityFinding;
}

export interface ImportResult<K> {
  readonly imported: readonly K[];
  readonly failed: readonly { readonly key: K; readonly reason: string }[];
  readonly calls: number;
}

export async function importFindings<K>(client: Pick<SecurityHubClient, 'send'>, items: readonly ImportItem<K>[], perCall: number = ASFF_LIMITS.findingsPerCall): Promise<ImportResult<K>> {
  const imported: K[] = [];
  const failed: { key: K; reason: string }[] = [];
  // One finding per Id in a call: the newest state wins, and the older ones share its fate.
  const byId = new Map<string, { finding: AwsSecurityFinding; keys: K[] }>();
  for (const item of items) {
    const problems = asffProblems(item.finding);
    if (problems.length > 0) {
      failed.push({ key: item.key, reason: `invalid ASFF: ${problems.slice(0, 3).join('; ')}` });
      continue;
    }
    const id = item.finding.Id as string;
    const current = byId.get(id);
    if (current === undefined) byId.set(id, { finding: item.finding, keys: [item.key] });
    else {
      current.keys.push(item.key);
      if ((item.finding.UpdatedAt ?? '') >= (current.finding.UpdatedAt ?? '')) current.finding = item.finding;
    }
  }
  let calls = 0;
  for (const group of chunk([...byId.values()], Math.min(perCall, ASFF_LIMITS.findingsPerCall))) {
    calls++;
    try {
      const out = await client.send(new BatchImportFindingsCommand({ Findings: group.map((g) => g.finding) }));
      const rejected = new Map((out.FailedFindings ?? []).map((f) => [f.Id ?? '', `${f.ErrorCode ?? 'Failed'}: ${f.ErrorMessage ?? ''}`.trim()]));
      for (const g of group) {
        const reason = rejected.get(g.finding.Id as string);
        if (reason === undefined) imported.push(...g.keys);
        else for (const key of g.keys) failed.push({ key, reason });
      }
    } catch (cause) {
      const reason = `BatchImportFindings failed: ${(cause as Error).name}`;
      for (const g of group) for (const key of g.keys) failed.push({ key, reason });
    }
  }
  return { imported, failed, calls };
}
