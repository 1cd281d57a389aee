// Child of cgroup.spec.ts, started inside a test cgroup: runs the pinned syscall program
// once on a context that asks it to resolve the calling task's cgroup chain, prints the
// context the kernel wrote back. argv: addon path, program pin, context (hex).
import { createRequire } from 'node:module';

const [addonPath, programPin, ctxHex] = process.argv.slice(2);
const addon = createRequire(import.meta.url)(addonPath);
const fd = addon.objGet(programPin);
const ctx = Buffer.from(ctxHex, 'hex');
const retval = addon.progTestRun(fd, ctx);
addon.closeFd(fd);
process.stdout.write(JSON.stringify({ retval, ctx: ctx.toString('hex') }));
