import { z } from 'zod';

/** `forwarding` in kitewatch.config.json. Owned by the forwarding module (issue 6). */
export const ForwardingConfig = z.object({}).strict().default({});
