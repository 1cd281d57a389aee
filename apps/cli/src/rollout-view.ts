/**
 * How a rollout looks in the terminal: the full status block (`rollout status`, redrawn in place
 * by `--watch` on a terminal), one line per event (`--watch` into a file or pipe) and a one-line
 * summary. Pure: `now` is passed in.
 */
import type { Judgment, Rollout, RolloutDetail, RolloutEvent, RolloutStep } from './api-types.js';
import { ago, inline, plural, printable, renderTable, shortDuration, timestamp } from './table.js';

interface Selector {
  readonly name?: unknown;
  readonly labels?: unknown;
  readonly amount?: { readonly kind?: unknown; readonly count?: unknown; readonly percent?: unknown };
}

export function stepName(step: RolloutStep | undefined): string {
  const name = (step?.selector as Selector | null | undefined)?.name;
  return typeof name === 'string' ? name : '';
}

/** `count 2`, `50%`, `all`, each with ` where zone=a` when the step is restricted by labels. */
export function selectorText(selector: unknown): string {
  const s = (selector ?? {}) as Selector;
  const amount = s.amount;
  let text = '?';
  if (amount?.kind === 'count' && typeof amount.count === 'number') text = `count ${amount.count}`;
  else if (amount?.kind === 'percent' && typeof amount.percent === 'number') text = `${amount.percent}%`;
  else if (amount?.kind === 'all') text = 'all';
  const labels = labelSelectorText(s.labels);
  return labels === '' ? text : `${text} where ${labels}`;
}

/** `k=v,k2=v2` for matchLabels; other selector parts as compact JSON. */
export function labelSelectorText(selector: unknown): string {
  if (selector === null || selector === undefined || typeof selector !== 'object') return '';
  const { matchLabels, ...rest } = selector as { matchLabels?: unknown };
  const parts: string[] = [];
  if (matchLabels && typeof matchLabels === 'object') for (const [k, v] of Object.entries(matchLabels as Record<string, unknown>)) parts.push(`${k}=${String(v)}`);
  const others = Object.entries(rest).filter(([, v]) => !(Array.isArray(v) && v.length === 0) && v !== undefined && v !== null);
  if (others.length > 0) parts.push(inline(Object.fromEntries(others), 60));
  return parts.join(',');
}

/** +12.3%, -4.0%; "-" when unknown. */
export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const p = value * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

/** The verdicts of the newest judgment attempt (of the newest judged step). */
export function latestJudgments(judgments: readonly Judgment[]): Judgment[] {
  if (judgments.length === 0) return [];
  const newest = judgments.reduce((a, b) => (b.step > a.step || (b.step === a.step && b.attempt > a.attempt) ? b : a));
  return judgments.filter((j) => j.step === newest.step && j.attempt === newest.attempt).sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
}

function versions(r: Rollout): string {
  return `${r.policy} ${r.fromVersion === null ? 'none' : `v${r.fromVersion}`} → v${r.toVersion}`;
}

/** Where the rollout is, in words, with the running clock (bake end, judging deadline). */
export function phaseText(r: Rollout, steps: number, now: number): string {
  const step = r.step >= 0 ? ` step ${r.step + 1}/${steps}` : '';
  switch (r.phase) {
    case 'baking':
      return `baking${step}${r.bakeUntil ? `, bake ends ${ago(r.bakeUntil, now)}` : ''}`;
    case 'judging':
      return `judging${step}${r.judging ? `, attempt ${r.judging.attempt}, deadline ${ago(r.judging.deadline, now)}` : ''}`;
    case 'paused':
      return `paused${step}${r.pausedFrom ? ` (was ${r.pausedFrom})` : ''}`;
    default:
      return `${r.phase}${step}`;
  }
}

/** One line: `ro-… zgc-only v1 → v2: baking step 1/2, 3 nodes touched`. */
export function summaryLine(detail: RolloutDetail, now: number): string {
  const r = detail.rollout;
  const nacked = r.nacked.length > 0 ? `, ${r.nacked.length} NACKed` : '';
  const reason = r.reason ? ` (${printable(r.reason)})` : '';
  return `${r.id} ${versions(r)}: ${phaseText(r, detail.steps.length, now)}, ${plural(r.touched.length, 'node')} touched${nacked}${reason}`;
}

/** One rollout event as a log line. */
export function eventLine(e: RolloutEvent): string {
  const move = e.from !== null && e.from !== e.to ? `${e.from} → ${e.to}` : e.to;
  return `${timestamp(e.at)}  ${move}: ${printable(e.message)}`;
}

/** The status block: header, steps table, the newest verdicts, the newest events. */
export function renderRollout(detail: RolloutDetail, now: number, options: { readonly events?: number } = {}): string[] {
  const r = detail.rollout;
  const lines: string[] = [];
  lines.push(`rollout ${r.id}  ${r.kind}  ${versions(r)}  by ${printable(r.createdBy)}, ${ago(r.createdAt, now)}`);
  lines.push(`phase:    ${phaseText(r, detail.steps.length, now)}   (revision ${r.revision})`);
  if (r.reason) lines.push(`reason:   ${printable(r.reason)}`);
  if (r.gateSkipReason) lines.push(`gates skipped: ${printable(r.gateSkipReason)}`);
  lines.push(`nodes:    ${r.touched.length} touched${r.nacked.length > 0 ? `, NACKed: ${r.nacked.join(', ')}` : ''}`);
  lines.push('');
  const rows = detail.steps.map((s) => [
    `${s.index === r.step && !isEnded(r.phase) ? '>' : ' '}${s.index + 1}`,
    stepName(s),
    selectorText(s.selector),
    shortDuration(s.bakeMs),
    Array.isArray(s.gates) ? String(s.gates.length) : '0',
    String(s.cohort.length),
    s.state,
  ]);
  lines.push(
    ...renderTable(
      [{ header: 'step', align: 'right' }, { header: 'name', max: 24 }, { header: 'select', max: 40 }, { header: 'bake' }, { header: 'gates', align: 'right' }, { header: 'nodes', align: 'right' }, { header: 'state' }],
      rows,
    ),
  );
  const verdicts = latestJudgments(detail.judgments);
  const first = verdicts[0];
  if (first) {
    lines.push('');
    lines.push(`verdicts of step ${first.step + 1}, attempt ${first.attempt} (${ago(first.judgedAt, now)}): canary vs baseline`);
    lines.push(
      ...renderTable(
        [{ header: 'metric', max: 60 }, { header: 'verdict' }, { header: 'change', align: 'right' }, { header: 'interval' }, { header: 'tolerance', align: 'right' }, { header: 'n canary/baseline' }, { header: 'test' }],
        verdicts.map((j) => [
          j.metric,
          j.verdict,
          percent(j.effect),
          j.interval.low === null && j.interval.high === null ? '-' : `${percent(j.interval.low)} .. ${percent(j.interval.high)}`,
          j.threshold === null ? '-' : `${(j.threshold * 100).toFixed(1)}%`,
          `${j.nCanary ?? '-'}/${j.nBaseline ?? '-'}`,
          j.method,
        ]),
      ),
    );
  }
  const count = options.events ?? 5;
  if (count > 0 && detail.events.length > 0) {
    lines.push('');
    lines.push('recent events:');
    const newest = [...detail.events].sort((a, b) => a.id - b.id).slice(-count);
    for (const e of newest) lines.push(`  ${eventLine(e)}`);
  }
  return lines;
}

function isEnded(phase: string): boolean {
  return phase === 'completed' || phase === 'failed' || phase === 'rolled_back' || phase === 'aborted';
}
