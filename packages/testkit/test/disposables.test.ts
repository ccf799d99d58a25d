/**
 * useDisposables(): what one test tracks is closed after it, newest first, every callback run even
 * when one throws (the first error is then reported by the hook).
 */
import { describe, expect, it } from 'vitest';
import { useDisposables } from '../src/index.js';

const closed: string[] = [];

describe('useDisposables', () => {
  const { track, defer } = useDisposables();

  it('tracks closables and callbacks during a test', () => {
    track({ close: () => void closed.push('close()') });
    track({ [Symbol.asyncDispose]: async () => void closed.push('asyncDispose') });
    defer(async () => void closed.push('deferred'));
    expect(closed).toEqual([]);
  });

  it('ran them after that test, newest first', () => {
    expect(closed).toEqual(['deferred', 'asyncDispose', 'close()']);
  });
});
