import * as z from 'zod/mini';
import '../../lib/config/zod-en.ts';
import { EnvError, parseEnv, parseJsonEnv } from '../shared/env.ts';
import { DetectorsConfig } from '../../lib/detections/config.ts';
import type { DetectConfig } from '../../lib/detections/stage.ts';
import { IP_DATA_DIR_ENV } from '../../lib/enrich/ip.ts';

/** Environment variable names of the detector: the construct sets them, the handler parses them. */
export const DetectEnv = {
  eventBusName: 'KITEWATCH_EVENT_BUS_NAME',
  stateTableName: 'KITEWATCH_STATE_TABLE',
  /** JSON of the `detectors` block of kitewatch.config.json (validated here and at synth). */
  detectorsConfig: 'KITEWATCH_DETECTORS_CONFIG',
  /** Days the detectors remember the events they counted (aws.blindness, resolved at synth). */
  resentMemoryDays: 'KITEWATCH_RESENT_MEMORY_DAYS',
  /** Directory with asn/, geo-whois-asn-country/ and cloud-ranges data (a Lambda layer, e.g. /opt/ip-location-db). */
  ipDataDir: IP_DATA_DIR_ENV,
} as const;

const Schema = z.object({
  [DetectEnv.eventBusName]: z.string().check(z.minLength(1)),
  [DetectEnv.stateTableName]: z.string().check(z.minLength(1)),
  [DetectEnv.detectorsConfig]: z.optional(z.string()),
  [DetectEnv.ipDataDir]: z.string().check(z.minLength(1)),
  [DetectEnv.resentMemoryDays]: z.optional(z.string().check(z.regex(/^[1-9]\d*$/, 'must be a whole number of days'))),
});

export interface DetectSettings {
  readonly eventBusName: string;
  readonly stateTableName: string;
  readonly config: DetectConfig;
  readonly ipDataDir: string;
}

export { EnvError };

/** Fails the cold start (not each record) when the deployment forgot a variable or broke the config. */
export function parseDetectEnv(env: Record<string, string | undefined>): DetectSettings {
  const d = parseEnv(Schema, env, 'detector');
  const raw = d[DetectEnv.detectorsConfig];
  // Only the detectors block: the rest of the config schema would only grow the bundle.
  const detectors = parseJsonEnv(DetectorsConfig, raw === undefined || raw === '' ? '{}' : raw, DetectEnv.detectorsConfig);
  return {
    eventBusName: d[DetectEnv.eventBusName],
    stateTableName: d[DetectEnv.stateTableName],
    config: { detectors, aws: { blindness: { resentEventMemoryDays: d[DetectEnv.resentMemoryDays] === undefined ? undefined : Number(d[DetectEnv.resentMemoryDays]) } } },
    ipDataDir: d[DetectEnv.ipDataDir],
  };
}
