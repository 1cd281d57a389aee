import { describe, expect, it } from 'vitest';
import { AppError } from './errors.js';
import { NODE_ID, parseLabelSelector, v, validate } from './validation.js';

const BODY = v.object({
  name: v.string({ min: 1, max: 5 }),
  count: v.optional(v.int({ min: 0, max: 10 })),
  tags: v.array(v.oneOf(['a', 'b'] as const), { unique: true }),
  nested: v.object({ id: NODE_ID }),
  maybe: v.nullable(v.int()),
});

function issues(value: unknown): { path: string; message: string }[] {
  try {
    validate(BODY, value, 'body');
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('invalid_argument');
    return [...(error as AppError).details];
  }
}

describe('validation', () => {
  it('accepts a valid value and keeps its types', () => {
    const parsed = validate(BODY, { name: 'abc', tags: ['a'], nested: { id: 'node-1' }, maybe: null }, 'body');
    expect(parsed).toEqual({ name: 'abc', tags: ['a'], nested: { id: 'node-1' }, maybe: null });
  });

  it('reports every problem with its path, not just the first', () => {
    const found = issues({ name: '', count: 11, tags: ['a', 'c', 'a'], nested: { id: '-bad-' }, extra: true });
    expect(found.map((i) => i.path).sort()).toEqual(['body.count', 'body.extra', 'body.maybe', 'body.name', 'body.nested.id', 'body.tags[1]', 'body.tags[2]'].sort());
    expect(found.find((i) => i.path === 'body.count')?.message).toBe('must be between 0 and 10, got 11');
    expect(found.find((i) => i.path === 'body.tags[2]')?.message).toContain('duplicate');
    expect(found.find((i) => i.path === 'body.extra')?.message).toContain('unknown field');
  });

  it('names the wrong type', () => {
    expect(issues('text')).toEqual([{ path: 'body', message: 'must be an object, got string "text"' }]);
  });

  it('describes itself as JSON Schema', () => {
    const schema = BODY.jsonSchema();
    expect(schema).toMatchObject({ type: 'object', additionalProperties: false, required: ['name', 'tags', 'nested', 'maybe'] });
    expect((schema['properties'] as Record<string, unknown>)['count']).toMatchObject({ type: 'integer', minimum: 0, maximum: 10 });
  });

  it('parses label selectors and rejects malformed ones with positions', () => {
    expect(parseLabelSelector('zone=a, class=jvm', 'query.labels')).toEqual({ zone: 'a', class: 'jvm' });
    expect(parseLabelSelector(undefined, 'query.labels')).toEqual({});
    expect(() => parseLabelSelector('zone=a,novalue', 'query.labels')).toThrow(AppError);
    try {
      parseLabelSelector('zone=a,novalue', 'query.labels');
    } catch (error) {
      expect((error as AppError).details).toEqual([{ path: 'query.labels[1]', message: '"novalue" is not key=value' }]);
    }
  });
});
