/** `thpctl audit list | verify`. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AuditEntry, AuditVerify } from '../api-types.js';
import { positiveInt, sinceValue } from '../args.js';
import { EXIT } from '../exit-codes.js';
import type { Session } from '../session.js';
import { inline, renderTable, shortHash, timestamp } from '../table.js';

/** The API's page limit. */
const PAGE = 1000;

function text(value: string): string {
  if (value.trim() === '' || value.length > 300) throw new InvalidArgumentError('must be 1 to 300 characters.');
  return value;
}

/** `--anchor SEQ:HASH`: an entry seen before (kept outside the database) that must still be there. */
export function anchor(value: string): { seq: number; hash: string } {
  const m = /^(\d+):([0-9a-f]{64})$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not SEQ:HASH (a sequence number, a colon and the entry's 64-hex sha256, as "audit verify" prints them).`);
  return { seq: Number(m[1]), hash: (m[2] ?? '').toLowerCase() };
}

export function registerAudit(program: Command, session: () => Session): void {
  const audit = program.command('audit').description('The hash-chained audit log of every change');

  audit
    .command('list')
    .description('Audit entries, newest first')
    .addOption(new Option('--actor <actor>', 'e.g. token:ops#3, controller:rollout-orchestrator').argParser(text))
    .addOption(new Option('--action <action>', 'e.g. policy.create, policy.version.create, assignment.set, rollout.create').argParser(text))
    .addOption(new Option('--target-type <type>', 'policy, node, rollout, token, ...').argParser(text))
    .addOption(new Option('--target-id <id>', 'e.g. a policy name or rollout id').argParser(text))
    .addOption(new Option('--since <time>', 'ISO time or a duration ago (15m)').argParser(sinceValue))
    .addOption(new Option('--until <time>', 'ISO time or a duration ago').argParser(sinceValue))
    .addOption(new Option('--before <seq>', 'only entries older than this sequence number (paging)').argParser(positiveInt))
    .addOption(new Option('--limit <n>', 'at most this many entries').argParser(positiveInt).default(50))
    .option('--changes', 'add a column with what each entry changed (its "after")')
    .action(async (flags: { actor?: string; action?: string; targetType?: string; targetId?: string; since?: string; until?: string; before?: number; limit: number; changes?: boolean }) => {
      const s = session();
      const client = await s.client();
      const entries: AuditEntry[] = [];
      let before = flags.before;
      let next: number | null = null;
      for (;;) {
        const want = Math.min(PAGE, flags.limit - entries.length);
        const page = (
          await client.get<{ entries: AuditEntry[]; next: number | null }>('/api/v1/audit', {
            actor: flags.actor,
            action: flags.action,
            targetType: flags.targetType,
            targetId: flags.targetId,
            since: flags.since,
            until: flags.until,
            before,
            limit: want,
          })
        ).body;
        entries.push(...page.entries);
        next = page.next;
        if (next === null || entries.length >= flags.limit) break;
        before = next;
      }
      s.output({ entries, next }, () => {
        if (entries.length === 0) return ['No audit entries match.'];
        const lines = renderTable(
          [{ header: 'seq', align: 'right' }, { header: 'time' }, { header: 'actor', max: 40 }, { header: 'action' }, { header: 'target', max: 50 }, ...(flags.changes ? [{ header: 'after', max: 100 }] : [])],
          entries.map((e) => [String(e.seq), timestamp(e.at), e.actor, e.action, `${e.targetType}/${e.targetId}`, ...(flags.changes ? [inline(e.after, 100)] : [])]),
        );
        if (next !== null) lines.push('', `older entries: thpctl audit list --before ${next}`);
        return lines;
      });
    });

  audit
    .command('verify')
    .description('Recompute the audit hash chain on the controller; exit 1 at the first broken link')
    .addOption(new Option('--anchor <seq:hash>', 'also check that this entry (kept elsewhere from an earlier verify) is still in the chain: detects removed newest entries').argParser(anchor))
    .action(async (flags: { anchor?: { seq: number; hash: string } }) => {
      const s = session();
      const client = await s.client();
      const result = (await client.get<AuditVerify>('/api/v1/audit/verify')).body;
      let anchorProblem: string | undefined;
      if (result.ok && flags.anchor) {
        const { seq, hash } = flags.anchor;
        const found = (await client.get<{ entries: AuditEntry[] }>('/api/v1/audit', { before: seq + 1, limit: 1 })).body.entries[0];
        if (!found || found.seq !== seq) anchorProblem = `entry #${seq} is gone: the chain ends at #${result.headSeq ?? 0} (newest entries removed)`;
        else if (found.hash !== hash) anchorProblem = `entry #${seq} has hash ${found.hash}, not ${hash} (the chain was rewritten)`;
      }
      const ok = result.ok && anchorProblem === undefined;
      if (!ok) s.exitCode = EXIT.failed;
      s.output({ ...result, ...(flags.anchor ? { anchor: { ...flags.anchor, ok: anchorProblem === undefined, problem: anchorProblem ?? null } } : {}) }, () => {
        if (!result.ok) {
          const b = result.firstBroken;
          return [
            `audit chain BROKEN${b ? ` at entry #${b.seq}: ${b.reason}` : ''}`,
            ...(b?.expected !== undefined ? [`  expected ${b.expected}`] : []),
            ...(b?.actual !== undefined ? [`  found    ${b.actual}`] : []),
            `${result.checked} entries checked`,
          ];
        }
        if (anchorProblem !== undefined) return [`audit chain verifies (${result.checked} entries) but ${anchorProblem}`];
        return [
          `audit chain OK: ${result.checked} entries${result.headSeq === null ? '' : `, head #${result.headSeq} ${shortHash(result.headHash)}`}${flags.anchor ? `, anchor #${flags.anchor.seq} present` : ''}`,
          ...(result.headSeq === null || result.headHash === null ? [] : [`keep this anchor elsewhere to detect removal of the newest entries: --anchor ${result.headSeq}:${result.headHash}`]),
        ];
      });
    });
}
