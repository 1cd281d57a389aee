/**
 * The node-mode journal: one JSON file in the agent's state directory that records, step by
 * step, what the sequencer has done to the node, so a restarted agent can finish or undo it.
 *
 * Durability: every write goes to a temp file in the same directory, is fsync'd, renamed over
 * the journal and the directory is fsync'd, so after a crash the file holds either the old or
 * the new record, never a mix. The file exists only while thp-fleet manages the node's THP mode.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isControlPath, type NodeSettings, type SysfsValues } from './settings.js';

export const JOURNAL_FILE = 'node-mode.journal.json';
export const JOURNAL_FORMAT = 'thp-fleet/node-mode-journal/v1';

/** How a policy is enforced on this node: per-cgroup hook, global knobs only, or not at all. */
export type Enforcement = 'full' | 'node-level-only' | 'none';

/** The policy a sequence applies: the Assignment's identity and canonical spec, plus its node section. */
export interface PolicyRef {
  readonly policy: string;
  readonly version: number;
  /** sha256 of the canonical spec, lowercase hex. */
  readonly specHash: string;
  /** The canonical spec JSON (Assignment.spec), handed to the enforcement port as is. */
  readonly spec: string;
}

export interface NodeModeTarget extends PolicyRef {
  /** `spec.node`; undefined = the policy sets no node controls (the node keeps its own values). */
  readonly node?: NodeSettings;
}

/**
 * The apply paths. `fresh`: nothing enforced yet, the program is loaded deny-all first.
 * `switch`: a verified policy is already attached; the new one replaces it while THP is off.
 * `node-level`: no hook; only the node section is written.
 */
export type ApplyPath = 'fresh' | 'switch' | 'node-level';

/** Steps in the order they complete; the journal records the last completed one. */
export const APPLY_STEPS: Readonly<Record<ApplyPath, readonly ApplyStep[]>> = {
  fresh: ['begun', 'thp-off', 'deny-all-loaded', 'deny-all-verified', 'policy-loaded', 'policy-verified', 'node-written'],
  switch: ['begun', 'thp-off', 'policy-loaded', 'policy-verified', 'node-written'],
  'node-level': ['begun', 'node-written'],
};
export type ApplyStep =
  | 'begun'
  | 'thp-off'
  | 'deny-all-loaded'
  | 'deny-all-verified'
  | 'policy-loaded'
  | 'policy-verified'
  | 'node-written';

export const REMOVE_STEPS = ['begun', 'sysfs-restored', 'detached'] as const;
export type RemoveStep = (typeof REMOVE_STEPS)[number];

/** Why a sequence failed, as the agent reports it (see nack.ts for the proto mapping). */
export interface NodeModeError {
  readonly code: 'incompatible' | 'invalid-settings' | 'enforcement-failed' | 'sysfs-failed' | 'journal-mismatch';
  /** The Nack stage: the same names as NackStage (validate, compile, verify, attach, other). */
  readonly stage: 'validate' | 'compile' | 'attach' | 'verify' | 'other';
  readonly message: string;
  readonly detail: string;
}

export interface AppliedRecord {
  readonly target: NodeModeTarget;
  readonly enforcement: 'full' | 'node-level-only';
  /** The complete values the node holds under this policy (baseline overlaid with the node section). */
  readonly values: SysfsValues;
}

export type Operation =
  | {
      readonly kind: 'apply';
      readonly path: ApplyPath;
      readonly target: NodeModeTarget;
      readonly values: SysfsValues;
      readonly done: ApplyStep;
      /** Set when this apply puts back the previous policy after `revertOf` failed. */
      readonly revertOf?: { readonly policy: string; readonly version: number; readonly error: NodeModeError };
    }
  | {
      readonly kind: 'remove';
      readonly done: RemoveStep;
      /** Set when the removal undoes a failed apply rather than answering a Revoke. */
      readonly cause?: NodeModeError;
    };

export interface Journal {
  readonly format: typeof JOURNAL_FORMAT;
  /** Incremented on every write. */
  readonly seq: number;
  /** `/proc/sys/kernel/random/boot_id` when written: a different boot means the kernel state it describes is gone. */
  readonly bootId: string;
  readonly sysfsRoot: string;
  /** Every writable control's value before thp-fleet changed anything; recorded once, restored exactly. */
  readonly baseline: SysfsValues;
  readonly applied: AppliedRecord | null;
  readonly operation: Operation | null;
  readonly updatedAt: string;
}

/** The journal file is unreadable or does not have the expected shape. */
export class JournalError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`node-mode journal ${file}: ${reason}`);
    this.name = 'JournalError';
  }
}

export function journalFile(stateDir: string): string {
  return join(stateDir, JOURNAL_FILE);
}

