/**
 * Every failure of the kernel backend is a BpfBackendError with a code; callers switch on
 * the code (the agent maps them to its status report), people read the message.
 */
export type BpfErrorCode =
  /** The N-API addon is not built or cannot be loaded (no libbpf headers, no compiler...). */
  | 'ADDON_UNAVAILABLE'
  /** A compiled BPF object is missing from build/bpf (no clang when the package was built). */
  | 'OBJECT_MISSING'
  /** The running kernel has no bpf_thp_ops: the hook cannot be attached or detached. */
  | 'HOOK_ABSENT'
  /** The kernel's hook ABI differs from the ABI the tables were loaded for. */
  | 'ABI_MISMATCH'
  /** The pin root is not on a mounted bpf filesystem. */
  | 'BPFFS_MISSING'
  /** open() found no (or incomplete) pinned state under the pin root. */
  | 'PINS_MISSING'
  /** Pinned maps were written by another layout version of this package. */
  | 'LAYOUT_MISMATCH'
  | 'INVALID_TABLES'
  | 'INVALID_INPUT'
  /** The handle was closed. */
  | 'CLOSED'
  /** A bpf() syscall or libbpf call failed; errno, op and log are set when known. */
  | 'KERNEL';

export interface BpfErrorDetails {
  readonly errno?: number;
  readonly op?: string;
  /** libbpf's messages, including the verifier log when a program was rejected. */
  readonly log?: string;
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
}

export class BpfBackendError extends Error {
  override readonly name = 'BpfBackendError';

  constructor(
    readonly code: BpfErrorCode,
    message: string,
    readonly details: BpfErrorDetails = {},
  ) {
    super(message);
  }
}

/** The fields the addon sets on the Errors it throws. */
interface AddonErrorFields {
  readonly errno?: unknown;
  readonly op?: unknown;
  readonly log?: unknown;
}

/** Wraps an addon error as KERNEL, keeping errno, op and the libbpf log; `what` gives context. */
export function kernelError(what: string, error: unknown): BpfBackendError {
  if (error instanceof BpfBackendError) return error;
  const fields: AddonErrorFields = typeof error === 'object' && error !== null ? error : {};
  const message = error instanceof Error ? error.message : String(error);
  const details: BpfErrorDetails = {
    ...(typeof fields.errno === 'number' ? { errno: fields.errno } : {}),
    ...(typeof fields.op === 'string' ? { op: fields.op } : {}),
    ...(typeof fields.log === 'string' && fields.log.length > 0 ? { log: fields.log } : {}),
  };
  return new BpfBackendError('KERNEL', `${what}: ${message}`, details);
}
