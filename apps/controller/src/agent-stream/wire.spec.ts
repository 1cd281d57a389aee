import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ControllerMessageSchema } from '@thp-fleet/proto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeAssignmentMessage, encodeShared } from './wire.js';

describe('pre-encoded assignments', () => {
  it('are byte for byte what toBinary makes of the whole message, and decode to it', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.string({ maxLength: 63 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.string({ maxLength: 3_000 }),
        fc.string({ maxLength: 40 }),
        (nonce, policy, version, spec, rolloutId) => {
          const shared = { policy, version, specHash: 'ab'.repeat(32), spec, rolloutId };
          const message = create(ControllerMessageSchema, { kind: { case: 'assignment', value: { nonce, ...shared } } });
          const encoded = encodeAssignmentMessage(encodeShared(shared), nonce);
          expect(Buffer.compare(encoded, Buffer.from(toBinary(ControllerMessageSchema, message)))).toBe(0);
          expect(fromBinary(ControllerMessageSchema, encoded)).toEqual(message);
        },
      ),
      { numRuns: 300 },
    );
  });
});
