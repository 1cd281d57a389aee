/**
 * Mapping a node-mode failure onto the wire's NackError (libs/proto `thp.v1.NackError`), so the
 * executor can answer an Assignment with `create(NackErrorSchema, toNackErrorFields(error))`.
 */
import { NackStage, type NackError } from '@thp-fleet/proto';
import type { NodeModeError } from './journal.js';

export function nackStage(stage: NodeModeError['stage']): NackStage {
  switch (stage) {
    case 'validate':
      return NackStage.VALIDATE;
    case 'compile':
      return NackStage.COMPILE;
    case 'attach':
      return NackStage.ATTACH;
    case 'verify':
      return NackStage.VERIFY;
    case 'other':
      return NackStage.OTHER;
  }
}

export function toNackErrorFields(error: NodeModeError): Omit<NackError, '$typeName'> {
  return { stage: nackStage(error.stage), message: error.message, detail: `${error.code}: ${error.detail}` };
}
