// Worker for live-update.spec.ts: runs the pinned syscall program in a tight loop on
// pre-encoded contexts while the main thread rewrites the tables, and checks every
// decision against the two allowed answers (policy A's or policy B's). Plain JS on
// purpose: it needs only the addon, and the encoding was done by src/layout.ts.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const addon = require(workerData.addonPath);
const { ctxSize, count, offsets } = workerData;
const contexts = Buffer.from(workerData.contexts);
const answerA = new Int32Array(workerData.answerA);
const answerB = new Int32Array(workerData.answerB);
const control = new Int32Array(workerData.control);

const fd = addon.objGet(workerData.programPin);
const ctx = Buffer.alloc(ctxSize);
const result = { runs: 0, violations: 0, sawA: 0, sawB: 0, retries: 0, firstViolation: null };
Atomics.store(control, 1, 1); // running
while (Atomics.load(control, 0) === 0) {
  for (let i = 0; i < count; i++) {
    contexts.copy(ctx, 0, i * ctxSize, (i + 1) * ctxSize);
    addon.progTestRun(fd, ctx);
    const decision = ctx.readInt32LE(offsets.out_decision);
    if (ctx.readUInt32LE(offsets.out_attempts) > 1) result.retries++;
    const a = answerA[i];
    const b = answerB[i];
    if (decision !== a && decision !== b) {
      result.violations++;
      result.firstViolation ??= { index: i, decision, a, b };
    } else if (a !== b) {
      if (decision === a) result.sawA++;
      else result.sawB++;
    }
    result.runs++;
  }
}
addon.closeFd(fd);
parentPort.postMessage(result);
