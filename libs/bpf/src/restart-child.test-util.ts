/**
 * Run by kernel-policy.spec.ts as a separate process (node --import tsx): opens the pins
 * given on the command line, decides the inputs read from stdin (JSON), prints the results.
 * Proves that nothing but the pins carries the policy across a process restart.
 */
import { readFileSync } from 'node:fs';

import type { HookInput } from '@thp-fleet/policy';

import { open } from './kernel-policy.js';

const pinRoot = process.argv[2];
if (pinRoot === undefined) throw new Error('usage: restart-child <pin root> < inputs.json');
const inputs = JSON.parse(readFileSync(0, 'utf8')) as HookInput[];
const policy = open({ pinRoot });
const results = inputs.map((input) => policy.decide(input));
process.stdout.write(
  JSON.stringify({ abi: policy.abi, decisions: results.map((r) => r.decision), returns: results.map((r) => r.hookReturn) }),
);
policy.close();
