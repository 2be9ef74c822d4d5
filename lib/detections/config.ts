import { z } from 'zod';

/**
 * `detectors.<id>` in kitewatch.config.json. Each detector validates its own block with the
 * schema it exports in its metadata; this file only fixes the common keys.
 * Owned by the detections module (issue 4).
 */
export const DetectorCommonConfig = z
  .object({
    enabled: z.boolean().default(true).describe('Turn the detector off without removing its config.'),
    dedupWindowMinutes: z
      .number()
      .int()
      .positive()
      .optional()
      .describe('Do not raise the same finding for the same entity again inside this window.'),
  })
  .strict();

export const DetectorsConfig = z
  .record(z.string(), z.record(z.string(), z.unknown()))
  .default({})
  .describe('Per-detector settings, keyed by detector id (see the detector catalog).');
