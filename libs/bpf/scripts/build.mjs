#!/usr/bin/env node
// Builds the kernel half of @thp-fleet/bpf into libs/bpf/build/ (gitignored):
//   build/bpf/thp_policy{,.v7,.v8,.v12,.probe}.bpf.o  clang -target bpf -O2 -g, one source
//   build/bpf/test_struct_ops.bpf.o                  a tcp_congestion_ops fixture for the tests
//   build/Release/thp_bpf.node                       the N-API addon (node-gyp, -lbpf)
//
// Idempotent: a part is rebuilt only when a source is newer than its output. A part whose
// toolchain is missing (clang, libbpf headers, Node headers) is skipped with the reason.
//
//   node scripts/build.mjs               build what can be built; exit 1 if a part failed
//   node scripts/build.mjs --if-possible never fail (the npm install hook)
//   node scripts/build.mjs --force       rebuild everything
//
// Also imported by the vitest global setup (ensureBuilt).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const buildDir = join(packageRoot, 'build');
export const bpfOutDir = join(buildDir, 'bpf');
export const addonPath = join(buildDir, 'Release', 'thp_bpf.node');

const bpfSourceDir = join(packageRoot, 'bpf');
const libbpfHeaders = '/usr/include/bpf';

/** Objects built from bpf/thp_policy.bpf.c: output name and the -D flags that select it. */
export const policyVariants = [
  { name: 'thp_policy.bpf.o', defines: [] },
  { name: 'thp_policy.v7.bpf.o', defines: ['-DTHP_HOOK_ABI=7'] },
  { name: 'thp_policy.v8.bpf.o', defines: ['-DTHP_HOOK_ABI=8'] },
  { name: 'thp_policy.v12.bpf.o', defines: ['-DTHP_HOOK_ABI=12'] },
  { name: 'thp_policy.probe.bpf.o', defines: ['-DTHP_PROBE'] },
];

function newestMtime(paths) {
  let newest = 0;
  for (const p of paths) newest = Math.max(newest, statSync(p).mtimeMs);
  return newest;
}

function isStale(output, inputs) {
  return !existsSync(output) || statSync(output).mtimeMs < newestMtime(inputs);
}

function findClang() {
  const candidates = [process.env.CLANG, 'clang', 'clang-14', 'clang-15', 'clang-16'].filter(Boolean);
  for (const candidate of candidates) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0) return { path: candidate, version: result.stdout.split('\n')[0] ?? '' };
  }
  return null;
}

/** The multiarch include dir holding asm/types.h, needed by linux/bpf.h under -target bpf. */
function asmIncludeDir() {
  const triplet = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[arch()];
  const dir = triplet ? `/usr/include/${triplet}` : undefined;
  return dir && existsSync(join(dir, 'asm', 'types.h')) ? dir : undefined;
}

function targetArchDefine() {
  return { x64: '-D__TARGET_ARCH_x86', arm64: '-D__TARGET_ARCH_arm64' }[arch()] ?? '';
}

