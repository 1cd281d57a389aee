/**
 * Plain-text tables and small formatters for human output. Pure.
 *
 * Text that comes from the server (labels, messages, actors) is shown with control characters
 * replaced, so a node label cannot move the cursor or recolour the operator's terminal.
 */

export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
  /** Longer cells are cut to this many characters, ending in "…". */
  readonly max?: number;
}

/** Control characters (C0, DEL, C1) become "?"; tabs and newlines a space. */
export function printable(text: string): string {
  return text.replace(/[\t\n\r]/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

/** Width in terminal columns, counting code points (the API's text is ASCII in practice). */
export function width(text: string): number {
  return [...text].length;
}

export function truncate(text: string, max: number): string {
  if (max < 1) return '';
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

function pad(text: string, size: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, size - width(text)));
  return align === 'right' ? fill + text : text + fill;
}

/**
 * Columns separated by two spaces, headers in capitals, no trailing blanks. A row with fewer
 * cells than columns is padded with empty cells; extra cells are an error of the caller.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string[] {
  const cells = rows.map((row) => {
    if (row.length > columns.length) throw new Error(`a row has ${row.length} cells for ${columns.length} columns`);
    return columns.map((column, i) => {
      const text = printable(row[i] ?? '');
      return column.max === undefined ? text : truncate(text, column.max);
    });
  });
  const headers = columns.map((c) => c.header.toUpperCase());
  const widths = columns.map((_, i) => Math.max(width(headers[i] ?? ''), ...cells.map((row) => width(row[i] ?? ''))));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, i) => pad(cell, widths[i] ?? 0, columns[i]?.align ?? 'left'))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)];
}

/** "5s ago", "3m ago", "2h ago", "4d ago"; "in 20s" for a future time; "-" for none. */
export function ago(iso: string | null | undefined, now: number): string {
  if (iso === null || iso === undefined) return '-';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const delta = now - at;
  const text = shortDuration(Math.abs(delta));
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

/** 0s, 45s, 3m, 3m20s, 2h, 2h05m, 4d: two units at most, for humans. */
export function shortDuration(ms: number): string {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 === 0 ? `${h}h` : `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d`;
}

/** `policy@version`, or "-" for none. */
export function policyRef(ref: { readonly policy?: string | null; readonly version?: number | null } | null | undefined): string {
  if (!ref || ref.policy === null || ref.policy === undefined || ref.version === null || ref.version === undefined) return '-';
  return `${ref.policy}@${ref.version}`;
}

/** A short, still unambiguous in practice, prefix of a hex hash. */
export function shortHash(hash: string | null | undefined): string {
  return hash === null || hash === undefined || hash === '' ? '-' : hash.slice(0, 12);
}

/** UTC time to the second: 2026-11-25 10:00:03Z. */
export function timestamp(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return '-';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A value from JSON in one line: strings as they are, everything else as compact JSON. */
export function inline(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return truncate(printable(text), max);
}

/** "1 node", "3 nodes". */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
