/**
 * Schemas that run in a Lambda use zod/mini: the same core and checks as classic zod at a quarter
 * of its cold start (it attaches no methods to each schema). It loads no messages by itself, and
 * quarantine reasons and configuration errors quote them, so every such module imports this file
 * for its side effect: `import * as z from 'zod/mini'; import '../config/zod-en.ts';`.
 * (Re-exporting the `z` namespace from here would defeat tree-shaking: every locale, 260 KB.)
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());
