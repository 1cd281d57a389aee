import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { contentTypeOf, parseData, pathSegments, readInput, withLines } from './documents.js';
import { CliError, EXIT } from './exit-codes.js';

const PLAN = `# a plan
steps:
  - name: canary
    select: { count: 1 }
    bake: soon
  - name: fleet
    select:
      percent: 50
gates:
  - { name: psi, direction: up, tolerance: -1 }
`;

describe('pathSegments', () => {
  it('splits API paths below a root', () => {
    expect(pathSegments('body.plan.steps[2].gates[0].tolerance', 'body.plan')).toEqual(['steps', 2, 'gates', 0, 'tolerance']);
    expect(pathSegments('body.plan', 'body.plan')).toEqual([]);
    expect(pathSegments('body.gates[1]', 'body.gates')).toEqual([1]);
    expect(pathSegments('target.matchLabels["app.kubernetes.io/name"]', '')).toEqual(['target', 'matchLabels', 'app.kubernetes.io/name']);
    expect(pathSegments('body.version', 'body.plan')).toBeUndefined();
    expect(pathSegments('body.planet', 'body.plan')).toBeUndefined();
  });
});

describe('parseData and withLines', () => {
  it('points each problem at the line and column of its path, or of the nearest parent that exists', () => {
    const doc = parseData({ name: 'plan.yaml', text: PLAN }, 'plan');
    expect(doc.value).toMatchObject({ steps: [{ name: 'canary', bake: 'soon' }, { name: 'fleet' }] });
    const problems = withLines(
      [
        { path: 'body.plan.steps[0].bake', message: 'must be a duration' },
        { path: 'body.plan.steps[1].select', message: 'the last step must select the whole fleet' },
        { path: 'body.plan.gates[0].direction', message: 'must be one of ...' },
        { path: 'body.plan.gates[0].critical', message: 'required' },
        { path: 'body.plan.steps[0].name', message: 'has a line already', line: 99 },
        { path: 'body.version', message: 'not in the file' },
      ],
      doc,
      'body.plan',
    );
    expect(problems.map((p) => [p.path, p.line, p.column])).toEqual([
      ['body.plan.steps[0].bake', 5, 11],
      ['body.plan.steps[1].select', 8, 7],
      ['body.plan.gates[0].direction', 10, 29],
      // A missing field: the gate it belongs in.
      ['body.plan.gates[0].critical', 10, 5],
      ['body.plan.steps[0].name', 99, undefined],
      ['body.version', undefined, undefined],
    ]);
  });

  it('reports every syntax error with its line (a validation error, exit 3)', () => {
    let caught: unknown;
    try {
      parseData({ name: 'bad.yaml', text: 'steps:\n  - a: 1\n   b: [\n' }, 'plan');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliError);
    const error = caught as CliError;
    expect(error.exitCode).toBe(EXIT.invalid);
    expect(error.message).toBe('plan bad.yaml is not valid YAML or JSON');
    expect(error.problems.length).toBeGreaterThan(0);
    for (const p of error.problems) {
      expect(p.line).toBeGreaterThanOrEqual(2);
      expect(p.message).not.toMatch(/\n/);
    }
  });

  it('rejects duplicate keys instead of keeping the last one silently', () => {
    expect(() => parseData({ name: 'dup.yaml', text: 'a: 1\na: 2\n' }, 'plan')).toThrow(CliError);
  });

  it('parses JSON too', () => {
    expect(parseData({ name: 'p.json', text: '{"steps": [{"name": "x"}]}' }, 'plan').value).toEqual({ steps: [{ name: 'x' }] });
  });
});

describe('readInput and contentTypeOf', () => {
  it('reads a file relative to the working directory, or standard input for "-"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'thpctl-doc-'));
    try {
      writeFileSync(join(dir, 'p.yaml'), 'a: 1\n');
      expect(await readInput('p.yaml', dir, Readable.from([]), 'policy file')).toEqual({ name: 'p.yaml', text: 'a: 1\n' });
      expect(await readInput('-', dir, Readable.from([Buffer.from('x: '), 'y\n']), 'policy file')).toEqual({ name: 'stdin', text: 'x: y\n' });
      await expect(readInput('missing.yaml', dir, Readable.from([]), 'policy file')).rejects.toMatchObject({ exitCode: EXIT.usage, message: 'cannot read policy file missing.yaml: no such file' });
      await expect(readInput('.', dir, Readable.from([]), 'plan')).rejects.toMatchObject({ exitCode: EXIT.usage, message: 'cannot read plan .: it is a directory' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sends JSON documents as JSON and everything else as YAML', () => {
    expect(contentTypeOf({ name: 'p.json', text: 'a: 1' })).toBe('application/json');
    expect(contentTypeOf({ name: 'stdin', text: '  {"a": 1}' })).toBe('application/json');
    expect(contentTypeOf({ name: 'p.yaml', text: 'a: 1' })).toBe('application/yaml');
  });
});
