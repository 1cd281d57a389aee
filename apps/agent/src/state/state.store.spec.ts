import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRecord, StateStore, type AppliedRecord } from './state.store.js';

const record: AppliedRecord = {
  policy: 'zgc-only',
  version: 3,
  specHash: 'c'.repeat(64),
  spec: '{"apiVersion":"thp.fleet/v1"}',
  source: 'controller',
  appliedAt: '2026-11-25T10:00:00.000Z',
  backend: 'sim',
};

describe('StateStore', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('saves atomically and loads back exactly', () => {
    dir = mkdtempSync(join(tmpdir(), 'thp-state-'));
    const store = new StateStore(join(dir, 'nested'));
    expect(store.load()).toBeUndefined();
    store.save(record);
    expect(store.load()).toEqual(record);
    store.save({ ...record, version: 4 });
    expect(store.load()?.version).toBe(4);
    // No temporary file is left behind.
    expect(readdirSync(join(dir, 'nested'))).toEqual(['applied.json']);
    store.clear();
    expect(store.load()).toBeUndefined();
  });

  it('moves a damaged file aside and says so, never trusting it', () => {
    dir = mkdtempSync(join(tmpdir(), 'thp-state-'));
    const store = new StateStore(dir);
    writeFileSync(join(dir, 'applied.json'), '{"format":1,"policy":"p"');
    const logs: string[] = [];
    expect(store.load((m) => logs.push(m))).toBeUndefined();
    expect(logs[0]).toMatch(/not JSON/);
    const aside = readdirSync(dir).find((f) => f.startsWith('applied.json.damaged-'));
    expect(aside).toBeDefined();
    expect(readFileSync(join(dir, aside!), 'utf8')).toContain('"policy":"p"');
  });

  it('checks every field of the record', () => {
    const good = { format: 1, ...record };
    expect(parseRecord(good)).toEqual(record);
    expect(parseRecord({ ...good, format: 2 })).toMatch(/format 2/);
    expect(parseRecord({ ...good, version: -1 })).toMatch(/version/);
    expect(parseRecord({ ...good, specHash: 'xyz' })).toMatch(/specHash/);
    expect(parseRecord({ ...good, source: 'elsewhere' })).toMatch(/source/);
    expect(parseRecord({ ...good, policy: '' })).toMatch(/policy/);
    expect(parseRecord(null)).toMatch(/not an object/);
  });
});
