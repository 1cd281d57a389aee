/**
 * The policies page's model (pure): validate-as-you-type with libs/policy (the same parser and
 * validator the controller runs, so what the editor says is what the server will say), issues
 * per line for the editor's gutter, a side-by-side line diff of two sources, and words for the
 * controller's structural diff entries (libs/policy `diffPolicies`).
 */
import { parsePolicy, type PolicyIssue, type ThpPolicy } from '@thp-fleet/policy';

export interface EditorCheck {
  readonly ok: boolean;
  readonly errors: readonly PolicyIssue[];
  readonly warnings: readonly PolicyIssue[];
  /** metadata.name when it could be read (even from an invalid document). */
  readonly name: string | null;
  readonly policy: ThpPolicy | null;
}

/** `metadata.name` from text that may not be valid (for "this creates policy X" hints). */
function nameFrom(text: string): string | null {
  const m = /^metadata:\s*\n(?:[ \t]+.*\n)*?[ \t]+name:\s*["']?([a-z0-9][a-z0-9.-]*)["']?\s*$/m.exec(text) ?? /^metadata:\s*\{[^}]*\bname:\s*["']?([a-z0-9][a-z0-9.-]*)/m.exec(text);
  return m?.[1] ?? null;
}

export function checkPolicyText(text: string): EditorCheck {
  const result = parsePolicy(text);
  if (result.ok) return { ok: true, errors: [], warnings: result.warnings, name: result.policy.metadata.name, policy: result.policy };
  return { ok: false, errors: result.errors, warnings: result.warnings, name: nameFrom(text), policy: null };
}

/** Issues by 1-based line; issues without a line go under 0 (the whole document). */
export function issuesByLine(issues: readonly PolicyIssue[]): Map<number, PolicyIssue[]> {
  const out = new Map<number, PolicyIssue[]>();
  for (const issue of issues) {
    const line = issue.line ?? 0;
    const list = out.get(line) ?? [];
    list.push(issue);
    out.set(line, list);
  }
  return out;
}

/** "line 7, column 15" or "whole document". */
export function issueWhere(issue: Pick<PolicyIssue, 'line' | 'column'>): string {
  if (issue.line === undefined) return 'whole document';
  return issue.column === undefined ? `line ${issue.line}` : `line ${issue.line}, column ${issue.column}`;
}

/** The character offset of a 1-based line and column in `text` (for moving the caret there). */
export function offsetOf(text: string, line: number, column = 1): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', offset);
    if (next < 0) return text.length;
    offset = next + 1;
  }
  const end = text.indexOf('\n', offset);
  const lineEnd = end < 0 ? text.length : end;
  return Math.min(offset + Math.max(0, column - 1), lineEnd);
}

export type DiffRow =
  | { readonly kind: 'same'; readonly left: number; readonly right: number; readonly text: string }
  | { readonly kind: 'removed'; readonly left: number; readonly text: string }
  | { readonly kind: 'added'; readonly right: number; readonly text: string }
  | { readonly kind: 'changed'; readonly left: number; readonly right: number; readonly before: string; readonly after: string };

/**
 * A line diff of two texts, as rows for a side-by-side view: longest common subsequence of the
 * lines (policies are small: the controller limits them to 1 MiB and real ones are a few
 * hundred lines; beyond 4,000 x 4,000 lines the view falls back to one "changed" block).
 * Adjacent removed+added runs pair up as "changed" rows so the two sides line up.
 */
