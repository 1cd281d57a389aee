/** `thpctl policy apply | list | get | diff`. */
import { Option, type Command } from 'commander';
import type { DiffChange, Issue, Policy, PolicyVersion, PolicyVersionDetail, ValidationResult, VersionWritten } from '../api-types.js';
import { policyName, positiveInt } from '../args.js';
import type { ApiClient } from '../client.js';
import { contentTypeOf, readInput, type InputFile } from '../documents.js';
import { CliError, EXIT, type Problem } from '../exit-codes.js';
import { formatProblem, type Session } from '../session.js';
import { ago, inline, renderTable, shortHash, timestamp } from '../table.js';

export function registerPolicy(program: Command, session: () => Session): void {
  const policy = program.command('policy').description('Policies and their versions');

  policy
    .command('apply')
    .description('Create the policy in a YAML or JSON document, or add a version to it')
    .requiredOption('-f, --file <path>', 'the policy document (- for standard input)')
    .option('-m, --message <text>', 'the version message (why this change)', '')
    .addOption(new Option('--expected-version <n>', 'the version you edited: refuse (exit 5) if the policy has moved on since').argParser(positiveInt))
    .option('--dry-run', 'validate and say what would happen, change nothing')
    .addHelpText(
      'after',
      `
The document is validated by the controller first; every error is printed as
FILE:LINE:COLUMN: PATH: MESSAGE and the command exits 3. A document with the same meaning as
the latest version writes nothing ("unchanged").`,
    )
    .action(async (options: { file: string; message: string; expectedVersion?: number; dryRun?: boolean }) => {
      const s = session();
      const client = await s.client();
      const file = await readInput(options.file, s.io.cwd, s.io.stdin, 'policy file');
      if (file.text.trim() === '') throw new CliError(EXIT.invalid, `policy file ${file.name} is empty`);
      const checked = await validate(client, file);
      for (const w of checked.warnings) s.note(formatProblem(issueProblem(w), file.name, 'warning'));
      const name = checked.name ?? '';
      const existing = await getPolicy(client, name);
      if (options.expectedVersion !== undefined && existing === undefined) throw new CliError(EXIT.notFound, `policy ${name} does not exist yet, so --expected-version ${options.expectedVersion} cannot hold: drop it to create the policy`);
      if (options.dryRun) {
        const action = existing === undefined ? 'create' : 'add-version-unless-unchanged';
        s.output({ dryRun: true, name, specHash: checked.specHash, action, latestVersion: existing?.latestVersion ?? null, warnings: checked.warnings }, () =>
          existing === undefined
            ? `${file.name}: valid. Would create policy ${name} (version 1).`
            : `${file.name}: valid. Would add version ${existing.latestVersion + 1} to policy ${name}, unless it means the same as version ${existing.latestVersion}.`,
        );
        return;
      }
      const body = { body: file.text, contentType: contentTypeOf(file) };
      const query = options.message === '' ? {} : { message: options.message };
      try {
        if (existing === undefined) {
          const written = (await client.post<VersionWritten>('/api/v1/policies', { text: body, query })).body;
          s.output({ action: 'created', ...written }, () => `policy ${name} created (version ${written.version.version}, ${shortHash(written.version.specHash)})`);
          return;
        }
        const expected = options.expectedVersion ?? existing.latestVersion;
        const reply = await client.post<VersionWritten>(`/api/v1/policies/${encodeURIComponent(name)}/versions`, { text: body, query, headers: { 'if-match': `"v${expected}"` } });
        const written = reply.body;
        if (reply.status === 200 || written.created === false) {
          s.output({ action: 'unchanged', ...written }, () => `policy ${name} unchanged: version ${written.version.version} already means the same`);
        } else {
          s.output({ action: 'version-added', ...written }, () => `policy ${name}: version ${written.version.version} created (${shortHash(written.version.specHash)}), was ${expected}`);
        }
      } catch (error) {
        // The server's validation problems refer to the file.
        if (error instanceof CliError && error.exitCode === EXIT.invalid) throw new CliError(error.exitCode, error.message, error.problems, { code: error.code, file: file.name });
        if (error instanceof CliError && error.code === 'conflict') throw new CliError(error.exitCode, `${error.message} (versions: thpctl policy get ${name})`, error.problems, { code: error.code });
        throw error;
      }
    });

  policy
    .command('list')
    .description('List policies')
    .action(async () => {
      const s = session();
      const { policies } = (await (await s.client()).get<{ policies: Policy[] }>('/api/v1/policies')).body;
      const now = s.io.now();
      s.output({ policies }, () =>
        policies.length === 0
          ? 'No policies. Create one with: thpctl policy apply -f policy.yaml'
          : renderTable(
              [{ header: 'name' }, { header: 'latest', align: 'right' }, { header: 'updated' }, { header: 'description', max: 60 }],
              policies.map((p) => [p.name, `v${p.latestVersion}`, ago(p.updatedAt, now), p.description]),
            ),
      );
    });

  policy
    .command('get')
    .description("A policy's versions; with --version, that version's document as submitted")
    .argument('<name>', 'policy name', policyName)
    .addOption(new Option('--version <n>', 'print this version (the document as submitted; --output json adds the canonical form and hash)').argParser(positiveInt))
    .action(async (name: string, options: { version?: number }) => {
      const s = session();
      const client = await s.client();
      if (options.version !== undefined) {
        const detail = (await client.get<PolicyVersionDetail>(`/api/v1/policies/${encodeURIComponent(name)}/versions/${options.version}`)).body;
        s.output(detail, () => {
          const source = detail.source.endsWith('\n') ? detail.source.slice(0, -1) : detail.source;
          return [`# ${detail.policy} version ${detail.version} by ${detail.author}, ${timestamp(detail.createdAt)}, sha256 ${detail.specHash}${detail.message ? `: ${inline(detail.message)}` : ''}`, source];
        });
        return;
      }
      const { policy: p, versions } = (await client.get<{ policy: Policy; versions: PolicyVersion[] }>(`/api/v1/policies/${encodeURIComponent(name)}`)).body;
      const now = s.io.now();
      s.output({ policy: p, versions }, () => [
        `policy ${p.name}: latest version ${p.latestVersion}${p.description ? `, "${inline(p.description)}"` : ''}`,
        `created by ${p.createdBy} ${ago(p.createdAt, now)}, updated ${ago(p.updatedAt, now)}`,
        '',
        ...renderTable(
          [{ header: 'version', align: 'right' }, { header: 'created' }, { header: 'author', max: 40 }, { header: 'hash' }, { header: 'message', max: 60 }],
          versions.map((v) => [`v${v.version}`, timestamp(v.createdAt), v.author, shortHash(v.specHash), v.message]),
        ),
      ]);
    });

  policy
    .command('diff')
    .description('What changed between two versions of a policy (by meaning: reformatting does not show)')
    .argument('<name>', 'policy name', policyName)
    .argument('<from>', 'the older version', positiveInt)
    .argument('<to>', 'the newer version', positiveInt)
    .action(async (name: string, from: number, to: number) => {
      const s = session();
      const diff = (await (await s.client()).get<{ policy: string; from: number; to: number; changes: DiffChange[] }>(`/api/v1/policies/${encodeURIComponent(name)}/diff`, { from, to })).body;
      s.output(diff, () => renderDiff(diff));
    });
}

