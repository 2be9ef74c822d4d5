import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ConfigError, parseConfig } from '../../lib/config/load.ts';
import { DETECTOR_CONFIG_SCHEMAS, DETECTOR_IDS, DetectorsConfig } from '../../lib/detections/config.ts';
import { DETECTORS } from '../../lib/detections/index.ts';

describe('detectors config', () => {
  it('has a block with defaults for every detector, and nothing else', () => {
    const c = parseConfig({}).detectors;
    expect(Object.keys(c).sort()).toEqual([...DETECTOR_IDS].sort());
    expect(DETECTORS.map((d) => d.meta.id).sort()).toEqual([...DETECTOR_IDS].sort());
    expect(c['unusual-ip']).toMatchObject({ enabled: true, dedupWindowMinutes: 10080, learningPeriodHours: 24, allowedCidrs: [] });
    expect(c['token-spike']).toMatchObject({ windowMinutes: 10, factor: 4, minAgentRegistrations: 50 });
    expect(c['monitoring-disabled'].dedupWindowMinutes).toBe(15);
  });

  it('merges a partial block with the defaults', () => {
    const c = parseConfig({ detectors: { 'unusual-ip': { allowedCidrs: ['198.51.100.0/24'] } } }).detectors;
    expect(c['unusual-ip']).toMatchObject({ allowedCidrs: ['198.51.100.0/24'], learningPeriodHours: 24 });
    expect(c['token-spike'].enabled).toBe(true);
  });

  it('names an unknown detector id', () => {
    expect(() => parseConfig({ detectors: { 'unusual-ips': {} } })).toThrow(ConfigError);
    expect(() => parseConfig({ detectors: { 'unusual-ips': {} } })).toThrow(/unknown key "detectors\.unusual-ips"/);
  });

  it('names an unknown key inside a block', () => {
    expect(() => parseConfig({ detectors: { 'break-glass-edit': { iacActor: ['x'] } } })).toThrow(/unknown key "detectors\.break-glass-edit\.iacActor"/);
  });

  it('rejects bad values with the key and the fix', () => {
    expect(() => parseConfig({ detectors: { 'unusual-ip': { allowedCidrs: ['10.0.0.0/40'] } } })).toThrow(/detectors\.unusual-ip\.allowedCidrs\.0: .*invalid prefix length/);
    expect(() => parseConfig({ detectors: { 'token-spike': { alpha: 0 } } })).toThrow(/detectors\.token-spike\.alpha/);
    expect(() => parseConfig({ detectors: { 'break-glass-edit': { breakGlassWindows: [{ actors: ['a'], start: '2026-03-02T00:00:00Z', end: '2026-03-01T00:00:00Z', reason: 'x' }] } } })).toThrow(
      /breakGlassWindows\.0\.end: end must be after start/,
    );
  });

  it('describes every key (docs/configuration.md is generated from the descriptions)', () => {
    const schema = z.toJSONSchema(DetectorsConfig, { io: 'input', unrepresentable: 'any' }) as {
      properties: Record<string, { description?: string; properties: Record<string, { description?: string }> }>;
    };
    for (const id of DETECTOR_IDS) {
      const block = schema.properties[id];
      expect(block?.description, id).toBeTruthy();
      for (const [key, prop] of Object.entries(block?.properties ?? {})) expect(prop.description, `${id}.${key}`).toBeTruthy();
      expect(Object.keys(block?.properties ?? {})).toEqual(Object.keys(DETECTOR_CONFIG_SCHEMAS[id].shape));
    }
  });
});
