/**
 * The broker's liveness list: records in order of their last sign of life, the purge taking the
 * expired ones from the head and stopping at the first live one.
 */
import { describe, expect, it } from 'vitest';
import { LivenessList, type LivenessNode } from '../src/broker-liveness.js';

interface Node extends LivenessNode<Node> {
  readonly name: string;
}

const node = (name: string): Node => ({
  name,
  expiresAt: 0,
  livePrev: undefined,
  liveNext: undefined,
  listed: false,
});

function purged(list: LivenessList<Node>, now: number): string[] {
  const out: string[] = [];
  list.purge(now, (n) => out.push(n.name));
  return out;
}

describe('LivenessList', () => {
  it('expires in order of the last touch, and stops at the first live record', () => {
    const list = new LivenessList<Node>(100);
    const [a, b, c] = [node('a'), node('b'), node('c')];
    list.touch(a, 0);
    list.touch(b, 10);
    list.touch(c, 20);
    list.touch(a, 30); // a moves to the tail: b, c, a
    expect(a.expiresAt).toBe(130);
    expect(purged(list, 109)).toEqual([]);
    expect(purged(list, 110)).toEqual(['b']);
    expect(b.listed).toBe(false);
    expect(purged(list, 200)).toEqual(['c', 'a']);
    expect(purged(list, 1000)).toEqual([]);
  });

  it('touching the tail only refreshes its expiry; a record touched after removal is listed again', () => {
    const list = new LivenessList<Node>(100);
    const [a, b] = [node('a'), node('b')];
    list.touch(a, 0);
    list.touch(b, 0);
    list.touch(b, 50);
    expect(purged(list, 100)).toEqual(['a']);
    list.touch(a, 60);
    expect(purged(list, 150)).toEqual(['b']);
    expect(purged(list, 160)).toEqual(['a']);
  });

  it('delete takes a record out from anywhere (a no-op when it is not held); clear forgets all', () => {
    const list = new LivenessList<Node>(100);
    const [a, b, c] = [node('a'), node('b'), node('c')];
    list.touch(a, 0);
    list.touch(b, 1);
    list.touch(c, 2);
    list.delete(b);
    list.delete(b);
    expect(purged(list, 500)).toEqual(['a', 'c']);
    list.touch(a, 0);
    list.touch(b, 0);
    list.clear();
    expect(a.listed || b.listed).toBe(false);
    expect(purged(list, 500)).toEqual([]);
    list.touch(c, 0);
    expect(purged(list, 500)).toEqual(['c']);
  });

  it('the purge callback may delete other records (a removed worker requeues to others)', () => {
    const list = new LivenessList<Node>(100);
    const [a, b, c] = [node('a'), node('b'), node('c')];
    list.touch(a, 0);
    list.touch(b, 0);
    list.touch(c, 50);
    const out: string[] = [];
    list.purge(100, (n) => {
      out.push(n.name);
      list.delete(b);
    });
    expect(out).toEqual(['a']);
    expect(purged(list, 150)).toEqual(['c']);
  });
});
