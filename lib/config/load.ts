import { readFileSync, existsSync } from 'node:fs';
import { KitewatchConfig } from './schema.ts';
import { describeIssues } from './issues.ts';

export { describeIssues };

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseConfig(raw: unknown, source = 'config'): KitewatchConfig {
  const result = KitewatchConfig.safeParse(raw ?? {});
  if (!result.success) {
    throw new ConfigError(`${source}: ${describeIssues(result.error)}`);
  }
  return result.data;
}

/**
 * Loads a config file. With no explicit path, `kitewatch.config.json` in the working
 * directory is used when present, and defaults otherwise.
 */
export function loadConfig(path?: string): KitewatchConfig {
  const file = path ?? (existsSync('kitewatch.config.json') ? 'kitewatch.config.json' : undefined);
  if (file === undefined) return parseConfig({}, 'defaults');
  if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new ConfigError(`${file}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return parseConfig(raw, file);
}