export function lineDiff(before: string, after: string): DiffRow[] {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  const n = a.length;
  const m = b.length;
  const ops: ('same' | 'del' | 'ins')[] = [];
  if (n * m > 16_000_000) {
    for (let i = 0; i < n; i++) ops.push('del');
    for (let j = 0; j < m; j++) ops.push('ins');
  } else {
    // lcs[i][j] = LCS length of a[i..] and b[j..], in one flat array.
    const width = m + 1;
    const lcs = new Uint32Array((n + 1) * width);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * width + j] = a[i] === b[j] ? lcs[(i + 1) * width + j + 1]! + 1 : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) {
        ops.push('same');
        i++;
        j++;
      } else if (j < m && (i === n || lcs[i * width + j + 1]! >= lcs[(i + 1) * width + j]!)) {
        ops.push('ins');
        j++;
      } else {
        ops.push('del');
        i++;
      }
    }
  }
  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  while (k < ops.length) {
    if (ops[k] === 'same') {
      rows.push({ kind: 'same', left: i + 1, right: j + 1, text: a[i]! });
      i++;
      j++;
      k++;
      continue;
    }
    const dels: number[] = [];
    const ins: number[] = [];
    while (k < ops.length && ops[k] !== 'same') {
      if (ops[k] === 'del') dels.push(i++);
      else ins.push(j++);
      k++;
    }
    const pairs = Math.min(dels.length, ins.length);
    for (let p = 0; p < pairs; p++) rows.push({ kind: 'changed', left: dels[p]! + 1, right: ins[p]! + 1, before: a[dels[p]!]!, after: b[ins[p]!]! });
    for (const d of dels.slice(pairs)) rows.push({ kind: 'removed', left: d + 1, text: a[d]! });
    for (const s of ins.slice(pairs)) rows.push({ kind: 'added', right: s + 1, text: b[s]! });
  }
  return rows;
}

function show(value: unknown): string {
  return value === undefined ? '' : JSON.stringify(value);
}

/** One diff entry in words: "spec.rules["zgc"].allow.orders changed from [9] to [4,9]". */
export function describeChange(entry: { path: string; kind: 'added' | 'removed' | 'changed'; before?: unknown; after?: unknown }): string {
  switch (entry.kind) {
    case 'added':
      return `${entry.path} added: ${show(entry.after)}`;
    case 'removed':
      return `${entry.path} removed (was ${show(entry.before)})`;
    case 'changed':
      return `${entry.path} changed from ${show(entry.before)} to ${show(entry.after)}`;
  }
}

/** The starting text of a new policy. */
export const NEW_POLICY_TEMPLATE = `apiVersion: thp.fleet/v1
kind: ThpPolicy
metadata:
  name: my-policy
  description: ""
spec:
  default: { action: deny }
  rules:
    - name: zgc
      match:
        cgroups: ["/workloads.slice/zgc-*"]
        contexts: [pagefault, khugepaged]
      allow: { sizes: ["2M"] }
`;

/**
 * On the page that adds versions of `expected`, a document naming another policy would create
 * or change that one instead: an error on the line of `metadata.name` (1-based), or null.
 */
export function nameIssue(text: string, name: string | null, expected: string): PolicyIssue | null {
  if (name === null || name === expected) return null;
  const lines = text.split('\n');
  let inMetadata = false;
  let line: number | undefined;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^metadata:/.test(l)) {
      inMetadata = true;
      if (/\bname:/.test(l)) {
        line = i + 1;
        break;
      }
      continue;
    }
    if (inMetadata && /^\S/.test(l)) inMetadata = false;
    if (inMetadata && /^\s+name:/.test(l)) {
      line = i + 1;
      break;
    }
  }
  return { path: 'metadata.name', message: `is "${name}", but this page adds versions of "${expected}" (a policy's name cannot change)`, severity: 'error', ...(line !== undefined ? { line } : {}) };
}

/** Server-side issues (ApiError details) as editor issues, so they land on the same lines. */
export function serverIssues(details: readonly { path: string; message: string; line?: number; column?: number }[]): PolicyIssue[] {
  return details.map((d) => ({
    path: d.path.replace(/^body\.?/, ''),
    message: d.message,
    severity: 'error' as const,
    ...(d.line !== undefined ? { line: d.line } : {}),
    ...(d.column !== undefined ? { column: d.column } : {}),
  }));
}
