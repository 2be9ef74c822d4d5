import * as z from 'zod';
import { AwsConfig } from '../infra/config.ts';
import { DetectorsConfig } from '../detections/config.ts';
import { ContainmentConfig } from '../containment/config.ts';
import { ForwardingConfig } from '../forward/config.ts';

/**
 * The one configuration schema: `kitewatch.config.json` for the CLI, and the same document
 * (file or `-c config=...` context) for `cdk synth` / `cdk deploy`. docs/configuration.md, the
 * reference, is generated from it (scripts/gen-docs.ts), so it cannot drift.
 */
export const KitewatchConfig = z
  .object({
    $schema: z.string().optional().describe('Optional JSON Schema reference for editors.'),
    aws: AwsConfig,
    detectors: DetectorsConfig,
    containment: ContainmentConfig,
    forwarding: ForwardingConfig,
  })
  .strict();

export type KitewatchConfig = z.infer<typeof KitewatchConfig>;
export type KitewatchConfigInput = z.input<typeof KitewatchConfig>;
