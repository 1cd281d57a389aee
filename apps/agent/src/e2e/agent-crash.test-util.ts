/**
 * The agent process with a crash point, for the process-level crash test in
 * controller.e2e.spec.ts: it starts exactly as `thp-agent` does (same config parser, same
 * `startAgents`), and SIGKILLs itself right after the first node-mode point that matches, so
 * only what already reached the disk survives (the node-mode journal, the THP tree).
 *
 * argv: <kill point> <thp-agent flags...>; the kill point is `sysfs-write:<path>`,
 * `port:<op>` or `journal:<operation>:<step>`. Every point is printed on stdout before the check.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseAgentConfig } from '../config/agent.config.js';
import { createLogger } from '../log/logger.js';
import type { SequencePoint } from '../node-mode/sequencer.js';
import { startAgents } from '../run.js';

function describePoint(p: SequencePoint): string {
  switch (p.kind) {
    case 'sysfs-write':
      return `sysfs-write:${p.path}`;
    case 'port':
      return `port:${p.op}`;
    case 'journal':
      return `journal:${p.operation}:${p.step}`;
  }
}

const [killAt, ...argv] = process.argv.slice(2);
if (killAt === undefined) throw new Error('usage: agent-crash <kill point> <thp-agent flags...>');
const parsed = parseAgentConfig(argv, process.env, { hostname, readFile: (path) => readFileSync(path) });
if (parsed.ok !== true) throw new Error(`invalid configuration: ${JSON.stringify(parsed)}`);
const log = createLogger({ format: parsed.config.logFormat, level: parsed.config.logLevel });
const running = await startAgents(parsed.config, undefined, log, {
  nodeModePoint: (_node, point) => {
    const text = describePoint(point);
    process.stdout.write(`point ${text}\n`);
    if (text === killAt) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('agent started\n');
process.once('SIGTERM', () => void running.close().then(() => process.exit(0)));
