/**
 * Input validation at the boundary: small schema combinators that report every problem with
 * its path (never just the first), and describe themselves as JSON Schema for the OpenAPI
 * document, so the docs and the checks cannot disagree.
 */
import { AppError, type ErrorDetail } from './errors.js';

const INVALID: unique symbol = Symbol('invalid');
type Invalid = typeof INVALID;

export interface Schema<T> {
  /** Parse `value` found at `path`; push problems to `issues` and return INVALID when it is wrong. */
  readonly parse: (value: unknown, path: string, issues: ErrorDetail[]) => T | Invalid;
  readonly jsonSchema: () => Record<string, unknown>;
  /** Whether an object may omit this property. */
  readonly optional: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

function schema<T>(parse: Schema<T>['parse'], json: () => Record<string, unknown>, optional = false): Schema<T> {
  return { parse, jsonSchema: json, optional };
}

const describe = (value: unknown): string => {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`.slice(0, 60);
};

interface StringOptions {
  readonly min?: number;
  readonly max?: number;
  readonly pattern?: RegExp;
  readonly patternHint?: string;
  readonly description?: string;
}

function string(options: StringOptions = {}): Schema<string> {
  const { min = 0, max = 10_000, pattern, patternHint, description } = options;
  return schema<string>(
    (value, path, issues) => {
      if (typeof value !== 'string') {
        issues.push({ path, message: `must be a string, got ${describe(value)}` });
        return INVALID;
      }
      if (value.length < min) {
        issues.push({ path, message: min === 1 ? 'must not be empty' : `must be at least ${min} characters` });
        return INVALID;
      }
      const before = issues.length;
      if (value.length > max) issues.push({ path, message: `must be at most ${max} characters (got ${value.length})` });
      // Postgres text cannot hold NUL.
      if (value.includes('\u0000')) issues.push({ path, message: 'must not contain NUL characters' });
      if (pattern && !pattern.test(value)) issues.push({ path, message: patternHint ?? `must match ${pattern.source}` });
      return issues.length === before ? value : INVALID;
    },
    () => ({ type: 'string', minLength: min, maxLength: max, ...(pattern ? { pattern: pattern.source } : {}), ...(description ? { description } : {}) }),
  );
}

interface NumberOptions {
  readonly min?: number;
  readonly max?: number;
  readonly description?: string;
}

function int(options: NumberOptions = {}): Schema<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER, description } = options;
  return schema<number>(
    (value, path, issues) => {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        issues.push({ path, message: `must be an integer, got ${describe(value)}` });
        return INVALID;
      }
      if (value < min || value > max) {
        issues.push({ path, message: `must be between ${min} and ${max}, got ${value}` });
        return INVALID;
      }
      return value;
    },
    () => ({ type: 'integer', minimum: min, maximum: max, ...(description ? { description } : {}) }),
  );
}

/** An integer given as text (query strings, headers). */
function intString(options: NumberOptions = {}): Schema<number> {
  const inner = int(options);
  return schema<number>(
    (value, path, issues) => {
      if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return inner.parse(Number(value.trim()), path, issues);
      issues.push({ path, message: `must be an integer, got ${describe(value)}` });
      return INVALID;
    },
    () => inner.jsonSchema(),
  );
}

function boolean(): Schema<boolean> {
  return schema<boolean>(
    (value, path, issues) => {
      if (typeof value === 'boolean') return value;
      issues.push({ path, message: `must be true or false, got ${describe(value)}` });
      return INVALID;
    },
    () => ({ type: 'boolean' }),
  );
}

function oneOf<const T extends string>(values: readonly T[], description?: string): Schema<T> {
  return schema<T>(
    (value, path, issues) => {
      if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
      issues.push({ path, message: `must be one of ${values.join(', ')}, got ${describe(value)}` });
      return INVALID;
    },
    () => ({ type: 'string', enum: [...values], ...(description ? { description } : {}) }),
  );
}

function array<T>(item: Schema<T>, options: { readonly min?: number; readonly max?: number; readonly unique?: boolean } = {}): Schema<T[]> {
  const { min = 0, max = 10_000, unique = false } = options;
  return schema<T[]>(
    (value, path, issues) => {
      if (!Array.isArray(value)) {
        issues.push({ path, message: `must be an array, got ${describe(value)}` });
        return INVALID;
      }
      const before = issues.length;
      if (value.length < min) issues.push({ path, message: `must have at least ${min} item${min === 1 ? '' : 's'}` });
      if (value.length > max) {
        issues.push({ path, message: `must have at most ${max} items (got ${value.length})` });
        return INVALID;
      }
      const out: T[] = [];
      const seen = new Set<unknown>();
      value.forEach((element, index) => {
        const parsed = item.parse(element, `${path}[${index}]`, issues);
        if (parsed === INVALID) return;
        if (unique && seen.has(parsed)) issues.push({ path: `${path}[${index}]`, message: `duplicate value ${JSON.stringify(parsed)}` });
        seen.add(parsed);
        out.push(parsed);
      });
      return issues.length === before ? out : INVALID;
    },
    () => ({ type: 'array', items: item.jsonSchema(), minItems: min, maxItems: max, ...(unique ? { uniqueItems: true } : {}) }),
  );
}

function record<T>(value: Schema<T>, options: { readonly key?: Schema<string>; readonly maxKeys?: number } = {}): Schema<Record<string, T>> {
  const { key, maxKeys = 256 } = options;
  return schema<Record<string, T>>(
    (input, path, issues) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        issues.push({ path, message: `must be an object, got ${describe(input)}` });
        return INVALID;
      }
      const entries = Object.entries(input);
      const before = issues.length;
      if (entries.length > maxKeys) {
        issues.push({ path, message: `must have at most ${maxKeys} keys (got ${entries.length})` });
        return INVALID;
      }
      const out: Record<string, T> = {};
      for (const [name, element] of entries) {
        const at = `${path}.${name}`;
        if (key) key.parse(name, `${at} (key)`, issues);
        const parsed = value.parse(element, at, issues);
        if (parsed !== INVALID) out[name] = parsed;
      }
      return issues.length === before ? out : INVALID;
    },
    () => ({ type: 'object', additionalProperties: value.jsonSchema(), maxProperties: maxKeys }),
  );
}

type Shape = Record<string, Schema<unknown>>;
type RequiredKeys<S extends Shape> = { [K in keyof S]: S[K]['optional'] extends true ? never : K }[keyof S];
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K]['optional'] extends true ? K : never }[keyof S];
export type ObjectOf<S extends Shape> = { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };

function object<S extends Shape>(shape: S, description?: string): Schema<ObjectOf<S>> {
  return schema<ObjectOf<S>>(
    (input, path, issues) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) {
        issues.push({ path, message: `must be an object, got ${describe(input)}` });
        return INVALID;
      }
      const before = issues.length;
      const source = input as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const name of Object.keys(source)) {
        if (!(name in shape)) issues.push({ path: `${path}.${name}`, message: `unknown field (allowed: ${Object.keys(shape).join(', ')})` });
      }
      for (const [name, field] of Object.entries(shape)) {
        const value = source[name];
        if (value === undefined) {
          if (!field.optional) issues.push({ path: `${path}.${name}`, message: 'is required' });
          continue;
        }
        const parsed = field.parse(value, `${path}.${name}`, issues);
        if (parsed !== INVALID) out[name] = parsed;
      }
      return issues.length === before ? (out as ObjectOf<S>) : INVALID;
    },
    () => ({
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(Object.entries(shape).map(([name, field]) => [name, field.jsonSchema()])),
      required: Object.entries(shape)
        .filter(([, field]) => !field.optional)
        .map(([name]) => name),
      ...(description ? { description } : {}),
    }),
  );
}

function optional<T>(inner: Schema<T>): Schema<T> & { readonly optional: true } {
  return { parse: inner.parse, jsonSchema: inner.jsonSchema, optional: true };
}

function nullable<T>(inner: Schema<T>): Schema<T | null> {
  return schema<T | null>(
    (value, path, issues) => (value === null ? null : inner.parse(value, path, issues)),
    () => ({ ...inner.jsonSchema(), nullable: true }),
    inner.optional,
  );
}

/** Any JSON value (kept as given). */
function json(description?: string): Schema<unknown> {
  return schema<unknown>(
    (value) => value,
    () => ({ ...(description ? { description } : {}) }),
  );
}

export const v = { string, int, intString, boolean, oneOf, array, record, object, optional, nullable, json };

/** Validate `value` against `schema`; throw `invalid_argument` with every problem and its path. */
export function validate<T>(target: Schema<T>, value: unknown, root: string): T {
  const issues: ErrorDetail[] = [];
  const parsed = target.parse(value, root, issues);
  if (parsed === INVALID || issues.length > 0) {
    throw new AppError('invalid_argument', `invalid ${root}: ${issues.length} problem${issues.length === 1 ? '' : 's'}`, issues);
  }
  return parsed;
}

// Shared shapes.
export const NODE_ID = v.string({
  min: 1,
  max: 253,
  pattern: /^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$/,
  patternHint: 'must be letters, digits, ".", "_" or "-", starting and ending with a letter or digit',
  description: 'Node id (usually the host name)',
});
export const POLICY_NAME = v.string({
  min: 1,
  max: 63,
  pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/,
  patternHint: 'must be lowercase letters, digits and "-", starting and ending with a letter or digit (DNS label)',
  description: 'Policy name',
});
export const LABEL_KEY = v.string({ min: 1, max: 253, pattern: /^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$/, patternHint: 'must be a label key such as zone or thp.fleet/class' });
export const LABEL_VALUE = v.string({ max: 253 });
export const LABELS = v.record(LABEL_VALUE, { key: LABEL_KEY, maxKeys: 64 });

/** `k=v,k2=v2` (label selector in a query string). */
export function parseLabelSelector(text: string | undefined, path: string): Record<string, string> {
  if (text === undefined || text.trim() === '') return {};
  const issues: ErrorDetail[] = [];
  const out: Record<string, string> = {};
  text.split(',').forEach((part, index) => {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      issues.push({ path: `${path}[${index}]`, message: `"${part}" is not key=value` });
      return;
    }
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (LABEL_KEY.parse(key, `${path}[${index}]`, issues) !== INVALID) out[key] = value;
  });
  if (issues.length > 0) throw new AppError('invalid_argument', `invalid ${path}`, issues);
  return out;
}
