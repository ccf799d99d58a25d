import { describe, expect, it } from 'vitest';
import { RateMeter } from '../src/status.js';

describe('RateMeter', () => {
  it('is 0 on the first read, then the change per second over at least the window', () => {
    let now = 0;
    const rates = new RateMeter(1000, () => now);
    expect(rates.rate('a', 10)).toBe(0);
    now = 500;
    expect(rates.rate('a', 20)).toBe(0); // within the window: the last rate
    now = 2000;
    expect(rates.rate('a', 40)).toBe(15); // 30 over 2 s
    now = 2400;
    expect(rates.rate('a', 1000)).toBe(15); // many readers in one window see one rate
    now = 3000;
    expect(rates.rate('a', 40)).toBe(0); // unchanged over 1 s
  });

  it('forgets keys it is not told to keep', () => {
    let now = 0;
    const rates = new RateMeter(1000, () => now);
    rates.rate('gone', 5);
    rates.retain(new Set());
    now = 1000;
    expect(rates.rate('gone', 100)).toBe(0); // a first read again
  });
});
