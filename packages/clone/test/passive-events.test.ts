/**
 * What a passive server reports about the active it follows, in core's words, against a raw
 * active (a Binary Star state PUB saying ACTIVE, a snapshot ROUTER and an update XPUB):
 *
 *   raw active ──ACTIVE──▶ backup: role deciding → passive
 *   backup ──ICANHAZ?──▶ KTHXBAI 5 ──▶ connected { peer }
 *   raw active ──HUGZ 7──▶ (7 > 5: the tail was missed) resync { peer, reason: 'behind' }
 *   silence for peerTtlMs ──▶ disconnected { peer, reason: 'silent', silentMs }
 */
import { ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { decodeIcanhaz, encodeHugz, encodeKthxbai } from '../src/kvmsg.js';
import { CloneServer } from '../src/server.js';

const { track, defer } = useDisposables();
const PEER_TTL_MS = 600;

describe("a passive's view of its active", () => {
  it('connected, resync (behind), disconnected (silent), each naming the peer', async () => {
    const state = track(new zmq.Publisher({ linger: 0 }));
    const router = track(new zmq.Router({ linger: 0 }));
    const pub = track(new zmq.XPublisher({ linger: 0 }));
    const peer = { snapshot: ipcEndpoint('pe-snap'), publisher: ipcEndpoint('pe-pub') };
    const stateEndpoint = ipcEndpoint('pe-state');
    await Promise.all([state.bind(stateEndpoint), router.bind(peer.snapshot), pub.bind(peer.publisher)]);
    const active = setInterval(() => void state.send('3').catch(() => undefined), 100);
    defer(() => clearInterval(active));
    void (async () => {
      for await (const [identity, ...rest] of router) {
        decodeIcanhaz(rest);
        await router.send([identity as Buffer, ...encodeKthxbai(5n, '')]);
      }
    })().catch(() => undefined);
    const subscribed = (async () => {
      for await (const [frame] of pub) if ((frame as Buffer)[0] === 1) return;
    })();

    const b = track(
      new CloneServer({
        peerTtlMs: PEER_TTL_MS,
        pair: {
          role: 'backup',
          stateBind: ipcEndpoint('pe-b'),
          stateConnect: stateEndpoint,
          heartbeatIntervalMs: 100,
          peer,
        },
      }),
    );
    const role = b.waitFor('role', { timeoutMs: 10_000, filter: (e) => e.to === 'passive' });
    const connected = b.waitFor('connected', { timeoutMs: 10_000 });
    await b.start();
    expect(await role).toEqual({ type: 'role', from: 'deciding', to: 'passive' });
    expect(await connected).toEqual({ type: 'connected', peer: peer.snapshot });

    await subscribed;
    const resync = b.waitFor('resync', { timeoutMs: 10_000 });
    await pub.send(encodeHugz(7n));
    expect(await resync).toEqual({ type: 'resync', peer: peer.snapshot, reason: 'behind' });

    const silent = await b.waitFor('disconnected', { timeoutMs: 10_000 });
    expect(silent).toMatchObject({ type: 'disconnected', peer: peer.snapshot, reason: 'silent' });
    expect(silent.silentMs).toBeGreaterThanOrEqual(PEER_TTL_MS);
  });
});
