/**
 * A burst of client updates with one live subscriber: the subscriber must see every sequence number.
 * Real sockets, one process: a bare PUB writes the burst to the collector, a bare SUB follows the
 * publisher and reads nothing until the server has published the whole burst (a subscriber that
 * stalls for a moment, as a loaded machine or a GC pause makes it, and then keeps up).
 */
import { useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { expect, it, vi } from 'vitest';
import { decodeKvMsg, encodeKvMsg, newUuid } from '../src/kvmsg.js';
import { CloneServer } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });
const { track } = useDisposables();

it('publishes every update of a burst to a subscriber that stalls and catches up', async () => {
  const server = track(new CloneServer({ heartbeatIntervalMs: 60_000, flushIntervalMs: 50 }));
  await server.start();
  const { publisher, collector } = server.endpoints;
  const sub = track(new zmq.Subscriber({ linger: 0 }));
  sub.subscribe();
  sub.connect(publisher);
  const pub = track(new zmq.Publisher({ linger: 0, sendHighWaterMark: 0 }));
  pub.connect(collector);
  const body = Buffer.alloc(2048, 0x61);
  const update = (key: string): Buffer[] =>
    encodeKvMsg({ key, sequence: 0n, uuid: newUuid(), properties: new Map(), body });

  // Both links up: a first update, resent until the subscriber sees it.
  sub.receiveTimeout = 100;
  for (let seen = false; !seen;) {
    await pub.send(update('/warm'));
    try {
      seen = decodeKvMsg(await sub.receive()).key === '/warm';
    } catch {
      // not yet
    }
  }
  for (;;) {
    try {
      await sub.receive(); // the other copies of the warm-up update
    } catch {
      break;
    }
  }
  const start = server.sequence;
  const count = 20_000;
  for (let i = 0; i < count; i++) await pub.send(update(`/burst/${i % 100}`));
  while (server.sequence < start + BigInt(count)) await new Promise((resolve) => setImmediate(resolve));

  sub.receiveTimeout = 2000;
  const last = start + BigInt(count);
  let expected = start + 1n;
  let missing = 0n;
  while (expected <= last) {
    let frames: Buffer[];
    try {
      frames = await sub.receive();
    } catch {
      missing += last + 1n - expected; // the end of the burst never came
      break;
    }
    const msg = decodeKvMsg(frames);
    if (msg.key === 'HUGZ') continue;
    missing += msg.sequence - expected;
    expected = msg.sequence + 1n;
  }
  expect(missing).toBe(0n);
});
