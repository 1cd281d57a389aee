/**
 * An agent as a separate process, for crash and restart tests: the real `thp-agent` entry
 * (src/main.ts), or the crash-point wrapper (agent-crash.test-util.ts) that starts it the same
 * way and SIGKILLs itself at a chosen node-mode point.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const AGENT_MAIN = fileURLToPath(new URL('../main.ts', import.meta.url));
const CRASH_MAIN = fileURLToPath(new URL('./agent-crash.test-util.ts', import.meta.url));

export interface AgentProcess {
  /** stdout and stderr lines so far. */
  readonly output: string[];
  /** Resolves with the exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: readonly string[], env: Readonly<Record<string, string>>): AgentProcess {
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@thp-fleet/source', '--import', 'tsx', ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const collect = (chunk: Buffer): void => {
    output.push(...chunk.toString().split('\n').filter((l) => l.trim() !== ''));
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    output,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** `thp-agent <flags>` exactly as deployed (src/main.ts). */
export function startAgentProcess(flags: readonly string[], env: Readonly<Record<string, string>>): AgentProcess {
  return start([AGENT_MAIN, ...flags], env);
}

/** The agent, killed with SIGKILL right after the node-mode point `killAt` (e.g. `sysfs-write:defrag`). */
export function startCrashingAgentProcess(killAt: string, flags: readonly string[], env: Readonly<Record<string, string>>): AgentProcess {
  return start([CRASH_MAIN, killAt, ...flags], env);
}
