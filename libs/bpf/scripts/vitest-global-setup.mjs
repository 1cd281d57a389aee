// vitest globalSetup for libs/bpf: builds the BPF objects and the addon when the toolchain
// is here (idempotent; nothing happens when the outputs are fresh). A missing toolchain is
// reported and the kernel suites skip with the reason; a broken build fails the run.
import { ensureBuilt } from './build.mjs';

export default function setup() {
  const result = ensureBuilt({ log: (line) => console.log(`[libs/bpf] ${line}`) });
  for (const [part, outcome] of Object.entries(result)) {
    if (outcome.failed) throw new Error(`[libs/bpf] ${part} build failed: ${outcome.reason}`);
    if (!outcome.built) console.warn(`[libs/bpf] ${part} not built: ${outcome.reason}`);
  }
}
