/** `thpctl rollout start | list | status | pause | resume | promote | abort` and `thpctl rollback`. */
import { Option, type Command } from 'commander';
import type { Rollout } from '../api-types.js';
import { duration, interval, nonNegativeInt, policyName, positiveInt, reason, rolloutId } from '../args.js';
import type { ApiClient } from '../client.js';
import { parseData, readInput, withLines, type DataDocument, type InputFile } from '../documents.js';
import { CliError, EXIT, ROLLOUT_PHASES } from '../exit-codes.js';
import { renderRollout } from '../rollout-view.js';
import type { Session } from '../session.js';
import { ago, renderTable } from '../table.js';
import { fetchRollout, outcome, watchRollout, type WatchOptions } from '../watch.js';

/**
 * The plan used when `rollout start` is given none: a one-node canary (the strata add a node of
 * every kernel, hardware class and workload mix), half the fleet, then everyone; each gated step
 * is judged on node memory pressure. An operational choice, printed with the rollout and
 * documented in docs/cli.md; real rollouts should name their own gates (docs/rollouts.md).
 */
export const DEFAULT_PLAN = {
  steps: [
    { name: 'canary', select: { count: 1 }, bake: '10m' },
    { name: 'half', select: { percent: 50 }, bake: '10m' },
    { name: 'fleet', select: { percent: 100 }, bake: '5m' },
  ],
  gates: [{ name: 'psi_memory_some_avg10', direction: 'increase-is-bad', tolerance: 0.25, critical: true }],
} as const;

interface WatchFlags {
  watch?: boolean;
  interval: number;
  timeout?: number;
  events: number;
}

function watchOptions(command: Command): Command {
  return command
    .option('-w, --watch', 'follow it until it ends; exit 0 when it completes, 1 when it fails, is rolled back or aborted')
    .addOption(new Option('--interval <duration>', 'how often --watch polls').argParser(interval).default(1000, '1s'))
    .addOption(new Option('--timeout <duration>', 'give up watching after this long (exit 8); the rollout goes on').argParser(duration))
    .addOption(new Option('--events <n>', 'recent events shown in the status').argParser(nonNegativeInt).default(5));
}

function toWatch(flags: WatchFlags): WatchOptions {
  return { intervalMs: flags.interval, timeoutMs: flags.timeout, events: flags.events };
}

/** Read a plan or gates file; the server's problems under `root` get that file's lines. */
async function dataFile(session: Session, path: string, what: string): Promise<{ file: InputFile; doc: DataDocument }> {
  const file = await readInput(path, session.io.cwd, session.io.stdin, what);
  if (file.text.trim() === '') throw new CliError(EXIT.invalid, `${what} ${file.name} is empty`);
  try {
    return { file, doc: parseData(file, what) };
  } catch (error) {
    if (error instanceof CliError) throw new CliError(error.exitCode, error.message, error.problems, { file: file.name });
    throw error;
  }
}

/** POST that creates a rollout; validation problems point into the file they came from. */
async function create(client: ApiClient, path: string, json: unknown, source: { file: InputFile; doc: DataDocument; root: string } | undefined): Promise<Rollout> {
  try {
    return (await client.post<{ rollout: Rollout }>(path, { json })).body.rollout;
  } catch (error) {
    if (source && error instanceof CliError && error.exitCode === EXIT.invalid && error.problems.length > 0 && error.problems.every((p) => under(p.path, source.root))) {
      // Paths relative to the file (`steps[0].bake`, not `body.plan.steps[0].bake`), in file order.
      const problems = withLines(error.problems, source.doc, source.root)
        .map((p) => ({ ...p, path: p.path.slice(source.root.length).replace(/^\./, '') }))
        .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? 0) - (b.column ?? 0));
      throw new CliError(error.exitCode, error.message, problems, { code: error.code, file: source.file.name });
    }
    throw error;
  }
}

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
}

async function started(session: Session, client: ApiClient, rollout: Rollout, flags: WatchFlags, usedDefaultPlan: boolean): Promise<void> {
  const what = rollout.kind === 'rollback' ? 'rollback' : 'rollout';
  if (flags.watch) {
    if (!session.json) session.note(`${what} ${rollout.id} started: ${rollout.policy} → v${rollout.toVersion}${usedDefaultPlan ? ' (default plan)' : ''}`);
    session.exitCode = await watchRollout(session, client, rollout.id, toWatch(flags));
    return;
  }
  session.output({ rollout }, () => [
    `${what} ${rollout.id} started: ${rollout.policy} ${rollout.fromVersion === null ? 'none' : `v${rollout.fromVersion}`} → v${rollout.toVersion} (revision ${rollout.revision})${usedDefaultPlan ? ', default plan (thpctl rollout start --help)' : ''}`,
    `follow it: thpctl rollout status ${rollout.id} --watch`,
  ]);
}

