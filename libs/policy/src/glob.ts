/**
 * Cgroup path globs. Paths are cgroup v2 paths relative to the hierarchy root, e.g.
 * `/workloads.slice/zgc-jvm`; the root is `/`.
 *
 * Syntax (minimatch with extglobs, negation and comments off): `*` and `?` within one path
 * segment, `[...]` character classes, `{a,b}` alternatives, and `**` as a whole segment for
 * zero or more segments. A glob selects the cgroups it matches together with their whole
 * subtrees, so `/a` and `/a/**` select the same cgroups (`/a/*` selects only what is below `/a`).
 */
import { Minimatch, braceExpand, type MinimatchOptions } from 'minimatch';

// nonegate/nocomment: a glob always starts with '/', so '!' and '#' are plain characters.
// noext: '+(..)' and friends are plain characters; dot: '*' also matches names starting with '.'.
// platform is fixed so matching never depends on where the code runs (browser, node, win32).
const MATCH_OPTIONS: MinimatchOptions = {
  dot: true,
  noext: true,
  nonegate: true,
  nocomment: true,
  nobrace: true,
  platform: 'linux',
};

/** Longest accepted glob or path (PATH_MAX). */
export const MAX_CGROUP_PATH_LENGTH = 4096;
/** Brace alternatives a single glob may expand to. */
export const MAX_GLOB_ALTERNATIVES = 64;

const MAGIC = /[*?[\]{}\\]/;
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Problems shared by globs and paths: absolute, no empty, '.' or '..' segments, no trailing '/'. */
function shapeProblems(text: string, what: string): string[] {
  if (text === '') return [`${what} is empty`];
  if (text.length > MAX_CGROUP_PATH_LENGTH) return [`${what} is longer than ${MAX_CGROUP_PATH_LENGTH} characters`];
  if (CONTROL.test(text)) return [`${what} contains a control character`];
  if (!text.startsWith('/')) {
    return [`${what} "${text}" must be absolute: start it with '/' (paths are relative to the cgroup v2 root)`];
  }
  if (text === '/') return [];
  const problems: string[] = [];
  if (text.endsWith('/')) problems.push(`${what} "${text}" must not end with '/'`);
  const segments = text.slice(1, text.endsWith('/') ? -1 : undefined).split('/');
  if (segments.includes('')) problems.push(`${what} "${text}" has an empty path segment ('//')`);
  if (segments.some((s) => s === '.' || s === '..')) {
    problems.push(`${what} "${text}" has a '.' or '..' segment; write the path out`);
  }
  return problems;
}

/** Why `path` is not a usable cgroup path, or undefined. */
export function cgroupPathProblem(path: string): string | undefined {
  return shapeProblems(path, 'cgroup path')[0];
}

/** Check brackets and braces; returns problems and an upper bound on brace alternatives. */
function syntaxProblems(glob: string): { problems: string[]; alternatives: number } {
  const problems: string[] = [];
  // Per open brace: commas seen directly inside it. The product of (commas + 1) over all
  // groups bounds the expansion size (nesting makes the true count smaller, never larger).
  const braceStack: number[] = [];
  let alternatives = 1;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '\\') {
      if (i === glob.length - 1) problems.push(`cgroup glob "${glob}" ends with an escape character '\\'`);
      i++;
    } else if (c === '[') {
      // A class ends at the first ']' after an optional '!'/'^' and one character, in this segment.
      let j = i + 1;
      if (glob[j] === '!' || glob[j] === '^') j++;
      if (glob[j] !== '/') j++; // the first class character may be ']'
      while (j < glob.length && glob[j] !== ']' && glob[j] !== '/') j++;
      if (glob[j] !== ']') {
        problems.push(`cgroup glob "${glob}" has an unclosed '[' (use '\\[' for a literal bracket)`);
        break;
      }
      i = j;
    } else if (c === '{') {
      braceStack.push(0);
    } else if (c === ',' && braceStack.length > 0) {
      braceStack[braceStack.length - 1] = (braceStack.at(-1) ?? 0) + 1;
    } else if (c === '}') {
      const commas = braceStack.pop();
      if (commas === undefined) {
        problems.push(`cgroup glob "${glob}" has a '}' without a matching '{'`);
        break;
      }
      alternatives *= commas + 1;
    } else if (c === '.' && glob[i + 1] === '.' && braceStack.length > 0) {
      problems.push(`cgroup glob "${glob}": ranges like {1..3} are not supported; list the alternatives: {1,2,3}`);
      break;
    }
  }
  if (braceStack.length > 0 && problems.length === 0) {
    problems.push(`cgroup glob "${glob}" has an unclosed '{'`);
  }
  return { problems, alternatives };
}

