import { ProtocolError } from '@zpatterns/core';
import { describe, expect, it } from 'vitest';
import {
  decodeSplitBrainQuery,
  decodeSplitBrainReply,
  encodeSplitBrainQuery,
  encodeSplitBrainReply,
  staysActive,
} from '../src/split-brain.js';

describe('who stays after a split brain', () => {
  it('the higher sequence; on a tie the primary; the two sides always disagree about themselves', () => {
    for (const [a, b] of [
      [10n, 7n],
      [7n, 10n],
      [5n, 5n],
      [0n, 0n],
    ] as const) {
      // the primary holds a, the backup b: exactly one of them stays
      expect(Number(staysActive(a, b, 'primary')) + Number(staysActive(b, a, 'backup'))).toBe(1);
    }
    expect(staysActive(10n, 7n, 'backup')).toBe(true);
    expect(staysActive(5n, 5n, 'backup')).toBe(false);
    expect(staysActive(5n, 5n, 'primary')).toBe(true);
  });

  it('question and answer round-trip; anything else is not a question, or is malformed', () => {
    expect(decodeSplitBrainQuery(encodeSplitBrainQuery(42n))).toBe(42n);
    expect(decodeSplitBrainReply(encodeSplitBrainReply(7n, 'settled'))).toEqual({ sequence: 7n, stand: 'settled' });
    expect(decodeSplitBrainQuery([Buffer.from('ICANHAZ?'), Buffer.alloc(0)])).toBeUndefined();
    expect(() => decodeSplitBrainQuery([Buffer.from('SPLITBRAIN?')])).toThrow(ProtocolError);
    expect(() => decodeSplitBrainReply([Buffer.from('SPLITBRAIN'), Buffer.alloc(8), Buffer.from('maybe')])).toThrow(
      ProtocolError,
    );
  });
});
