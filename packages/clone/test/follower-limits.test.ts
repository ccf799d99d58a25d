/**
 * A follower with `limitFrames` applies its own `maxMessageBytes` (not the process's) to the
 * sockets it opens: a raw 12/CHP server whose snapshot reply carries a frame over that limit has
 * the connection closed by libzmq; the follower reports it, asks again on a new one and follows.
 *
 * ```
 *  Follower DEALER --ICANHAZ?--> raw ROUTER   1st reply: one 8 KiB frame (over the 4 KiB limit)
 *                   <--KTHXBAI--              2nd reply: an empty snapshot
 * ```
 */
import { silentLogger } from '@zpatterns/core';
import { eventually, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { describe, expect, it, vi } from 'vitest';
import { Follower, type FollowerEvent } from '../src/follower.js';
import { decodeIcanhaz, encodeKthxbai, encodeKvMsg } from '../src/kvmsg.js';

vi.setConfig({ testTimeout: 30_000 });

const { track, defer } = useDisposables();
const LIMIT = 4096;

describe('Follower frame limit', () => {
  it('its own maxMessageBytes: an oversized snapshot reply is reported, and the next request is followed', async () => {
    const router = track(new zmq.Router({ linger: 0 }));
    const pub = track(new zmq.Publisher({ linger: 0 }));
    const source = { snapshot: ipcEndpoint('fl-snap'), publisher: ipcEndpoint('fl-pub') };
    await Promise.all([router.bind(source.snapshot), pub.bind(source.publisher)]);
    let requests = 0;
    void (async () => {
      for await (const [identity, ...rest] of router) {
        decodeIcanhaz(rest);
        requests += 1;
        const big = {
          key: '/big',
          sequence: 1n,
          uuid: Buffer.alloc(0),
          properties: new Map(),
          body: Buffer.alloc(2 * LIMIT),
        };
        const reply = requests === 1 ? encodeKvMsg(big) : encodeKthxbai(0n, '');
        await router.send([identity as Buffer, ...reply]);
      }
    })().catch(() => undefined);

    const bad: { socket: string; reason: string }[] = [];
    const events: FollowerEvent[] = [];
    const follower = new Follower({
      sources: [source],
      subtrees: [''],
      serverTtlMs: 5000,
      lingerMs: 0,
      logger: silentLogger(),
      limitFrames: true,
      maxMessageBytes: LIMIT,
      onSnapshot: () => undefined,
      onUpdate: () => undefined,
      onEvent: (event) => events.push(event),
      onBadMessage: (socket, reason) => bad.push({ socket, reason }),
    });
    defer(() => follower.close());
    await follower.start();
    expect(requests).toBe(2);
    expect(bad).toEqual([{ socket: 'snapshot', reason: expect.stringMatching(/size limit/) as unknown }]);
    expect(follower.stats).toMatchObject({ malformed: 1, snapshots: 1 });
    await eventually(() => events.some((e) => e.type === 'connected'), { what: 'connected' });
  });
});
