/**
 * Real sockets: one CloneServer, clients on tcp loopback.
 *
 *   writer PUB --KVSET--> SUB collector | ROUTER snapshot <--ICANHAZ?-- client DEALER
 *                                       | PUB --KVPUB/HUGZ--> client SUB
 */
import { eventually } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneServer } from '../src/server.js';

const opts = (server: CloneServer, subtrees?: string[]) => ({
  servers: [{ ...server.endpoints }],
  ...(subtrees === undefined ? {} : { subtrees }),
});

describe('CloneServer + CloneClient', () => {
  it('snapshot + 1,000 updates from two writers seen identically by three clients', async () => {
    await using server = new CloneServer({ heartbeatIntervalMs: 100 });
    await server.start();
    await using w1 = new CloneClient(opts(server));
    await using w2 = new CloneClient(opts(server));
    await w1.start();
    await w2.start();
    w1.set('/pre/1', 'before');
    await eventually(() => expect(server.size).toBe(1));
    const readers = [new CloneClient(opts(server)), new CloneClient(opts(server)), new CloneClient(opts(server))];
    await Promise.all(readers.map((r) => r.start()));
    for (let i = 0; i < 500; i += 1) {
      w1.set(`/k/${i % 50}`, `w1-${i}`);
      w2.set(`/k/${(i + 25) % 50}`, `w2-${i}`);
    }
    await eventually(() => expect(server.sequence).toBe(1001n), { timeoutMs: 20_000 });
    for (const r of readers) await eventually(() => expect(r.sequence).toBe(1001n), { timeoutMs: 20_000 });
    const expected = readers[0]?.entries().sort();
    expect(expected).toHaveLength(51);
    for (const r of readers) {
      expect(r.entries().sort()).toEqual(expected);
      await r.close();
    }
  });

  it('subtree isolation: /a/ never sees /b/ or /ab; TTL deletes are published and gone from snapshots', async () => {
    await using server = new CloneServer({ heartbeatIntervalMs: 100, flushIntervalMs: 100 });
    await server.start();
    await using writer = new CloneClient(opts(server));
    await writer.start();
    await using a = new CloneClient(opts(server, ['/a/']));
    await a.start();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const c of a.watch('')) seen.push(`${c.key}=${c.value?.toString() ?? '<deleted>'}`);
    })();
    writer.set('/ab', 'no');
    writer.set('/b/1', 'no');
    writer.set('/a/1', 'yes');
    writer.set('/a/tmp', 'short', { ttlMs: 1000 });
    await eventually(() => expect(seen).toEqual(['/a/1=yes', '/a/tmp=short', '/a/tmp=<deleted>']), {
      timeoutMs: 10_000,
    });
    expect(server.stats.expired).toBe(1);
    await using late = new CloneClient(opts(server, ['/a/', '/b/']));
    await late.start();
    expect(late.entries().sort()).toEqual([
      ['/a/1', Buffer.from('yes')],
      ['/b/1', Buffer.from('no')],
    ]);
    expect(a.entries().map(([k]) => k)).toEqual(['/a/1']);
    await a.close();
    await watching;
  });
});
