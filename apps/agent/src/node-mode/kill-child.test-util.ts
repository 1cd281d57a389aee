/**
 * Child process for sequencer.kill.spec.ts: runs one node-mode operation against an existing
 * test node and SIGKILLs itself right after point number `killAfter` (-1: never), so nothing
 * but what already reached the disk survives, as in a real crash.
 *
 * argv: root stateDir hookFile killAfter operation(apply|remove) [targetJson]
 */
import { ModelHook, TEST_BOOT_ID } from './node-mode.test-util.js';
import type { NodeModeTarget } from './journal.js';
import { NodeModeSequencer } from './sequencer.js';
import { ThpSysfsTree } from './sysfs.js';

const [root, stateDir, hookFile, killAfterText, operation, targetJson] = process.argv.slice(2);
if (root === undefined || stateDir === undefined || hookFile === undefined || killAfterText === undefined || operation === undefined) {
  throw new Error('usage: kill-child root stateDir hookFile killAfter apply|remove [targetJson]');
}
const killAfter = Number(killAfterText);
let index = 0;
const seq = await NodeModeSequencer.open({
  stateDir,
  sysfs: await ThpSysfsTree.open({ root }),
  port: new ModelHook(hookFile),
  bootId: () => Promise.resolve(TEST_BOOT_ID),
  onPoint: () => {
    if (index++ === killAfter) process.kill(process.pid, 'SIGKILL');
  },
});
const outcome =
  operation === 'apply' ? await seq.apply(JSON.parse(targetJson ?? 'null') as NodeModeTarget) : await seq.remove();
process.stdout.write(`${JSON.stringify({ ok: outcome.ok, points: index })}\n`);
