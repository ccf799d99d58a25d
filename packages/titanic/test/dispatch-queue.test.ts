/** Scheduling rules of the dispatcher, on a manual clock: fairness, circuits, backoff, removal. */
import { constantBackoff, ManualClock } from '@zpatterns/core';
import { describe, expect, it } from 'vitest';
import { DispatchQueue, type Taken } from '../src/dispatch-queue.js';
import { ServiceCircuit } from '../src/service-circuit.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Take the first-contact probe of `service` and let it succeed, so the service is healthy. */
function warm(queue: DispatchQueue, now: number, service: string): void {
  queue.add(`warm-${service}`, b(service), now);
  const probe = queue.take(now);
  if (probe === undefined || !probe.probe) throw new Error('expected a probe');
  queue.succeeded(probe.job);
}

function setup(maxIdleServices = 1024): {
  clock: ManualClock;
  queue: DispatchQueue;
  take: () => Taken | undefined;
  takeAll: () => string[];
} {
  const clock = new ManualClock(1000);
  const queue = new DispatchQueue({
    retryDelay: (n) => 1000 * n, // 1 s, 2 s, ...
    serviceRetryDelay: constantBackoff(300),
    maxIdleServices,
  });
  const take = (): Taken | undefined => queue.take(clock.now());
  const takeAll = (): string[] => {
    const out: string[] = [];
    for (let t = take(); t !== undefined; t = take()) out.push(t.job.uuid);
    return out;
  };
  return { clock, queue, take, takeAll };
}

