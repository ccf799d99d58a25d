/** The warning rate limiter: a budget per second, then one "suppressed" line. */
import { ManualClock } from '@zpatterns/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { WarningLimiter } from '@zpatterns/core/internal';

describe('WarningLimiter', () => {
  it('logs at most N warnings per second and reports how many it suppressed', () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: 'warn' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const clock = new ManualClock(10_000);
    const limiter = new WarningLimiter(log, clock, 3);
    for (let i = 0; i < 100; i++) limiter.warn({ i }, 'bad');
    expect(lines.map((l) => l['i'])).toEqual([0, 1, 2]);
    clock.advance(1000);
    limiter.warn({ i: 100 }, 'bad');
    expect(lines.slice(3)).toMatchObject([{ suppressed: 97 }, { i: 100 }]);
    limiter.flush();
    expect(lines).toHaveLength(5);
  });
});