/**
 * Every syntax problem of a cgroup glob (empty array = valid), in plain English.
 * Minimatch accepts nearly any string, so the checks here are ours: they reject what would
 * silently never match or match something surprising.
 */
export function cgroupGlobProblems(glob: string): string[] {
  const shape = shapeProblems(glob, 'cgroup glob');
  if (shape.length > 0) return shape;
  const { problems, alternatives } = syntaxProblems(glob);
  if (problems.length > 0) return problems;
  if (alternatives > MAX_GLOB_ALTERNATIVES) {
    return [`cgroup glob "${glob}" expands to more than ${MAX_GLOB_ALTERNATIVES} alternatives`];
  }
  const found = new Set<string>();
  for (const alt of braceExpand(glob, { nobrace: false })) {
    const altProblems = alt === glob ? [] : shapeProblems(alt, `alternative "${alt}" of cgroup glob`);
    const segments = alt === '/' ? [] : alt.slice(1).split('/');
    if (segments.some((s) => s.includes('**') && s !== '**')) {
      altProblems.push(`cgroup glob "${glob}": '**' must be a whole path segment (use '*' inside a name)`);
    }
    for (const p of altProblems) found.add(p);
  }
  return [...found];
}

/**
 * The literal part of a glob: its leading segments up to the first one with a glob character.
 * Every cgroup the glob selects lies in the subtree of this path.
 */
export function literalPrefix(glob: string): string {
  const segments = glob === '/' ? [] : glob.slice(1).split('/');
  const literal: string[] = [];
  for (const s of segments) {
    if (MAGIC.test(s)) break;
    literal.push(s);
  }
  return '/' + literal.join('/');
}

/** `/a/b/c` -> [`/`, `/a`, `/a/b`, `/a/b/c`]: the path and its ancestors, root first. */
export function ancestorsAndSelf(path: string): string[] {
  if (path === '/') return ['/'];
  const out = ['/'];
  let at = path.indexOf('/', 1);
  while (at !== -1) {
    out.push(path.slice(0, at));
    at = path.indexOf('/', at + 1);
  }
  out.push(path);
  return out;
}

/**
 * A compiled set of globs (one rule's `match.cgroups`). `selectsRoot(path)` is true when the
 * set matches `path` itself; subtree coverage comes from asking for each ancestor too
 * (`selects`). Globs must be valid (`cgroupGlobProblems` empty).
 */
export class CgroupGlobSet {
  private readonly matchers: readonly Minimatch[];

  constructor(globs: readonly string[]) {
    const patterns = new Set<string>();
    for (const glob of globs) {
      for (const alt of braceExpand(glob)) {
        // A trailing `/**` adds only descendants, which subtree coverage already includes, and
        // (unlike minimatch) we want `/a/**` to match `/a` itself: strip it.
        let p = alt;
        while (p.endsWith('/**')) p = p.slice(0, -3);
        patterns.add(p === '' ? '/' : p);
      }
    }
    this.matchers = [...patterns].map((p) => new Minimatch(p, MATCH_OPTIONS));
  }

  /** Does a glob match `path` itself (not counting ancestors)? */
  selectsRoot(path: string): boolean {
    for (const m of this.matchers) if (m.match(path)) return true;
    return false;
  }

  /** Does a glob match `path` or one of its ancestors? */
  selects(path: string): boolean {
    return ancestorsAndSelf(path).some((p) => this.selectsRoot(p));
  }
}

/**
 * One glob as a subtree matcher: true when the glob matches `path` or one of its ancestors, as
 * a policy rule selects cgroups. The empty path (node-wide samples) is never matched. The glob
 * must be valid (`cgroupGlobProblems` empty).
 */
export function cgroupGlobMatcher(glob: string): (path: string) => boolean {
  const set = new CgroupGlobSet([glob]);
  return (path: string): boolean => path !== '' && set.selects(path);
}