describe('DispatchQueue', () => {
  it('gives a freed slot to the service with fewest requests in flight (a slow one does not take them all)', () => {
    const { clock, queue, take } = setup();
    warm(queue, clock.now(), 'slow');
    warm(queue, clock.now(), 'fast');
    for (let i = 0; i < 100; i++) queue.add(`s${i}`, b('slow'), clock.now());
    // Slots fill with the slow service's requests while the fast one has none.
    const slow = [take(), take(), take()].map((t) => t?.job);
    for (let i = 0; i < 3; i++) queue.add(`f${i}`, b('fast'), clock.now());
    // Every fast request goes before the next slow one while fast has fewer in flight.
    const next = [take(), take(), take(), take()].map((t) => t?.job.uuid);
    expect(next).toEqual(['f0', 'f1', 'f2', 's3']);
    expect(slow.map((j) => j?.uuid)).toEqual(['s0', 's1', 's2']);
    expect(queue.heldByService().get('slow')).toBe(100);
    expect(queue.heldByService().get('fast')).toBe(3);
  });

  it('is FIFO within a service and round-robin across services', () => {
    const { clock, queue, take, takeAll } = setup();
    for (const [uuid, service] of [
      ['a1', 'A'],
      ['a2', 'A'],
      ['a3', 'A'],
      ['b1', 'B'],
      ['c1', 'C'],
      ['b2', 'B'],
    ] as const) {
      queue.add(uuid, b(service), clock.now());
    }
    // New services start with one probe each.
    const probes: Taken[] = [];
    for (let t = take(); t !== undefined; t = take()) probes.push(t);
    expect(probes.map((t) => [t.job.uuid, t.probe])).toEqual([
      ['a1', true],
      ['b1', true],
      ['c1', true],
    ]);
    expect(queue.wakeInMs(clock.now())).toBeUndefined();
    for (const probe of probes) queue.succeeded(probe.job);
    expect(takeAll()).toEqual(['a2', 'b2', 'a3']);
    expect(queue.inFlight).toBe(3);
    expect(queue.wakeInMs(clock.now())).toBeUndefined();
  });

  it('ignores a UUID added twice (recovery racing a new submission)', () => {
    const { clock, queue, takeAll } = setup();
    warm(queue, clock.now(), 'A');
    queue.add('x', b('A'), clock.now());
    queue.add('x', b('A'), clock.now());
    expect(takeAll()).toEqual(['x']);
    expect(queue.size).toBe(1);
  });

  it('after a failure stops sending to that service until its backoff ends, then sends one probe', () => {
    const { clock, queue, take, takeAll } = setup();
    warm(queue, clock.now(), 'A');
    warm(queue, clock.now(), 'B');
    for (const uuid of ['a1', 'a2', 'a3', 'a4']) queue.add(uuid, b('A'), clock.now());
    queue.add('b1', b('B'), clock.now());
    const first = take();
    expect(first?.job.uuid).toBe('a1');
    expect(first?.probe).toBe(false);
    // a1 reached no worker: back to the head, the circuit opens for 300 ms.
    queue.failed((first as Taken).job, clock.now(), false);
    expect(queue.circuit(b('A'))?.current).toMatchObject({ state: 'backoff', failures: 1 });
    expect(takeAll()).toEqual(['b1']);
    expect(queue.wakeInMs(clock.now())).toBe(300);
    clock.advance(300);
    const probe = take();
    expect(probe).toMatchObject({ job: { uuid: 'a1', attempts: 0 }, probe: true });
    // Only one probe in flight.
    expect(take()).toBeUndefined();
    expect(queue.wakeInMs(clock.now())).toBeUndefined();
    // The probe fails again: another 300 ms.
    queue.failed((probe as Taken).job, clock.now(), false);
    expect(queue.circuit(b('A'))?.current).toMatchObject({ state: 'backoff', failures: 2 });
    clock.advance(299);
    expect(take()).toBeUndefined();
    clock.advance(1);
    const second = take() as Taken;
    expect(second.probe).toBe(true);
    queue.succeeded(second.job);
    expect(queue.circuit(b('A'))?.current).toEqual({ state: 'healthy' });
    expect(takeAll()).toEqual(['a2', 'a3', 'a4']);
  });

  it('delays a request whose sent attempt timed out by its own backoff; the rest of the service goes on', () => {
    const { clock, queue, take, takeAll } = setup();
    warm(queue, clock.now(), 'A');
    for (const uuid of ['poison', 'ok1', 'ok2']) queue.add(uuid, b('A'), clock.now());
    const poison = take() as Taken;
    queue.failed(poison.job, clock.now(), true);
    expect(poison.job.attempts).toBe(1);
    clock.advance(300);
    const probe = take() as Taken;
    expect(probe.job.uuid).toBe('ok1');
    queue.succeeded(probe.job);
    expect(takeAll()).toEqual(['ok2']);
    expect(queue.wakeInMs(clock.now())).toBe(700);
    clock.advance(700);
    const again = take() as Taken;
    expect(again.job.uuid).toBe('poison');
    queue.failed(again.job, clock.now(), true);
    expect(again.job.attempts).toBe(2);
    expect(again.job.notBefore).toBe(clock.now() + 2000);
  });

  it('a failure of a request sent before the circuit opened does not extend the backoff', () => {
    const { clock, queue, take } = setup();
    warm(queue, clock.now(), 'A');
    for (const uuid of ['a1', 'a2', 'a3']) queue.add(uuid, b('A'), clock.now());
    const a1 = take() as Taken;
    const a2 = take() as Taken;
    queue.failed(a1.job, clock.now(), true);
    clock.advance(100);
    queue.failed(a2.job, clock.now(), true);
    expect(queue.circuit(b('A'))?.current).toMatchObject({ state: 'backoff', failures: 1, until: 1300 });
  });

  it('skips closed requests and forgets services with no work', () => {
    const { clock, queue, take, takeAll } = setup(0);
    warm(queue, clock.now(), 'A');
    for (const uuid of ['a1', 'a2', 'a3']) queue.add(uuid, b('A'), clock.now());
    const a1 = take() as Taken;
    queue.remove('a2');
    queue.remove('a1'); // closed while in flight
    expect(queue.inFlight).toBe(0);
    queue.succeeded(a1.job); // its late reply changes nothing
    expect(takeAll()).toEqual(['a3']);
    expect(queue.size).toBe(1);
    expect(queue.services).toBe(1);
    queue.remove('a3');
    expect(take()).toBeUndefined();
    expect(queue.services).toBe(0);
    expect(queue.size).toBe(0);
  });

  it('remembers the circuits of the most recently idle services, forgets older ones', () => {
    const { clock, queue, take } = setup(2);
    for (const name of ['A', 'B', 'C']) {
      warm(queue, clock.now(), name); // probe succeeded: healthy, then idle
    }
    expect(take()).toBeUndefined(); // the rotation drops services without work
    expect(queue.services).toBe(2); // A was forgotten
    queue.add('b1', b('B'), clock.now());
    expect(take()).toMatchObject({ job: { uuid: 'b1' }, probe: false }); // B remembered: healthy
    queue.add('a1', b('A'), clock.now());
    expect(take()).toMatchObject({ job: { uuid: 'a1' }, probe: true }); // A forgotten: probed again
  });

  it('never forgets a service that got work again since it went idle, and counts its requests', () => {
    const { clock, queue, take } = setup(1);
    warm(queue, clock.now(), 'A');
    expect(take()).toBeUndefined(); // A idle, listed as such
    queue.add('a1', b('A'), clock.now()); // A busy again (still listed)
    const a1 = take() as Taken;
    expect(a1).toMatchObject({ job: { uuid: 'a1' }, probe: false });
    queue.add('a2', b('A'), clock.now());
    warm(queue, clock.now(), 'B');
    // B goes idle: past the bound of 1 idle service, but A, listed before it, has work.
    const a2 = take() as Taken;
    expect(a2).toMatchObject({ job: { uuid: 'a2' }, probe: false });
    expect(queue.services).toBe(2);
    expect(queue.pendingOf('A')).toBe(2);
    expect(queue.heldByService()).toEqual(new Map([['A', 2]]));
    warm(queue, clock.now(), 'C');
    expect(take()).toBeUndefined(); // C idle: B, the older idle one, is forgotten; A is busy
    expect(queue.services).toBe(2);
    queue.succeeded(a1.job);
    expect(queue.pendingOf('A')).toBe(1);
    queue.succeeded(a2.job); // A idle: C forgotten
    expect(queue.services).toBe(1);
    expect(queue.pendingOf('A')).toBe(0);
    expect(queue.heldByService()).toEqual(new Map());
    // A's circuit was kept: its next request is sent as usual, not probed again.
    queue.add('a3', b('A'), clock.now());
    expect(take()).toMatchObject({ job: { uuid: 'a3' }, probe: false });
  });

  it('a probe closed while in flight does not leave its service stuck', () => {
    const { clock, queue, take } = setup();
    queue.add('p', b('A'), clock.now());
    queue.add('next', b('A'), clock.now());
    const probe = take() as Taken;
    expect(probe.probe).toBe(true);
    expect(take()).toBeUndefined();
    queue.remove('p');
    expect(take()).toMatchObject({ job: { uuid: 'next' }, probe: true });
  });

  it('released (shutdown) requeues at the head without penalty', () => {
    const { clock, queue, take } = setup();
    queue.add('a1', b('A'), clock.now());
    queue.add('a2', b('A'), clock.now());
    const a1 = take() as Taken;
    queue.released(a1.job);
    expect(queue.inFlight).toBe(0);
    expect(take()?.job).toMatchObject({ uuid: 'a1', attempts: 0 });
  });
});

