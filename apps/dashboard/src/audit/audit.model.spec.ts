import { describe, expect, it } from 'vitest';
import { changedFields, fieldRows, prettyJson, verificationText } from './audit.model.js';

describe('audit entries', () => {
  it('prints JSON with keys sorted at every depth so before and after line up', () => {
    expect(prettyJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: null } })).toBe('{\n  "a": {\n    "c": null,\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}');
    expect(prettyJson(null)).toBe('');
  });

  it('lays before and after out field by field, marking what changed', () => {
    expect(fieldRows({ before: { phase: 'judging', revision: 6 }, after: { phase: 'progressing', revision: 7, verdict: { v: 'pass' } } })).toEqual([
      { field: 'phase', before: '"judging"', after: '"progressing"', changed: true },
      { field: 'revision', before: '6', after: '7', changed: true },
      { field: 'verdict', before: null, after: '{\n  "v": "pass"\n}', changed: true },
    ]);
    expect(fieldRows({ before: { a: 1, b: null }, after: { a: 1, b: null } })).toEqual([
      { field: 'a', before: '1', after: '1', changed: false },
      { field: 'b', before: 'null', after: 'null', changed: false },
    ]);
    expect(fieldRows({ before: null, after: { a: 1 } })).toEqual([{ field: 'a', before: null, after: '1', changed: true }]);
    expect(fieldRows({ before: 'x', after: null })).toEqual([{ field: '', before: '"x"', after: null, changed: true }]);
    expect(fieldRows({ before: null, after: null })).toEqual([]);
  });

  it('names the top-level fields that changed', () => {
    expect(changedFields({ before: { a: 1, b: [1], c: 3 }, after: { a: 1, b: [2], d: 4 } })).toEqual(['b', 'c', 'd']);
    expect(changedFields({ before: null, after: 'x' })).toEqual([]);
  });

  it('puts the chain verification in words', () => {
    expect(verificationText({ ok: true, checked: 0, headSeq: null, headHash: null })).toEqual({ ok: true, text: 'The audit log is empty.' });
    expect(verificationText({ ok: true, checked: 12, headSeq: 12, headHash: 'ab'.repeat(32) }).text).toMatch(/^Chain intact: all 12 entries verified, head #12 \(abababababababab…\)/);
    expect(verificationText({ ok: false, checked: 4, headSeq: 4, headHash: 'x', firstBroken: { seq: 5, reason: 'row content does not match its hash (the row was changed)' } })).toEqual({
      ok: false,
      text: 'Chain broken at entry #5: row content does not match its hash (the row was changed) (4 entries before it verified).',
    });
  });
});
