import { describe, expect, it } from 'vitest';
import { Component, type ComponentStatus } from '../src/component.js';
import { AbortError, ClosedError, TimeoutError } from '../src/errors.js';
import type { ConnectedEvent } from '../src/status-events.js';

type Status = ConnectedEvent;

class Thing extends Component<Status> {
  readonly log: string[] = [];
  startGate: Promise<void> = Promise.resolve();
  startError: Error | undefined;
  closeError: Error | undefined;

  constructor(readonly name: string = 'thing') {
    super();
  }

  protected override async onStart(signal: AbortSignal): Promise<void> {
    this.log.push('start');
    await Promise.race([
      this.startGate,
      new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true })),
    ]);
    if (this.startError !== undefined) throw this.startError;
  }

  protected override async onClose(): Promise<void> {
    this.log.push('close');
    if (this.closeError !== undefined) throw this.closeError;
  }

  work(): number {
    this.assertRunning();
    return 42;
  }

  tick(n: number): void {
    this.emit({ type: 'connected', peer: `tick ${n}`, session: n });
  }

  die(error: Error): Promise<void> {
    return this.fail(error);
  }
}

async function drain(feed: AsyncIterable<Status | ComponentStatus>): Promise<string[]> {
  const seen: string[] = [];
  for await (const s of feed) seen.push(s.type === 'connected' ? s.peer : s.type);
  return seen;
}

describe('Component', () => {
  it('new opens nothing; start() is idempotent; the static start does both', async () => {
    const thing = new Thing();
    expect(thing.lifecycle).toBe('new');
    expect(() => thing.work()).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    const a = thing.start();
    expect(thing.start()).toBe(a);
    expect(() => thing.work()).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await a;
    expect(thing.work()).toBe(42);
    expect(thing.log).toEqual(['start']);
    const other = await Thing.start('other');
    expect(other).toBeInstanceOf(Thing);
    expect(other.running).toBe(true);
    await Promise.all([thing.close(), other.close()]);
  });

  it('close() is idempotent, runs onClose once, and closed() resolves undefined', async () => {
    const thing = await Thing.start();
    const closed = thing.closed();
    const [a, b] = [thing.close(), thing.close()];
    expect(a).toBe(b);
    await a;
    await thing[Symbol.asyncDispose]();
    expect(await closed).toBeUndefined();
    expect(thing.log).toEqual(['start', 'close']);
    expect(() => thing.work()).toThrow(expect.objectContaining({ code: 'ERR_CLOSED' }));
    await expect(thing.start()).resolves.toBeUndefined(); // the same promise as before
  });

  it('a start after close() rejects with ClosedError; a never-started close runs nothing', async () => {
    const thing = new Thing();
    await thing.close();
    await expect(thing.start()).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(thing.log).toEqual([]);
    expect(await thing.closed()).toBeUndefined();
  });

  it('a failed start closes the object and closed() resolves with the error', async () => {
    const thing = new Thing();
    thing.startError = new Error('bind failed');
    await expect(thing.start()).rejects.toThrow('bind failed');
    expect(thing.log).toEqual(['start', 'close']);
    expect((await thing.closed())?.message).toBe('bind failed');
    expect(thing.lifecycle).toBe('closed');
  });

  it('close() during start() aborts the start, which rejects with ClosedError', async () => {
    const thing = new Thing();
    thing.startGate = new Promise(() => undefined);
    const starting = thing.start();
    await thing.close();
    await expect(starting).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    expect(thing.log).toEqual(['start', 'close']);
  });

  it("the caller's signal abandons the start with AbortError", async () => {
    const thing = new Thing();
    thing.startGate = new Promise(() => undefined);
    const controller = new AbortController();
    const starting = thing.start({ signal: controller.signal });
    controller.abort(new Error('shutting down'));
    await expect(starting).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    expect(await thing.closed()).toMatchObject({ code: 'ERR_ABORTED' });
    await expect(new Thing().start({ signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
  });

  it('status() streams started, own events and a final closed; a late iterator gets closed alone', async () => {
    const thing = new Thing();
    const feed = drain(thing.status());
    await thing.start();
    thing.tick(1);
    thing.tick(2);
    await thing.close();
    thing.tick(3);
    expect(await feed).toEqual(['started', 'tick 1', 'tick 2', 'closed']);
    expect(await drain(thing.status())).toEqual(['closed']);
  });

  it('fail() ends the object with its error, on the feed and from closed()', async () => {
    const thing = await Thing.start();
    const feed = thing.status();
    await thing.die(new Error('gave up'));
    await thing.close(); // a no-op now
    const events = [];
    for await (const s of feed) events.push(s);
    expect(events).toEqual([{ type: 'closed', error: new Error('gave up') }]);
    expect((await thing.closed())?.message).toBe('gave up');
    expect(thing.log).toEqual(['start', 'close']);
  });

  it('an error from onClose rejects close() and is what closed() resolves with', async () => {
    const thing = await Thing.start();
    thing.closeError = new Error('socket refused to close');
    await expect(thing.close()).rejects.toThrow('socket refused to close');
    await expect(thing.close()).rejects.toThrow('socket refused to close');
    expect((await thing.closed())?.message).toBe('socket refused to close');
  });

  it('start({ timeoutMs }) rejects with TimeoutError and closes the object', async () => {
    const thing = new Thing();
    thing.startGate = new Promise(() => undefined);
    const error = await thing.start({ timeoutMs: 20 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('Thing timed out after 20 ms (timeoutMs)');
    expect(thing.lifecycle).toBe('closed');
    expect(await thing.closed()).toBe(error);
  });

  it('X.start(options, { signal }) takes the start options as its second argument', async () => {
    const controller = new AbortController();
    const started = Thing.start('gated', { signal: controller.signal });
    controller.abort('stop');
    await expect(started).rejects.toBeInstanceOf(AbortError);
  });

  it('waitFor() resolves with the next event of the type that passes the filter', async () => {
    const thing = await Thing.start();
    const second = thing.waitFor('connected', { filter: (event) => event.session === 2 });
    thing.tick(1);
    thing.tick(2);
    expect(await second).toEqual({ type: 'connected', peer: 'tick 2', session: 2 });
    const closed = thing.waitFor('closed');
    await thing.close();
    expect(await closed).toEqual({ type: 'closed' });
  });

  it('waitFor() rejects with ClosedError when the object ends first, AbortError or TimeoutError when told', async () => {
    const thing = await Thing.start();
    const never = thing.waitFor('connected');
    const aborted = thing.waitFor('connected', { signal: AbortSignal.abort('no') });
    await expect(aborted).rejects.toBeInstanceOf(AbortError);
    await expect(thing.waitFor('connected', { timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError);
    await thing.close();
    await expect(never).rejects.toBeInstanceOf(ClosedError);
    await expect(thing.waitFor('connected')).rejects.toBeInstanceOf(ClosedError);
  });

  it('start({ timeoutMs }) refuses a bound that is not a number > 0', async () => {
    const thing = new Thing();
    await expect(thing.start({ timeoutMs: 0 })).rejects.toThrow(
      'Thing.start: timeoutMs must be a number > 0 (or Infinity), got 0',
    );
  });
});
