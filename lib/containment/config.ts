import { z } from 'zod';

/** `containment` in kitewatch.config.json. Owned by the containment module (issue 5). */
export const ContainmentConfig = z
  .object({
    mode: z
      .enum(['off', 'dry-run', 'enforce'])
      .default('dry-run')
      .describe('off: no actions; dry-run: report what would be done; enforce: act.'),
  })
  .strict()
  .default({ mode: 'dry-run' });
