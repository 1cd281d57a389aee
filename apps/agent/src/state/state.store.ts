/**
 * What the node last applied, kept in the state directory so a restarted agent knows what it
 * enforces before the controller says anything: policy name, version, spec hash and the
 * canonical spec (so it can re-adopt or re-apply without a push), where it came from, and
 * when. Writes are atomic: a temporary file in the same directory, fsync, rename over the
 * old one, fsync of the directory; a crash leaves either the old or the new file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where an applied policy came from: the controller, or the fail-safe lease's baseline. */
export type AppliedSource = 'controller' | 'lease-baseline';

export interface AppliedRecord {
  readonly policy: string;
  /** The controller's version number; 0 for the lease baseline (not a controller version). */
  readonly version: number;
  /** sha256 of the canonical spec, lowercase hex. */
  readonly specHash: string;
  /** The canonical JSON spec. */
  readonly spec: string;
  readonly source: AppliedSource;
  /** ISO time of the apply. */
  readonly appliedAt: string;
  /** Backend that applied it ("bpf" | "sim"). */
  readonly backend: string;
}

const FILE = 'applied.json';
const FORMAT = 1;

export class StateStore {
  constructor(readonly directory: string) {}

  /** The last applied record; undefined when none. A damaged file is moved aside and reported, never trusted. */
  load(log?: (message: string) => void): AppliedRecord | undefined {
    const path = join(this.directory, FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const problem = (reason: string): undefined => {
      const aside = `${path}.damaged-${Date.now()}`;
      renameSync(path, aside);
      log?.(`${path}: ${reason}; moved to ${aside}, starting with nothing applied`);
      return undefined;
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return problem(`not JSON (${(error as Error).message})`);
    }
    const record = parseRecord(parsed);
    return typeof record === 'string' ? problem(record) : record;
  }

  save(record: AppliedRecord): void {
    mkdirSync(this.directory, { recursive: true, mode: 0o700 });
    const path = join(this.directory, FILE);
    const temporary = `${path}.tmp-${process.pid}`;
    writeFileSync(temporary, `${JSON.stringify({ format: FORMAT, ...record }, null, 2)}\n`, { mode: 0o600 });
    const fd = openSync(temporary, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    syncDirectory(this.directory);
  }

  /** Nothing applied any more (after a revoke). */
  clear(): void {
    rmSync(join(this.directory, FILE), { force: true });
    syncDirectory(this.directory);
  }
}

function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Check the persisted shape field by field; returns the record or what is wrong with it. */
export function parseRecord(value: unknown): AppliedRecord | string {
  if (typeof value !== 'object' || value === null) return 'not an object';
  const v = value as Record<string, unknown>;
  if (v['format'] !== FORMAT) return `format ${JSON.stringify(v['format'])} is not ${FORMAT}`;
  const str = (key: string): string | undefined => {
    const value = v[key];
    return typeof value === 'string' ? value : undefined;
  };
  const policy = str('policy');
  const specHash = str('specHash');
  const spec = str('spec');
  const appliedAt = str('appliedAt');
  const backend = str('backend');
  const source = str('source');
  const version = v['version'];
  if (!policy) return 'policy missing';
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) return 'version is not a non-negative integer';
  if (!specHash || !/^[0-9a-f]{64}$/.test(specHash)) return 'specHash is not a sha256 hex digest';
  if (spec === undefined) return 'spec missing';
  if (source !== 'controller' && source !== 'lease-baseline') return `source ${JSON.stringify(source)} is unknown`;
  if (!appliedAt || !backend) return 'appliedAt or backend missing';
  return { policy, version, specHash, spec, source, appliedAt, backend };
}