export function registerRollout(program: Command, session: () => Session): void {
  const rollout = program.command('rollout').description('Rollouts of a policy version across the fleet, step by step, judged by the canary gates');

  watchOptions(
    rollout
      .command('start')
      .description('Start a rollout of POLICY to a version')
      .argument('<policy>', 'policy name', policyName)
      .addOption(new Option('--to-version <n>', 'the version to roll out').argParser(positiveInt).makeOptionMandatory())
      .option('--plan <file>', 'the plan, YAML or JSON (docs/rollouts.md; - for standard input)'),
  )
    .addHelpText(
      'after',
      `
Without --plan: ${JSON.stringify(DEFAULT_PLAN)}
Plan errors are printed with their path and the line in the plan file; the command exits 3.`,
    )
    .action(async (policy: string, flags: WatchFlags & { toVersion: number; plan?: string }) => {
      const s = session();
      const client = await s.client();
      const source = flags.plan === undefined ? undefined : await dataFile(s, flags.plan, 'plan');
      const plan = source ? source.doc.value : DEFAULT_PLAN;
      const created = await create(client, '/api/v1/rollouts', { policy, version: flags.toVersion, plan }, source ? { ...source, root: 'body.plan' } : undefined);
      await started(s, client, created, flags, source === undefined);
    });

  rollout
    .command('list')
    .description('Rollouts, newest first')
    .addOption(new Option('--policy <name>', 'only this policy').argParser(policyName))
    .addOption(new Option('--state <phase>', 'only rollouts in this phase').choices([...ROLLOUT_PHASES]))
    .option('--active', 'only rollouts still running (or paused)')
    .addOption(new Option('--limit <n>', 'at most this many').argParser(positiveInt).default(50))
    .action(async (flags: { policy?: string; state?: string; active?: boolean; limit: number }) => {
      const s = session();
      const { rollouts } = (await (await s.client()).get<{ rollouts: Rollout[] }>('/api/v1/rollouts', { policy: flags.policy, state: flags.state, active: flags.active ? 'true' : undefined, limit: Math.min(flags.limit, 1000) })).body;
      const now = s.io.now();
      s.output({ rollouts }, () =>
        rollouts.length === 0
          ? 'No rollouts.'
          : renderTable(
              [{ header: 'id' }, { header: 'policy' }, { header: 'kind' }, { header: 'versions' }, { header: 'phase' }, { header: 'step', align: 'right' }, { header: 'created' }, { header: 'reason', max: 60 }],
              rollouts.map((r) => [r.id, r.policy, r.kind, `${r.fromVersion === null ? 'none' : `v${r.fromVersion}`} → v${r.toVersion}`, r.phase, r.step >= 0 ? String(r.step + 1) : '-', ago(r.createdAt, now), r.reason ?? '']),
            ),
      );
    });

  watchOptions(
    rollout
      .command('status')
      .description('Where a rollout is: phase, steps and cohorts, the latest verdicts, recent events')
      .argument('<id>', 'rollout id', rolloutId),
  )
    .addHelpText('after', '\nExit code: 1 when the rollout ended failed, rolled back or aborted, else 0 (with --watch: once it ends).')
    .action(async (id: string, flags: WatchFlags) => {
      const s = session();
      const client = await s.client();
      if (flags.watch) {
        s.exitCode = await watchRollout(s, client, id, toWatch(flags));
        return;
      }
      const detail = await fetchRollout(client, id, Math.max(flags.events, 1));
      s.output(detail, () => renderRollout(detail, s.io.now(), { events: flags.events }));
      s.exitCode = outcome(detail) ?? EXIT.ok;
    });

  const revision = (): Option => new Option('--revision <n>', 'only if the rollout is still at this revision (shown by status; exit 5 if it moved)').argParser(nonNegativeInt);
  const command = async (id: string, verb: string, json: unknown, rev: number | undefined): Promise<void> => {
    const s = session();
    const client = await s.client();
    const reply = await client.post<{ rollout: Rollout }>(`/api/v1/rollouts/${encodeURIComponent(id)}/${verb}`, {
      ...(json === undefined ? {} : { json }),
      ...(rev === undefined ? {} : { headers: { 'if-match': `"rev-${rev}"` } }),
    });
    const r = reply.body.rollout;
    s.output({ rollout: r }, () => `rollout ${r.id}: ${verb} accepted, now ${r.phase}${r.reason ? ` (${r.reason})` : ''}, revision ${r.revision}`);
  };

  rollout
    .command('pause')
    .description('Pause a rollout: its bake or judging clock stops (a NACK still rolls back)')
    .argument('<id>', 'rollout id', rolloutId)
    .addOption(new Option('--reason <text>', 'why, for the audit log').argParser(reason).makeOptionMandatory())
    .addOption(revision())
    .action((id: string, flags: { reason: string; revision?: number }) => command(id, 'pause', { reason: flags.reason }, flags.revision));

  rollout
    .command('resume')
    .description('Resume a paused rollout where it was')
    .argument('<id>', 'rollout id', rolloutId)
    .addOption(revision())
    .action((id: string, flags: { revision?: number }) => command(id, 'resume', undefined, flags.revision));

  rollout
    .command('promote')
    .description('End the current bake now; with --skip-gate (admin) also accept a step being judged')
    .argument('<id>', 'rollout id', rolloutId)
    .option('--skip-gate', 'accept the step without its verdict (admins only; needs --reason)')
    .addOption(new Option('--reason <text>', 'why the gate is skipped, for the audit log').argParser(reason))
    .addOption(revision())
    .action((id: string, flags: { skipGate?: boolean; reason?: string; revision?: number }) => {
      if (flags.skipGate && flags.reason === undefined) throw new CliError(EXIT.usage, '--skip-gate needs --reason <text> (it is written to the audit log)');
      if (!flags.skipGate && flags.reason !== undefined) throw new CliError(EXIT.usage, '--reason is only taken with --skip-gate');
      return command(id, 'promote', flags.skipGate ? { skipGate: { reason: flags.reason } } : {}, flags.revision);
    });

  rollout
    .command('abort')
    .description('Abort: every node the rollout touched goes back to what it ran before')
    .argument('<id>', 'rollout id', rolloutId)
    .addOption(new Option('--reason <text>', 'why, for the audit log').argParser(reason).makeOptionMandatory())
    .addOption(revision())
    .action((id: string, flags: { reason: string; revision?: number }) => command(id, 'abort', { reason: flags.reason }, flags.revision));

  watchOptions(
    program
      .command('rollback')
      .description('Roll a policy back to an earlier version: a rollout of the nodes that run it now (a judged canary first, unless --skip-gates)')
      .argument('<policy>', 'policy name', policyName)
      .addOption(new Option('--to <version>', 'the version to go back to').argParser(positiveInt).makeOptionMandatory())
      .option('--skip-gates', 'the fast path: every node at once, nothing judged (admins only; needs --reason)')
      .addOption(new Option('--reason <text>', 'why the gates are skipped, for the audit log').argParser(reason))
      .option('--gates <file>', 'gates for the rollback canary, a YAML or JSON list (docs/rollouts.md)')
      .addOption(new Option('--canary-bake <duration>', 'how long the rollback canary bakes (the controller defaults to 5m)').argParser(duration)),
  ).action(async (policy: string, flags: WatchFlags & { to: number; skipGates?: boolean; reason?: string; gates?: string; canaryBake?: number }) => {
    if (flags.skipGates && flags.reason === undefined) throw new CliError(EXIT.usage, '--skip-gates needs --reason <text> (it is written to the audit log)');
    if (!flags.skipGates && flags.reason !== undefined) throw new CliError(EXIT.usage, '--reason is only taken with --skip-gates');
    if (flags.skipGates && (flags.gates !== undefined || flags.canaryBake !== undefined)) throw new CliError(EXIT.usage, '--skip-gates has no canary: drop --gates and --canary-bake');
    const s = session();
    const client = await s.client();
    const source = flags.gates === undefined ? undefined : await dataFile(s, flags.gates, 'gates file');
    const body = {
      version: flags.to,
      ...(flags.skipGates ? { skipGates: { reason: flags.reason } } : {}),
      ...(source ? { gates: source.doc.value } : {}),
      ...(flags.canaryBake === undefined ? {} : { canaryBake: flags.canaryBake }),
    };
    const created = await create(client, `/api/v1/policies/${encodeURIComponent(policy)}/rollback`, body, source ? { ...source, root: 'body.gates' } : undefined);
    await started(s, client, created, flags, false);
  });
}
