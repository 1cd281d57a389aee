/**
 * `--watch`: follow a rollout until it ends. On a terminal the status block is redrawn in place;
 * into a file or pipe each new rollout event is one line; with `--output json` each change of
 * the rollout is one JSON line. The exit code is the outcome (exit-codes.ts: 0 completed, 1
 * failed, rolled back or aborted, 8 when --timeout elapses first).
 *
 * It polls GET /api/v1/rollouts/{id} every `--interval`: the orchestrator itself advances
 * rollouts on a timer (THP_ROLLOUT_INTERVAL, 1 s by default), so polling at that pace shows every
 * phase, and survives a controller restart (a lost connection is retried for `RETRY_MS`).
 */
import { clearScreenDown, cursorTo, moveCursor } from 'node:readline';
import type { Writable } from 'node:stream';
import type { RolloutDetail } from './api-types.js';
import type { ApiClient } from './client.js';
import { CliError, EXIT, exitCodeForPhase, isRolloutPhase, type ExitCode } from './exit-codes.js';
import { eventLine, renderRollout, summaryLine } from './rollout-view.js';
import type { Session } from './session.js';
import { shortDuration, truncate } from './table.js';

/** How long an unreachable controller is retried before the watch gives up (exit 7). */
const RETRY_MS = 60_000;

export interface WatchOptions {
  readonly intervalMs: number;
  readonly timeoutMs?: number | undefined;
  readonly events: number;
}

/** Redraws a block of lines in place (a terminal only). */
export class LiveBlock {
  private drawn = 0;

  constructor(private readonly stream: Writable & { readonly columns?: number }) {}

  draw(lines: readonly string[]): void {
    if (this.drawn > 0) {
      moveCursor(this.stream, 0, -this.drawn);
      cursorTo(this.stream, 0);
      clearScreenDown(this.stream);
    }
    // A line wider than the terminal wraps and would break the count: cut it.
    const columns = this.stream.columns ?? 0;
    const shown = columns > 0 ? lines.map((l) => truncate(l, columns - 1)) : lines;
    this.stream.write(`${shown.join('\n')}\n`);
    this.drawn = shown.length;
  }
}

export async function fetchRollout(client: ApiClient, id: string, events: number): Promise<RolloutDetail> {
  return (await client.get<RolloutDetail>(`/api/v1/rollouts/${encodeURIComponent(id)}`, { events })).body;
}

/** The exit code of a rollout as it is now: undefined while it runs. */
export function outcome(detail: RolloutDetail): ExitCode | undefined {
  const phase = detail.rollout.phase;
  return isRolloutPhase(phase) ? exitCodeForPhase(phase) : undefined;
}

export async function watchRollout(session: Session, client: ApiClient, id: string, options: WatchOptions): Promise<ExitCode> {
  const { io } = session;
  const started = io.now();
  const live = !session.json && io.stdout.isTTY === true ? new LiveBlock(io.stdout) : undefined;
  let lastEvent = 0;
  let lastSignature = '';
  let unreachableSince: number | undefined;
  for (;;) {
    let detail: RolloutDetail;
    try {
      detail = await fetchRollout(client, id, Math.max(options.events, 50));
      if (unreachableSince !== undefined) session.note(`reconnected to ${client.server}`);
      unreachableSince = undefined;
    } catch (error) {
      if (!(error instanceof CliError) || error.exitCode !== EXIT.unreachable) throw error;
      const now = io.now();
      if (unreachableSince === undefined) {
        unreachableSince = now;
        session.note(`${error.message}; retrying for ${shortDuration(RETRY_MS)}`);
      } else if (now - unreachableSince > RETRY_MS) throw error;
      await io.sleep(options.intervalMs);
      continue;
    }
    const now = io.now();
    const r = detail.rollout;
    if (session.json) {
      const signature = `${r.revision}|${r.phase}`;
      if (signature !== lastSignature) session.printJsonLine({ rollout: r, steps: detail.steps, judgments: detail.judgments });
      lastSignature = signature;
    } else if (live) {
      live.draw([...renderRollout(detail, now, { events: options.events }), '', outcome(detail) === undefined ? `watching (every ${shortDuration(options.intervalMs)}; Ctrl-C stops watching, not the rollout)` : `${r.phase}.`]);
    } else {
      const fresh = [...detail.events].filter((e) => e.id > lastEvent).sort((a, b) => a.id - b.id);
      for (const e of fresh) session.print(eventLine(e));
      lastEvent = Math.max(lastEvent, ...detail.events.map((e) => e.id));
    }
    const code = outcome(detail);
    if (code !== undefined) {
      if (!session.json && !live) session.print(summaryLine(detail, now));
      return code;
    }
    if (options.timeoutMs !== undefined && now - started >= options.timeoutMs) {
      throw new CliError(EXIT.timeout, `rollout ${id} is still ${r.phase} after ${shortDuration(options.timeoutMs)} (--timeout); it goes on: thpctl rollout status ${id} --watch`);
    }
    await io.sleep(options.intervalMs);
  }
}