function buildBpf({ force, log }) {
  const clang = findClang();
  if (!clang) return { built: false, reason: 'clang not found (set CLANG or install clang)' };
  if (!existsSync(join(libbpfHeaders, 'bpf_helpers.h')))
    return { built: false, reason: `libbpf headers missing (${libbpfHeaders}/bpf_helpers.h; install libbpf-dev)` };
  const asmDir = asmIncludeDir();
  if (!asmDir) return { built: false, reason: 'kernel uapi headers missing (asm/types.h; install linux-libc-dev)' };

  mkdirSync(bpfOutDir, { recursive: true });
  const headers = readdirSync(bpfSourceDir)
    .filter((f) => f.endsWith('.h'))
    .map((f) => join(bpfSourceDir, f));
  const self = fileURLToPath(import.meta.url);
  const jobs = [
    ...policyVariants.map((v) => ({ source: join(bpfSourceDir, 'thp_policy.bpf.c'), ...v })),
    { source: join(bpfSourceDir, 'test_struct_ops.bpf.c'), name: 'test_struct_ops.bpf.o', defines: [] },
  ];
  const built = [];
  for (const job of jobs) {
    const output = join(bpfOutDir, job.name);
    if (!force && !isStale(output, [job.source, ...headers, self])) continue;
    const tmp = `${output}.tmp-${process.pid}`;
    const args = [
      '-O2', '-g', '-target', 'bpf', '-mcpu=v3', targetArchDefine(), `-I${asmDir}`,
      '-Wall', '-Wextra', '-Wno-unused-parameter', '-Werror', ...job.defines,
      '-c', job.source, '-o', tmp,
    ].filter(Boolean);
    const result = spawnSync(clang.path, args, { encoding: 'utf8' });
    if (result.status !== 0) {
      rmSync(tmp, { force: true });
      return { built: false, reason: `${clang.path} failed on ${job.name}:\n${result.stderr}`, failed: true };
    }
    renameSync(tmp, output); // atomic: a concurrent reader never sees half an object
    built.push(job.name);
  }
  if (built.length > 0) log(`bpf: built ${built.join(', ')} with ${clang.version}`);
  return { built: true, clang: clang.version };
}

/** --nodedir for node-gyp: npm's setting, else the prefix of this node if it ships headers. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

function buildAddon({ force, log }) {
  if (!existsSync(join(libbpfHeaders, 'libbpf.h')))
    return { built: false, reason: `libbpf headers missing (${libbpfHeaders}/libbpf.h; install libbpf-dev)` };
  const require = createRequire(join(packageRoot, 'package.json'));
  let nodeGyp;
  try {
    nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
    require.resolve('node-addon-api');
  } catch {
    return { built: false, reason: 'node-gyp or node-addon-api is not installed (npm ci)' };
  }
  const sources = [
    join(packageRoot, 'binding.gyp'),
    ...readdirSync(join(packageRoot, 'native')).map((f) => join(packageRoot, 'native', f)),
    fileURLToPath(import.meta.url),
  ];
  if (!force && !isStale(addonPath, sources)) return { built: true };

  const dir = nodeDir();
  const common = dir ? [`--nodedir=${dir}`] : [];
  // configure + build, never `rebuild`: rebuild starts with `clean`, which deletes build/bpf.
  const needsConfigure = force || isStale(join(buildDir, 'Makefile'), [join(packageRoot, 'binding.gyp')]);
  const steps = needsConfigure ? ['configure', 'build'] : ['build'];
  const result = spawnSync(process.execPath, [nodeGyp, ...steps, ...common, '--loglevel=warn'], {
    cwd: packageRoot,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    return { built: false, reason: `node-gyp ${steps.join(' ')} failed:\n${result.stderr || result.stdout}`, failed: true };
  log(`addon: built ${addonPath}`);
  return { built: true };
}

/**
 * Builds whatever is missing or stale. Never throws for a missing toolchain: each part
 * reports { built, reason }. `failed` is set when a toolchain was present but the build broke.
 */
export function ensureBuilt({ force = false, log = (line) => console.log(line) } = {}) {
  const bpf = buildBpf({ force, log });
  const addon = buildAddon({ force, log });
  return { bpf, addon };
}

function main() {
  const args = new Set(process.argv.slice(2));
  const ifPossible = args.has('--if-possible');
  let result;
  try {
    result = ensureBuilt({ force: args.has('--force') });
  } catch (error) {
    console.error(`@thp-fleet/bpf build: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(ifPossible ? 0 : 1);
  }
  for (const [part, outcome] of Object.entries(result)) {
    if (!outcome.built) console.warn(`@thp-fleet/bpf: ${part} not built: ${outcome.reason}`);
  }
  const failed = Object.values(result).some((o) => o.failed);
  process.exit(failed && !ifPossible ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
