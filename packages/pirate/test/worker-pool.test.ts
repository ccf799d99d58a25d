/**
 * The queue's worker bookkeeping with explicit time: expiry order, purge, LRU dispatch, and the
 * busy/free rules that differ from ppqueue.c.
 */
import { describe, expect, it } from 'vitest';
import { Backlog, requestBytes } from '../src/backlog.js';
import { WorkerPool } from '../src/worker-pool.js';

const id = (name: string): Buffer => Buffer.from(name);

describe('WorkerPool', () => {
  it('hands out the least recently heard-from free worker first', () => {
    const pool = new WorkerPool(3000);
    pool.ready(id('a'), 0);
    pool.ready(id('b'), 10);
    pool.ready(id('c'), 20);
    pool.heartbeat(id('a'), 30); // a moves to the tail
    expect(pool.take(40)?.toString()).toBe('b');
    expect(pool.take(40)?.toString()).toBe('c');
    expect(pool.take(40)?.toString()).toBe('a');
    expect(pool.take(40)).toBeUndefined();
    expect(pool.busyCount).toBe(3);
  });

  it('never hands out a worker past its expiry, even when a live one is behind it', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('dead'), 0);
    pool.ready(id('live'), 200);
    const expired: string[] = [];
    expect(pool.take(300, (w) => expired.push(w.toString()))?.toString()).toBe('live');
    expect(expired).toEqual(['dead']);
    expect(pool.size).toBe(1);
  });

  it('expires at exactly intervalMs x liveness after the last message, and not before', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('a'), 0);
    expect(pool.purge(299)).toBe(0);
    pool.heartbeat(id('a'), 299);
    expect(pool.purge(598)).toBe(0);
    expect(pool.purge(599)).toBe(1);
    expect(pool.size).toBe(0);
  });

  it('a heartbeat keeps a busy worker alive but does not free it; a reply frees it', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('w'), 0);
    expect(pool.take(0)?.toString()).toBe('w');
    expect(pool.heartbeat(id('w'), 250)).toBe('still-busy');
    expect(pool.take(260)).toBeUndefined();
    expect(pool.purge(500)).toBe(0); // alive thanks to the heartbeat
    expect(pool.replied(id('w'), 510)).toBe('freed');
    expect(pool.take(520)?.toString()).toBe('w');
  });

  it('expires busy workers that go silent, and reports them as busy', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('w'), 0);
    pool.take(0);
    const expired: [string, boolean][] = [];
    pool.purge(300, (w, busy) => expired.push([w.toString(), busy]));
    expect(expired).toEqual([['w', true]]);
  });

  it('READY from a busy worker frees it (its request is lost); an unknown heartbeat joins as free', () => {
    const pool = new WorkerPool(300);
    expect(pool.heartbeat(id('x'), 0)).toBe('joined');
    expect(pool.ready(id('x'), 1)).toBe('refreshed');
    pool.take(2);
    expect(pool.ready(id('x'), 3)).toBe('freed');
    expect(pool.isReady(id('x'))).toBe(true);
    expect(pool.remove(id('x'))).toBe(true);
    expect(pool.remove(id('x'))).toBe(false);
  });

  it('says how each message changed a worker: joined, refreshed, freed, still-busy', () => {
    const pool = new WorkerPool(300);
    expect(pool.ready(id('a'), 0)).toBe('joined');
    expect(pool.ready(id('a'), 1)).toBe('refreshed');
    expect(pool.heartbeat(id('a'), 2)).toBe('refreshed');
    expect(pool.replied(id('b'), 3)).toBe('joined'); // a reply from a worker the queue forgot
    expect(pool.replied(id('b'), 4)).toBe('refreshed');
    expect(pool.take(5)?.toString()).toBe('a');
    expect(pool.isBusy(id('a'))).toBe(true);
    expect(pool.isBusy(id('b'))).toBe(false);
    expect(pool.heartbeat(id('a'), 6)).toBe('still-busy');
    expect(pool.replied(id('a'), 7)).toBe('freed');
    expect([pool.readyCount, pool.busyCount, pool.size]).toEqual([2, 0, 2]);
  });

  it('purge() counts the free and the busy it expired, and tells which were busy', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('a'), 0);
    pool.ready(id('b'), 0);
    pool.ready(id('c'), 0);
    pool.take(0); // a
    pool.take(0); // b
    expect([pool.readyCount, pool.busyCount]).toEqual([1, 2]);
    const expired: string[] = [];
    expect(pool.purge(300, (w, busy) => expired.push(`${w.toString()}:${busy}`))).toBe(3);
    expect(expired.sort()).toEqual(['a:true', 'b:true', 'c:false']);
    pool.ready(id('late'), 400);
    pool.take(400);
    expect(pool.purge(700)).toBe(1); // no callback: nothing to call
  });

  it('purges again at the same time when a worker was touched with an earlier time since', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('a'), 0);
    expect(pool.purge(300)).toBe(1);
    expect(pool.purge(300)).toBe(0); // nothing touched since: skipped, nothing to find
    pool.ready(id('b'), 0); // dated before the last purge: already expired at 300
    expect(pool.purge(300)).toBe(1);
    expect(pool.take(300)).toBeUndefined();
  });

  it('heartbeat fan-out covers free and busy workers, each once', () => {
    const pool = new WorkerPool(300);
    pool.ready(id('a'), 0);
    pool.ready(id('b'), 0);
    pool.take(0);
    expect([...pool.all()].map(String).sort()).toEqual(['a', 'b']);
  });
});

describe('Backlog', () => {
  // A request as the frontend read it: [client-id][""][body].
  const req = (n: number) => [id(`c${n}`), Buffer.alloc(0), id(String(n))];
  // 96 + (2 + 16) + (0 + 16) + (1 + 16)
  const COST = 147;

  it('counts bytes, keeps arrival order, refuses NEW requests past the bound and keeps the accepted ones', () => {
    expect(requestBytes(req(1))).toBe(COST);
    const backlog = new Backlog(2 * COST);
    expect(backlog.push(req(1))).toBe(true);
    expect(backlog.push(req(2))).toBe(true);
    expect(backlog.push(req(3))).toBe(false);
    expect(backlog.length).toBe(2);
    expect(backlog.bytes).toBe(2 * COST);
    // A request given back (its worker vanished) was accepted: kept even past the bound.
    backlog.unshift(req(0));
    expect(backlog.bytes).toBe(3 * COST);
    expect([backlog.shift(), backlog.shift(), backlog.shift()].map((r) => r?.[2]?.toString())).toEqual(['0', '1', '2']);
    expect(backlog.bytes).toBe(0);
    expect(backlog.push(req(4))).toBe(true);
  });

  it('with a bound of 0 refuses everything', () => {
    const backlog = new Backlog(0);
    expect(backlog.push(req(1))).toBe(false);
    expect(backlog.length).toBe(0);
  });
});
