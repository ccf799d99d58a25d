import { describe, expect, it } from 'vitest';
import { CallBudget } from '../src/call-budget.js';
import { ManualClock } from '../src/clock.js';
import { AbortError, InvalidArgumentError, TimeoutError } from '../src/errors.js';

/** A reply that never comes unless resolved. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('CallBudget', () => {
  it('allows retries + 1 attempts, then ends with a TimeoutError counting them', async () => {
    const clock = new ManualClock();
    using budget = new CallBudget('request to echo', { attemptTimeoutMs: 100, retries: 2 }, clock);
    let sends = 0;
    while (budget.next()) {
      sends++;
      const outcome = budget.race(pending<string>().promise);
      clock.advance(100);
      expect(await outcome).toEqual({ ok: false });
    }
    expect(sends).toBe(3);
    const error = budget.error();
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ code: 'ERR_TIMEOUT', attempts: 3 });
    expect(error.message).toBe('request to echo: no reply after 3 attempts of 100 ms (retries: 2)');
  });

  it('returns the reply of the attempt that gets one', async () => {
    const clock = new ManualClock();
    using budget = new CallBudget('call', { attemptTimeoutMs: 100, retries: 5 }, clock);
    expect(budget.next()).toBe(true);
    const reply = pending<string>();
    const outcome = budget.race(reply.promise);
    reply.resolve('pong');
    expect(await outcome).toEqual({ ok: true, value: 'pong' });
    expect(budget.attempts).toBe(1);
  });

  it('ends the whole call at timeoutMs, inside an attempt, with a TimeoutError naming the option', async () => {
    const clock = new ManualClock();
    using budget = new CallBudget('request to slow', { timeoutMs: 250, attemptTimeoutMs: 100, retries: 10 }, clock);
    const outcomes: unknown[] = [];
    let final: unknown;
    while (budget.next()) {
      const outcome = budget.race(pending<string>().promise);
      clock.advance(100);
      try {
        outcomes.push(await outcome);
      } catch (err) {
        final = err;
        break;
      }
    }
    expect(outcomes).toEqual([{ ok: false }, { ok: false }]);
    expect(final).toBeInstanceOf(TimeoutError);
    expect(final).toMatchObject({ attempts: 3, message: 'request to slow timed out after 250 ms (timeoutMs)' });
    expect(budget.next()).toBe(false);
    expect(budget.signal.aborted).toBe(true);
  });

  it("rejects with AbortError, the signal's reason as cause, when the caller aborts mid-attempt", async () => {
    const clock = new ManualClock();
    const controller = new AbortController();
    using budget = new CallBudget('call', { signal: controller.signal, retries: 3 }, clock);
    expect(budget.next()).toBe(true);
    const outcome = budget.race(pending<string>().promise);
    controller.abort('user left');
    await expect(outcome).rejects.toBeInstanceOf(AbortError);
    await expect(outcome).rejects.toMatchObject({ cause: 'user left' });
    expect(budget.next()).toBe(false);
  });

  it('starts no attempt with a signal already aborted', () => {
    using budget = new CallBudget('call', { signal: AbortSignal.abort('no') }, new ManualClock());
    expect(budget.next()).toBe(false);
    expect(budget.error()).toBeInstanceOf(AbortError);
  });

  it('passes the reply promise’s own rejection through', async () => {
    using budget = new CallBudget('call', {}, new ManualClock());
    budget.next();
    await expect(budget.race(Promise.reject(new Error('socket closed')))).rejects.toThrow('socket closed');
  });

  it('clears its timers when disposed', () => {
    const clock = new ManualClock();
    const budget = new CallBudget('call', { timeoutMs: 1000 }, clock);
    expect(clock.pending).toBe(1);
    budget.dispose();
    budget.dispose();
    expect(clock.pending).toBe(0);
  });

  it('refuses bad budgets in the one message style', () => {
    expect(() => new CallBudget('MajordomoClient.request', { timeoutMs: 0 })).toThrow(
      new InvalidArgumentError('MajordomoClient.request: timeoutMs must be a number > 0 (or Infinity), got 0'),
    );
    expect(() => new CallBudget('x', { retries: 1.5 })).toThrow(/retries must be a whole number >= 0/);
  });

  it('makes its name from a function only when a message needs it', () => {
    let made = 0;
    const what = (): string => {
      made++;
      return 'request to echo';
    };
    using budget = new CallBudget(what, { retries: 0 });
    expect(budget.next()).toBe(true);
    expect(made).toBe(0);
    expect(budget.next()).toBe(false);
    expect(budget.error().message).toBe('request to echo: no reply after 1 attempts (retries: 0)');
    expect(budget.error().message).toBe('request to echo: no reply after 1 attempts (retries: 0)');
    expect(made).toBe(1);
    expect(() => new CallBudget(() => 'MajordomoClient.request', { timeoutMs: 0 })).toThrow(
      /^MajordomoClient.request: timeoutMs must be/,
    );
  });
});
