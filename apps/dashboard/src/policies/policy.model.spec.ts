import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NEW_POLICY_TEMPLATE, checkPolicyText, describeChange, issueWhere, issuesByLine, lineDiff, nameIssue, offsetOf, serverIssues } from './policy.model.js';

const example = readFileSync(fileURLToPath(new URL('../../../../libs/policy/examples/zgc-only.yaml', import.meta.url)), 'utf8');
const lineOf = (text: string, needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

describe('validate as you type', () => {
  it('accepts the example policy and the new-policy template', () => {
    const check = checkPolicyText(example);
    expect(check.ok).toBe(true);
    expect(check.name).toBe('zgc-only');
    expect(checkPolicyText(NEW_POLICY_TEMPLATE).ok).toBe(true);
  });

  it('puts a bad value on its own line, with its path', () => {
    const text = example.replace('maxPtesNone: 64', 'maxPtesNone: 9999');
    const check = checkPolicyText(text);
    expect(check.ok).toBe(false);
    expect(check.errors).toHaveLength(1);
    const [error] = check.errors;
    expect(error?.path).toBe('spec.node.khugepaged.maxPtesNone');
    expect(error?.line).toBe(lineOf(text, 'maxPtesNone: 9999'));
    expect([...issuesByLine(check.errors).keys()]).toEqual([lineOf(text, 'maxPtesNone: 9999')]);
    // The name is still read from a document that does not validate.
    expect(check.name).toBe('zgc-only');
  });

  it('reports every error, each on its line, and YAML syntax errors with a position', () => {
    const text = example.replace('maxPtesNone: 64', 'maxPtesNone: -1').replace('defrag: defer+madvise', 'defrag: sometimes');
    const check = checkPolicyText(text);
    expect(check.errors.map((e) => e.line).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([lineOf(text, 'defrag: sometimes'), lineOf(text, 'maxPtesNone: -1')]);
    const syntax = checkPolicyText('apiVersion: thp.fleet/v1\nkind: [unclosed\n');
    expect(syntax.ok).toBe(false);
    expect(syntax.errors[0]?.message).toMatch(/^YAML syntax/);
    expect(syntax.errors[0]?.line).toBeGreaterThanOrEqual(2);
  });

  it('says where an issue is, and finds the caret offset of a line and column', () => {
    expect(issueWhere({ line: 7, column: 15 })).toBe('line 7, column 15');
    expect(issueWhere({ line: 7 })).toBe('line 7');
    expect(issueWhere({})).toBe('whole document');
    const text = 'ab\ncdef\ng';
    expect(offsetOf(text, 1)).toBe(0);
    expect(offsetOf(text, 2, 3)).toBe(5);
    expect(offsetOf(text, 2, 99)).toBe(7);
    expect(offsetOf(text, 9)).toBe(text.length);
  });

  it('flags a document that names another policy on the line of metadata.name', () => {
    const other = example.replace('name: zgc-only', 'name: zgc-other');
    const issue = nameIssue(other, checkPolicyText(other).name, 'zgc-only');
    expect(issue?.path).toBe('metadata.name');
    expect(issue?.line).toBe(lineOf(other, 'name: zgc-other'));
    expect(nameIssue(example, 'zgc-only', 'zgc-only')).toBeNull();
    expect(nameIssue('metadata: { name: x }\n', 'x', 'y')?.line).toBe(1);
  });

  it('maps the controller error details onto editor issues', () => {
    expect(serverIssues([{ path: 'body.spec.rules[0]', message: 'bad', line: 4, column: 2 }, { path: 'body', message: 'whole' }])).toEqual([
      { path: 'spec.rules[0]', message: 'bad', severity: 'error', line: 4, column: 2 },
      { path: '', message: 'whole', severity: 'error' },
    ]);
  });
});

describe('side-by-side line diff', () => {
  it('keeps equal lines aligned and pairs a replaced line as one changed row', () => {
    expect(lineDiff('a\nb\nc\n', 'a\nB\nc\n')).toEqual([
      { kind: 'same', left: 1, right: 1, text: 'a' },
      { kind: 'changed', left: 2, right: 2, before: 'b', after: 'B' },
      { kind: 'same', left: 3, right: 3, text: 'c' },
    ]);
  });

  it('shows insertions and deletions with the line numbers of their side', () => {
    expect(lineDiff('a\nc', 'a\nb\nc\nd')).toEqual([
      { kind: 'same', left: 1, right: 1, text: 'a' },
      { kind: 'added', right: 2, text: 'b' },
      { kind: 'same', left: 2, right: 3, text: 'c' },
      { kind: 'added', right: 4, text: 'd' },
    ]);
    expect(lineDiff('x\na\ny', 'a')).toEqual([
      { kind: 'removed', left: 1, text: 'x' },
      { kind: 'same', left: 2, right: 1, text: 'a' },
      { kind: 'removed', left: 3, text: 'y' },
    ]);
  });

  it('covers both texts completely: every line of each side appears once, in order', () => {
    const before = example;
    const after = example.replace('maxPtesNone: 64', 'maxPtesNone: 32').replace('    withoutHook: deny\n', '').concat('# end\n');
    const rows = lineDiff(before, after);
    const left = rows.flatMap((r) => (r.kind === 'same' ? [r.text] : r.kind === 'removed' ? [r.text] : r.kind === 'changed' ? [r.before] : []));
    const right = rows.flatMap((r) => (r.kind === 'same' ? [r.text] : r.kind === 'added' ? [r.text] : r.kind === 'changed' ? [r.after] : []));
    expect(left).toEqual(before.replace(/\n$/, '').split('\n'));
    expect(right).toEqual(after.replace(/\n$/, '').split('\n'));
    // The changed value, and the removed last line paired with the added one in its place.
    expect(rows.filter((r) => r.kind !== 'same')).toEqual([
      { kind: 'changed', left: lineOf(before, 'maxPtesNone'), right: lineOf(after, 'maxPtesNone'), before: '    khugepaged: { maxPtesNone: 64 }', after: '    khugepaged: { maxPtesNone: 32 }' },
      { kind: 'changed', left: lineOf(before, 'withoutHook'), right: lineOf(after, '# end'), before: '    withoutHook: deny', after: '# end' },
    ]);
  });

  it('says what a structural change is in words', () => {
    expect(describeChange({ path: 'spec.node.khugepaged.maxPtesNone', kind: 'changed', before: 64, after: 32 })).toBe('spec.node.khugepaged.maxPtesNone changed from 64 to 32');
    expect(describeChange({ path: 'spec.rules["zgc"]', kind: 'removed', before: { name: 'zgc' } })).toBe('spec.rules["zgc"] removed (was {"name":"zgc"})');
    expect(describeChange({ path: 'spec.node.defrag', kind: 'added', after: 'defer' })).toBe('spec.node.defrag added: "defer"');
  });
});