describe('ServiceCircuit', () => {
  it('starts with a first-contact probe, then is healthy, or backs off when the probe fails', () => {
    const circuit = new ServiceCircuit('A', (n) => n * 100);
    expect(circuit.admits(0)).toEqual({ probe: true });
    circuit.probing('p');
    expect(circuit.admits(0)).toBeUndefined();
    circuit.failed('p', 50);
    expect(circuit.current).toEqual({ state: 'backoff', failures: 1, until: 150 });
    circuit.probing('q');
    circuit.succeeded();
    expect(circuit.admits(0)).toEqual({ probe: false });
  });

  it('keeps the last delay when the policy gives up (Titanic never drops a request)', () => {
    const circuit = new ServiceCircuit('A', (n) => (n <= 2 ? n * 100 : null));
    circuit.succeeded(); // past the first-contact probe
    circuit.failed('x', 0);
    expect(circuit.current).toMatchObject({ until: 100 });
    circuit.probing('x');
    circuit.failed('x', 1000);
    expect(circuit.current).toMatchObject({ until: 1200 });
    circuit.probing('y');
    circuit.failed('y', 2000);
    expect(circuit.current).toMatchObject({ failures: 3, until: 2200 });
    expect(circuit.admits(2199)).toBeUndefined();
    expect(circuit.admits(2200)).toEqual({ probe: true });
  });
});
