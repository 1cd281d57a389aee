/**
 * thpctl's command tree (commander) and the one place where a command's outcome becomes the
 * process's exit code: a CliError's code, 2 for anything commander rejects (unknown command or
 * option, a missing or invalid argument), 0 for --help and --version.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerAudit } from './commands/audit.js';
import { registerAuth } from './commands/auth.js';
import { registerNodes } from './commands/nodes.js';
import { registerPolicy } from './commands/policy.js';
import { registerRollout } from './commands/rollout.js';
import { CliError, EXIT, type ExitCode } from './exit-codes.js';
import { Session, formatError, type GlobalOptions, type Io } from './session.js';

export const VERSION = '0.1.0';

const EXIT_CODES_HELP = `
Exit codes:
  0  success (a watched rollout completed, the audit chain verifies)
  1  the operation failed (rollout failed, rolled back or aborted; audit chain broken)
  2  usage error (bad command, option or argument; unreadable file; no server configured)
  3  validation error (printed with paths and lines)
  4  authentication or permission error
  5  conflict (stale version or revision, a rollout already active, not possible in this phase)
  6  not found
  7  controller unreachable or unavailable
  8  --watch --timeout elapsed

Environment: THP_SERVER, THP_TOKEN (override the saved login; --server and --token override both).`;

export function buildProgram(io: Io, onSession: (session: Session) => void): Command {
  const program = new Command('thpctl');
  let session: Session | undefined;
  const current = (): Session => {
    if (!session) {
      session = new Session(io, program.opts<GlobalOptions>());
      onSession(session);
    }
    return session;
  };
  program
    .description('Operate a thp-fleet controller: policies, rollouts, nodes and the audit log')
    // Not --version: that is `policy get --version N`, and commander reads program options after
    // a subcommand too. A lone `thpctl --version` still works (runCli).
    .version(VERSION, '-V', 'print the version of thpctl')
    .option('--server <url>', 'controller URL (default: THP_SERVER, then the saved login)')
    .option('--token <token>', 'API token (default: THP_TOKEN, then the saved login)')
    .addOption(new Option('-o, --output <format>', 'table for people, json for scripts').choices(['table', 'json']).default('table'))
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(text.replace(/^error: /, 'thpctl: ')),
    })
    .showSuggestionAfterError()
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP);
  registerAuth(program, current);
  registerPolicy(program, current);
  registerRollout(program, current);
  registerNodes(program, current);
  registerAudit(program, current);
  return program;
}

/** Run thpctl with `argv` (without node and the script) and return the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: Io): Promise<ExitCode> {
  let session: Session | undefined;
  const program = buildProgram(io, (s) => (session = s));
  try {
    await program.parseAsync(argv.length === 1 && argv[0] === '--version' ? ['-V'] : [...argv], { from: 'user' });
    return session?.exitCode ?? EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const json = program.opts<GlobalOptions>().output === 'json';
    if (error instanceof CliError) {
      io.stderr.write(formatError(error, json));
      return error.exitCode;
    }
    const unexpected = new CliError(EXIT.failed, `unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    io.stderr.write(formatError(unexpected, json));
    return EXIT.failed;
  }
}
