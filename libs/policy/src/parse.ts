/**
 * `parsePolicy(text)`: YAML or JSON text (JSON is YAML 1.2 flow style, so one parser reads
 * both) to a validated policy, with 1-based line and column for every issue so an editor can
 * point at the offending node.
 */
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { PolicyIssue, ValidationResult } from './spec.js';
import { validateDocument, type IssueTarget, type Segment } from './validate.js';

/** Longest policy text accepted (1 MiB); real policies are a few kB. */
export const MAX_POLICY_TEXT_LENGTH = 1 << 20;
/** YAML aliases allowed while building the document (guards against "billion laughs"). */
const MAX_ALIAS_COUNT = 100;

type Position = { line: number; column: number };

function positionOf(lineCounter: LineCounter, offset: number): Position {
  const { line, col } = lineCounter.linePos(offset);
  // linePos reports line 0 before the first recorded newline start; that is line 1.
  return line === 0 ? { line: 1, column: offset + 1 } : { line, column: col };
}

function hasRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && Array.isArray((node as { range?: unknown }).range);
}

/** The deepest YAML node along `segments` (the key node itself for key issues). */
function nodeAt(doc: Document, segments: readonly Segment[], target: IssueTarget): Node | undefined {
  let node: unknown = doc.contents;
  let best: Node | undefined = hasRange(node) ? node : undefined;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (pair === undefined) break;
      if (i === segments.length - 1 && target === 'key') return hasRange(pair.key) ? pair.key : best;
      node = hasRange(pair.value) ? pair.value : pair.key;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
    } else {
      break;
    }
    if (!hasRange(node)) break;
    best = node;
  }
  return best;
}

function failure(message: string, pos?: Position): ValidationResult {
  const issue: PolicyIssue = { path: '', message, severity: 'error', ...(pos ?? {}) };
  return { ok: false, errors: [issue], warnings: [] };
}

/**
 * Parse and validate a policy written in YAML or JSON. Returns every error (YAML syntax
 * errors, or every validation error) with its path and 1-based line/column. Never throws.
 */
export function parsePolicy(text: string): ValidationResult {
  if (typeof text !== 'string') return failure('policy text must be a string');
  if (text.length > MAX_POLICY_TEXT_LENGTH) {
    return failure(`policy text is ${text.length} characters; the limit is ${MAX_POLICY_TEXT_LENGTH}`);
  }
  const lineCounter = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  } catch (e) {
    return failure(`YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const yamlIssue = (e: { message: string; pos: [number, number] }, severity: 'error' | 'warning'): PolicyIssue => ({
    path: '',
    message: `YAML syntax: ${e.message}`,
    severity,
    ...positionOf(lineCounter, e.pos[0]),
  });
  const warnings = doc.warnings.map((w) => yamlIssue(w, 'warning'));
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => yamlIssue(e, 'error')), warnings };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // Unresolved or excessive aliases surface only here.
    const message = `YAML: ${e instanceof Error ? e.message : String(e)}`;
    return { ok: false, errors: [{ path: '', message, severity: 'error' }], warnings };
  }
  const result = validateDocument(value, (segments, target) => {
    const node = nodeAt(doc, segments, target);
    return node?.range ? positionOf(lineCounter, node.range[0]) : undefined;
  });
  return result.ok
    ? { ok: true, policy: result.policy, warnings: [...warnings, ...result.warnings] }
    : { ok: false, errors: result.errors, warnings: [...warnings, ...result.warnings] };
}
