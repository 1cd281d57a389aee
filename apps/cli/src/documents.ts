/**
 * Files the operator hands thpctl (policies, rollout plans, gates): read them, parse YAML or JSON
 * with the `yaml` package (JSON is YAML), and point a problem's path
 * (`plan.steps[1].bake`) at its line and column in the file.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { LineCounter, isNode, parseDocument, type Document } from 'yaml';
import { CliError, EXIT, type Problem } from './exit-codes.js';

export interface InputFile {
  /** How the file is named in messages: the path as given, or "stdin". */
  readonly name: string;
  readonly text: string;
}

/** Read `path` (`-` = standard input). A missing or unreadable file is a usage error naming it. */
export async function readInput(path: string, cwd: string, stdin: NodeJS.ReadableStream, what: string): Promise<InputFile> {
  if (path === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return { name: 'stdin', text: Buffer.concat(chunks).toString('utf8') };
  }
  try {
    return { name: path, text: await readFile(resolve(cwd, path), 'utf8') };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new CliError(EXIT.usage, `cannot read ${what} ${path}: ${why}`);
  }
}

/** A policy document is sent as what it is: JSON when it looks like JSON, else YAML. */
export function contentTypeOf(file: InputFile): string {
  return file.name.toLowerCase().endsWith('.json') || file.text.trimStart().startsWith('{') ? 'application/json' : 'application/yaml';
}

export interface DataDocument {
  readonly value: unknown;
  /** Line and column (1-based) of the node at `path`, or of its nearest existing parent. */
  locate(path: readonly (string | number)[]): { line: number; column: number } | undefined;
}

/** Parse YAML or JSON; syntax errors are a validation error with every problem's line. */
export function parseData(file: InputFile, what: string): DataDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(file.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new CliError(
      EXIT.invalid,
      `${what} ${file.name} is not valid YAML or JSON`,
      doc.errors.map((e) => {
        const at = lineCounter.linePos(e.pos[0]);
        return { path: '', message: firstLine(e.message), line: at.line, column: at.col };
      }),
    );
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 });
  return { value, locate: (path) => locateIn(doc, lineCounter, path) };
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '');
}

function locateIn(doc: Document, lineCounter: LineCounter, path: readonly (string | number)[]): { line: number; column: number } | undefined {
  for (let n = path.length; n >= 0; n -= 1) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) {
      const at = lineCounter.linePos(node.range[0]);
      return { line: at.line, column: at.col };
    }
  }
  return undefined;
}

/**
 * `plan.steps[2].gates[0].tolerance` → ['steps', 2, 'gates', 0, 'tolerance'] after removing the
 * `root` prefix (`plan`); `a["x.y"]` keeps dotted keys. Undefined when the path is not under root.
 */
export function pathSegments(path: string, root: string): (string | number)[] | undefined {
  let rest: string;
  if (root === '') rest = path;
  else if (path === root) rest = '';
  else if (path.startsWith(`${root}.`) || path.startsWith(`${root}[`)) rest = path.slice(root.length);
  else return undefined;
  const segments: (string | number)[] = [];
  const re = /\.([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|^([^.[\]]+)/g;
  let consumed = 0;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    if (m.index !== consumed) return segments;
    consumed = m.index + m[0].length;
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else if (m[3] !== undefined) segments.push(m[3].replace(/\\(.)/g, '$1'));
    else if (m[4] !== undefined) segments.push(m[4]);
  }
  return segments;
}

/** Give each problem under `root` the line of its path in the file (problems that have one keep it). */
export function withLines(problems: readonly Problem[], doc: DataDocument, root: string): Problem[] {
  return problems.map((p) => {
    if (p.line !== undefined) return p;
    const segments = pathSegments(p.path, root);
    const at = segments === undefined ? undefined : doc.locate(segments);
    return at ? { ...p, line: at.line, column: at.column } : p;
  });
}
