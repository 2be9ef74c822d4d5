import * as z from 'zod';
import { DetectorsConfig } from '../../lib/detections/config.ts';
import type { DetectConfig } from '../../lib/detections/stage.ts';
import { IP_DATA_DIR_ENV } from '../../lib/enrich/ip.ts';

/** Environment variable names of the detector: the construct sets them, the handler parses them. */
export const DetectEnv = {
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  stateTableName: 'KITEWATCH_STATE_TABLE',
  /** JSON of the `detectors` block of kitewatch.config.json (validated here and at synth). */
  detectorsConfig: 'KITEWATCH_DETECTORS_CONFIG',
  /** Directory with asn/ and asn-country/ ip-location-db CSVs (a Lambda layer, e.g. /opt/ip-location-db). */
  ipDataDir: IP_DATA_DIR_ENV,
} as const;

const Schema = z.object({
  [DetectEnv.eventBusName]: z.string().min(1),
  [DetectEnv.stateTableName]: z.string().min(1),
  [DetectEnv.detectorsConfig]: z.string().optional(),
  [DetectEnv.ipDataDir]: z.string().min(1),
});

export interface DetectSettings {
  readonly eventBusName: string;
  readonly stateTableName: string;
  readonly config: DetectConfig;
  readonly ipDataDir: string;
}

export class EnvError extends Error {
  override readonly name = 'EnvError';
}

/** Fails the cold start (not each record) when the deployment forgot a variable or broke the config. */
export function parseDetectEnv(env: Record<string, string | undefined>): DetectSettings {
  const parsed = Schema.safeParse(env);
  if (!parsed.success) {
    const missing = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new EnvError(`detector environment is incomplete: ${missing}`);
  }
  const raw = parsed.data[DetectEnv.detectorsConfig];
  let detectors: unknown = {};
  if (raw !== undefined && raw !== '') {
    try {
      detectors = JSON.parse(raw);
    } catch (cause) {
      throw new EnvError(`${DetectEnv.detectorsConfig} is not valid JSON`, { cause });
    }
  }
  // Only the detectors block: the rest of the config schema would only grow the bundle.
  const config = DetectorsConfig.safeParse(detectors);
  if (!config.success) {
    const issues = config.error.issues.map((i) =>
      i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => [...i.path, k].join('.')).join(', ')}` : `${i.path.join('.') || '(root)'}: ${i.message}`,
    );
    throw new EnvError(`${DetectEnv.detectorsConfig}: ${issues.join('; ')}`);
  }
  return {
    eventBusName: parsed.data[DetectEnv.eventBusName],
    stateTableName: parsed.data[DetectEnv.stateTableName],
    config: { detectors: config.data },
    ipDataDir: parsed.data[DetectEnv.ipDataDir],
  };
}
