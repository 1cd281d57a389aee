/**
 * Process entry of thpctl (bin/thpctl.mjs runs this file through tsx, or dist/main.js when
 * built). Sets the exit code and lets pending output drain instead of calling process.exit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
  now: () => Date.now(),
  sleep: (ms) => sleep(ms),
});
