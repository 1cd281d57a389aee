/**
 * Node THP mode (issue 9): sysfs access, the safe enable/rollback sequence and its journal.
 * See docs/node-mode.md.
 */
export * from './settings.js';
export * from './sysfs.js';
export * from './journal.js';
export type { EnforcementPort, PortOp } from './enforcement-port.js';
export * from './sequencer.js';
export * from './nack.js';
export { createImitationThpTree, cloneThpTree, readTreeFiles, DEFAULT_ANON_SIZES_KB, type ImitationTreeOptions } from './imitation-tree.js';