/** The diff as lines: `~ path: before → after`, `+ path: value`, `- path: value`. */
export function renderDiff(diff: { policy: string; from: number; to: number; changes: readonly DiffChange[] }): string[] {
  const head = `policy ${diff.policy}: version ${diff.from} → ${diff.to}: ${diff.changes.length === 0 ? 'no differences' : `${diff.changes.length} change${diff.changes.length === 1 ? '' : 's'}`}`;
  return [
    head,
    ...diff.changes.map((c) => {
      switch (c.kind) {
        case 'added':
          return `+ ${c.path}: ${inline(c.after, 200)}`;
        case 'removed':
          return `- ${c.path}: ${inline(c.before, 200)}`;
        case 'changed':
          return `~ ${c.path}: ${inline(c.before, 100)} → ${inline(c.after, 100)}`;
      }
    }),
  ];
}

function issueProblem(issue: Issue): Problem {
  return { path: issue.path, message: issue.message, ...(issue.line !== undefined ? { line: issue.line } : {}), ...(issue.column !== undefined ? { column: issue.column } : {}) };
}

/** The controller's validation (the same code that guards creation): every error with path and line. */
async function validate(client: ApiClient, file: InputFile): Promise<ValidationResult & { name?: string }> {
  let result: ValidationResult;
  try {
    result = (await client.post<ValidationResult>('/api/v1/policies/validate', { text: { body: file.text, contentType: contentTypeOf(file) } })).body;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.invalid) throw new CliError(error.exitCode, error.message, error.problems, { code: error.code, file: file.name });
    throw error;
  }
  if (!result.ok) {
    const n = result.errors.length;
    throw new CliError(EXIT.invalid, `${file.name}: the policy has ${n} error${n === 1 ? '' : 's'}`, result.errors.map(issueProblem), { code: 'validation_failed', file: file.name });
  }
  return result;
}

async function getPolicy(client: ApiClient, name: string): Promise<Policy | undefined> {
  try {
    return (await client.get<{ policy: Policy }>(`/api/v1/policies/${encodeURIComponent(name)}`)).body.policy;
  } catch (error) {
    if (error instanceof CliError && error.exitCode === EXIT.notFound) return undefined;
    throw error;
  }
}
