/**
 * Label selectors, with Kubernetes semantics (`matchLabels` AND `matchExpressions`), used by
 * rollout plans to target a fleet and to select the nodes of a step. Pure.
 */

/** Label keys and values: the same syntax the agent accepts for `--label k=v` (Kubernetes rules). */
export const LABEL_KEY_RE = /^(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
export const LABEL_VALUE_RE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$/;

export const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
export type SelectorOperator = (typeof SELECTOR_OPERATORS)[number];

export interface SelectorRequirement {
  readonly key: string;
  readonly operator: SelectorOperator;
  /** Non-empty for In / NotIn, empty for Exists / DoesNotExist. */
  readonly values: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly SelectorRequirement[];
}

export type Labels = Readonly<Record<string, string>>;

/** Matches every node. */
export const EVERYTHING: LabelSelector = { matchLabels: {}, matchExpressions: [] };

export function isEverything(selector: LabelSelector): boolean {
  return Object.keys(selector.matchLabels).length === 0 && selector.matchExpressions.length === 0;
}

export function matchesSelector(selector: LabelSelector, labels: Labels): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions) {
    const present = Object.hasOwn(labels, requirement.key);
    const value = present ? labels[requirement.key] : undefined;
    switch (requirement.operator) {
      case 'In':
        if (value === undefined || !requirement.values.includes(value)) return false;
        break;
      case 'NotIn':
        // Kubernetes: NotIn also matches nodes without the key.
        if (value !== undefined && requirement.values.includes(value)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/** `a=b,c in (x,y),!d`: a compact form for events and logs. */
export function formatSelector(selector: LabelSelector): string {
  const parts: string[] = Object.entries(selector.matchLabels).map(([k, v]) => `${k}=${v}`);
  for (const r of selector.matchExpressions) {
    switch (r.operator) {
      case 'In':
        parts.push(`${r.key} in (${r.values.join(',')})`);
        break;
      case 'NotIn':
        parts.push(`${r.key} notin (${r.values.join(',')})`);
        break;
      case 'Exists':
        parts.push(r.key);
        break;
      case 'DoesNotExist':
        parts.push(`!${r.key}`);
        break;
    }
  }
  return parts.length === 0 ? '(all nodes)' : parts.join(',');
}

export interface PathIssue {
  readonly path: string;
  readonly message: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Validate a selector from JSON. Returns the selector when there is no error; every problem is
 * appended to `issues` with its path under `path`.
 */
export function parseLabelSelector(value: unknown, path: string, issues: PathIssue[]): LabelSelector | undefined {
  if (!isRecord(value)) {
    issues.push({ path, message: 'must be an object with matchLabels and/or matchExpressions' });
    return undefined;
  }
  const before = issues.length;
  for (const key of Object.keys(value)) {
    if (key !== 'matchLabels' && key !== 'matchExpressions') issues.push({ path: `${path}.${key}`, message: 'unknown field (expected matchLabels, matchExpressions)' });
  }
  const matchLabels: Record<string, string> = {};
  if (value['matchLabels'] !== undefined) {
    const raw = value['matchLabels'];
    if (!isRecord(raw)) issues.push({ path: `${path}.matchLabels`, message: 'must be an object of label key to value' });
    else {
      for (const [key, v] of Object.entries(raw)) {
        const at = `${path}.matchLabels.${key}`;
        if (!LABEL_KEY_RE.test(key)) issues.push({ path: at, message: `"${key}" is not a valid label key` });
        if (typeof v !== 'string') issues.push({ path: at, message: 'must be a string' });
        else if (!LABEL_VALUE_RE.test(v)) issues.push({ path: at, message: `"${v}" is not a valid label value (at most 63 of letters, digits, "-", "_", ".")` });
        else matchLabels[key] = v;
      }
    }
  }
  const matchExpressions: SelectorRequirement[] = [];
  if (value['matchExpressions'] !== undefined) {
    const raw = value['matchExpressions'];
    if (!Array.isArray(raw)) issues.push({ path: `${path}.matchExpressions`, message: 'must be a list' });
    else {
      raw.forEach((item: unknown, i) => {
        const at = `${path}.matchExpressions[${i}]`;
        if (!isRecord(item)) {
          issues.push({ path: at, message: 'must be an object { key, operator, values }' });
          return;
        }
        for (const key of Object.keys(item)) {
          if (key !== 'key' && key !== 'operator' && key !== 'values') issues.push({ path: `${at}.${key}`, message: 'unknown field (expected key, operator, values)' });
        }
        const key = item['key'];
        const operator = item['operator'];
        const values = item['values'] ?? [];
        let ok = true;
        if (typeof key !== 'string' || !LABEL_KEY_RE.test(key)) {
          issues.push({ path: `${at}.key`, message: typeof key === 'string' ? `"${key}" is not a valid label key` : 'required: a label key' });
          ok = false;
        }
        if (typeof operator !== 'string' || !(SELECTOR_OPERATORS as readonly string[]).includes(operator)) {
          issues.push({ path: `${at}.operator`, message: `must be one of ${SELECTOR_OPERATORS.join(', ')}` });
          ok = false;
        }
        const parsedValues: string[] = [];
        if (!Array.isArray(values)) {
          issues.push({ path: `${at}.values`, message: 'must be a list of label values' });
          ok = false;
        } else {
          values.forEach((v: unknown, j) => {
            if (typeof v !== 'string' || !LABEL_VALUE_RE.test(v)) {
              issues.push({ path: `${at}.values[${j}]`, message: 'must be a valid label value (at most 63 of letters, digits, "-", "_", ".")' });
              ok = false;
            } else parsedValues.push(v);
          });
          if (operator === 'In' || operator === 'NotIn') {
            if (values.length === 0) {
              issues.push({ path: `${at}.values`, message: `${operator} needs at least one value` });
              ok = false;
            }
          } else if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0) {
            issues.push({ path: `${at}.values`, message: `${operator} takes no values` });
            ok = false;
          }
        }
        if (ok) matchExpressions.push({ key: key as string, operator: operator as SelectorOperator, values: parsedValues });
      });
    }
  }
  return issues.length === before ? { matchLabels, matchExpressions } : undefined;
}
