#!/usr/bin/env node
// `npm test`: the whole suite. Says which database and which kernel facilities the run has,
// runs every project's tests in one vitest process, and ends with one plain summary line.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);

function describeEnvironment() {
  const lines = [];
  lines.push(`database: ${process.env.DATABASE_URL ? `DATABASE_URL (${new URL(process.env.DATABASE_URL).host})` : 'Postgres on 127.0.0.1:5432 if it answers, else embedded PGlite (see [test-db] lines)'}`);
  const isRoot = process.getuid?.() === 0;
  const clang = spawnSync('clang', ['--version'], { encoding: 'utf8' }).status === 0;
  const libbpf = existsSync('/usr/include/bpf/libbpf.h');
  const bpffs = existsSync('/sys/fs/bpf');
  lines.push(`kernel tests: root=${isRoot} clang=${clang} libbpf-headers=${libbpf} bpffs=${bpffs}${isRoot && clang && libbpf && bpffs ? '' : ' (kernel tests will skip and say why)'}`);
  return lines;
}

for (const line of describeEnvironment()) console.log(`[npm test] ${line}`);

const report = join(root, '.reports', 'vitest.json');
rmSync(report, { force: true });
const args = ['vitest', 'run', ...process.argv.slice(2)];
const result = spawnSync('npx', args, { stdio: 'inherit', env: process.env });

if (existsSync(report)) {
  const summary = JSON.parse(readFileSync(report, 'utf8'));
  const skipped = summary.numPendingTests + summary.numTodoTests;
  console.log(`\ntests: ${summary.numPassedTests} passed, ${summary.numFailedTests} failed, ${skipped} skipped`);
  if (summary.numTotalTests === 0) {
    console.error('[npm test] no test ran');
    process.exit(1);
  }
}
process.exit(result.status ?? 1);