/** Read the journal; null when there is none (the node is not managed). */
export async function readJournal(stateDir: string): Promise<Journal | null> {
  const file = journalFile(stateDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new JournalError(file, `cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return parseJournal(text, file);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Write-temp + fsync + rename + fsync(dir). */
export async function writeJournal(stateDir: string, journal: Journal): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const file = journalFile(stateDir);
  const tmp = `${file}.tmp-${process.pid}`;
  const handle = await open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(journal, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  await fsyncDir(stateDir);
}

/** Remove the journal (the node is back to its own values) and make that durable. */
export async function removeJournal(stateDir: string): Promise<void> {
  try {
    await unlink(journalFile(stateDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fsyncDir(stateDir);
}

// ---- validation ---------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  constructor(private readonly file: string) {}
  fail(path: string, reason: string): never {
    throw new JournalError(this.file, `${path}: ${reason}`);
  }
  obj(v: unknown, path: string): Obj {
    if (!isObj(v)) this.fail(path, 'expected an object');
    return v;
  }
  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'expected a string');
    return v;
  }
  int(v: unknown, path: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(path, 'expected a non-negative integer');
    return v;
  }
  oneOf<T extends string>(v: unknown, allowed: readonly T[], path: string): T {
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
      this.fail(path, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
    }
    return v as T;
  }
  values(v: unknown, path: string): SysfsValues {
    const o = this.obj(v, path);
    for (const [k, val] of Object.entries(o)) {
      if (!isControlPath(k)) this.fail(`${path}.${k}`, 'not a THP control path');
      this.str(val, `${path}["${k}"]`);
    }
    return o as SysfsValues;
  }
  target(v: unknown, path: string): NodeModeTarget {
    const o = this.obj(v, path);
    this.str(o['policy'], `${path}.policy`);
    this.int(o['version'], `${path}.version`);
    this.str(o['specHash'], `${path}.specHash`);
    this.str(o['spec'], `${path}.spec`);
    if (o['node'] !== undefined) this.obj(o['node'], `${path}.node`);
    return o as unknown as NodeModeTarget;
  }
  error(v: unknown, path: string): NodeModeError {
    const o = this.obj(v, path);
    this.oneOf(o['code'], ['incompatible', 'invalid-settings', 'enforcement-failed', 'sysfs-failed', 'journal-mismatch'], `${path}.code`);
    this.oneOf(o['stage'], ['validate', 'compile', 'attach', 'verify', 'other'], `${path}.stage`);
    this.str(o['message'], `${path}.message`);
    this.str(o['detail'], `${path}.detail`);
    return o as unknown as NodeModeError;
  }
}

/** Parse and check a journal's text; every problem names the file and the field. */
export function parseJournal(text: string, file: string): Journal {
  const c = new Checker(file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    c.fail('(file)', `not JSON (${(err as Error).message})`);
  }
  const j = c.obj(raw, '(file)');
  if (j['format'] !== JOURNAL_FORMAT) c.fail('format', `expected "${JOURNAL_FORMAT}", got ${JSON.stringify(j['format'])}`);
  c.int(j['seq'], 'seq');
  c.str(j['bootId'], 'bootId');
  c.str(j['sysfsRoot'], 'sysfsRoot');
  c.str(j['updatedAt'], 'updatedAt');
  c.values(j['baseline'], 'baseline');
  if (j['applied'] !== null) {
    const a = c.obj(j['applied'], 'applied');
    c.target(a['target'], 'applied.target');
    c.oneOf(a['enforcement'], ['full', 'node-level-only'], 'applied.enforcement');
    c.values(a['values'], 'applied.values');
  }
  if (j['operation'] !== null) {
    const op = c.obj(j['operation'], 'operation');
    const kind = c.oneOf(op['kind'], ['apply', 'remove'], 'operation.kind');
    if (kind === 'apply') {
      const path = c.oneOf(op['path'], ['fresh', 'switch', 'node-level'], 'operation.path');
      c.oneOf(op['done'], APPLY_STEPS[path], 'operation.done');
      c.target(op['target'], 'operation.target');
      c.values(op['values'], 'operation.values');
      if (op['revertOf'] !== undefined) {
        const r = c.obj(op['revertOf'], 'operation.revertOf');
        c.str(r['policy'], 'operation.revertOf.policy');
        c.int(r['version'], 'operation.revertOf.version');
        c.error(r['error'], 'operation.revertOf.error');
      }
    } else {
      c.oneOf(op['done'], REMOVE_STEPS, 'operation.done');
      if (op['cause'] !== undefined) c.error(op['cause'], 'operation.cause');
    }
  }
  return j as unknown as Journal;
}
