/**
 * Pressure stall information, as in /proc/pressure/memory and a cgroup's memory.pressure
 * (Documentation/accounting/psi.rst):
 *
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *
 * avgN are percentages of wall time over the last N seconds, with two decimals; total is the
 * cumulative stall time in microseconds.
 */

export interface PsiLine {
  readonly avg10: number;
  readonly avg60: number;
  readonly avg300: number;
  /** Cumulative stall time, microseconds. */
  readonly total: number;
}

export interface Psi {
  readonly some: PsiLine;
  /** Absent in the node-wide cpu file of older kernels; present for memory. */
  readonly full: PsiLine | undefined;
}

/** Parse a PSI file; throws naming the source and line when the text is not PSI. */
export function parsePsi(text: string, source: string): Psi {
  let some: PsiLine | undefined;
  let full: PsiLine | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const [kind, ...fields] = line.split(/\s+/);
    const values: Record<string, number> = {};
    for (const field of fields) {
      const eq = field.indexOf('=');
      const value = Number(field.slice(eq + 1));
      if (eq <= 0 || !Number.isFinite(value)) throw new Error(`${source}:${i + 1}: "${field}" is not name=value`);
      values[field.slice(0, eq)] = value;
    }
    const { avg10, avg60, avg300, total } = values;
    if (avg10 === undefined || avg60 === undefined || avg300 === undefined || total === undefined) {
      throw new Error(`${source}:${i + 1}: expected avg10, avg60, avg300 and total in "${line}"`);
    }
    const parsed = { avg10, avg60, avg300, total };
    if (kind === 'some') some = parsed;
    else if (kind === 'full') full = parsed;
    else throw new Error(`${source}:${i + 1}: unknown PSI line "${kind}"`);
  }
  if (!some) throw new Error(`${source}: no "some" line`);
  return { some, full };
}

/**
 * The value of the policy's pressure cell: memory `some avg10` in hundredths of a percent
 * (20.00 % = 2000), clamped to u32, as the decision contract defines it (semantics.md).
 */
export function pressureCellValue(psi: Psi): number {
  const hundredths = Math.round(psi.some.avg10 * 100);
  return Math.min(Math.max(hundredths, 0), 0xffffffff);
}
