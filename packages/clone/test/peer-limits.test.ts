/**
 * The links a passive server opens to its peer carry the same frame limit as its bound sockets:
 * a peer (here a raw one speaking 12/CHP and Binary Star) that sends a message of the wrong shape,
 * or a frame over the limit, has it dropped, counted and logged, and the server follows on.
 */
import { eventually, ipcEndpoint, useDisposables } from '@zpatterns/testkit';
import { pino } from 'pino';
import * as zmq from 'zeromq';
import { describe, expect, it, vi } from 'vitest';
import { decodeIcanhaz, encodeHugz, encodeKthxbai, encodeKvMsg } from '../src/kvmsg.js';
import { CloneServer } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });

const { track, defer } = useDisposables();
const LIMIT = 4096;

const kv = (key: string, sequence: bigint, body: Buffer | string) =>
  encodeKvMsg({ key, sequence, uuid: Buffer.alloc(0), properties: new Map(), body: Buffer.from(body) });

describe("a passive's links to its peer", () => {
  it('drop an over-framed or oversized message with a warning and a count, and keep following', async () => {
    // the server's own limit (maxMessageBytes below) covers its HUGZ watch and the replica's two
    // sockets
    // the raw peer: an active Binary Star state, a snapshot ROUTER and an update XPUB
    const state = track(new zmq.Publisher({ linger: 0 }));
    const router = track(new zmq.Router({ linger: 0 }));
    const pub = track(new zmq.XPublisher({ linger: 0, verbosity: 'allSubs' }));
    const peer = { snapshot: ipcEndpoint('lim-snap'), publisher: ipcEndpoint('lim-pub') };
    const stateEndpoint = ipcEndpoint('lim-state');
    await Promise.all([state.bind(stateEndpoint), router.bind(peer.snapshot), pub.bind(peer.publisher)]);
    const heartbeat = setInterval(() => void state.send('3').catch(() => undefined), 100);
    defer(() => clearInterval(heartbeat));
    // the first snapshot request gets a reply of six frames, then one over the limit; the next, an
    // empty snapshot
    let requests = 0;
    void (async () => {
      for await (const [identity, ...rest] of router) {
        decodeIcanhaz(rest);
        const id = identity as Buffer;
        requests += 1;
        if (requests === 1) {
          await router.send([id, ...kv('/a', 1n, 'x'), Buffer.from('extra')]);
          await router.send([id, ...kv('/big', 1n, Buffer.alloc(LIMIT * 2))]);
        } else await router.send([id, ...encodeKthxbai(0n, '')]);
      }
    })().catch(() => undefined);
    const subscriptions: string[] = [];
    void (async () => {
      for await (const [frame] of pub) subscriptions.push((frame as Buffer).subarray(1).toString());
    })().catch(() => undefined);

    const warnings: { socket?: string; reason?: string }[] = [];
    const logger = pino(
      { level: 'warn' },
      { write: (line: string) => void warnings.push(JSON.parse(line) as { socket?: string; reason?: string }) },
    );
    const b = track(
      new CloneServer({
        logger,
        maxMessageBytes: LIMIT,
        heartbeatIntervalMs: 50,
        pair: {
          role: 'backup',
          stateBind: ipcEndpoint('lim-b'),
          stateConnect: stateEndpoint,
          heartbeatIntervalMs: 200,
          peer,
        },
      }),
    );
    await b.start();
    const bad = (socket: string) => warnings.filter((w) => w.socket === socket);

    // the snapshot socket: the six frames dropped, the oversized reply ends the connection, and
    // the passive asks again on a new one
    await eventually(() => b.role === 'passive' && requests >= 2, { what: 'passive asked twice' });
    await eventually(() => bad('peer-snapshot').length >= 2, { what: 'both snapshot replies reported' });
    expect(bad('peer-snapshot')[0]?.reason).toMatch(/expected 5 frames, got 6/);
    expect(bad('peer-snapshot')[1]?.reason).toMatch(/size limit/);

    // the stream and the HUGZ watch: a HUGZ of six frames reaches both
    await eventually(() => subscriptions.includes('') && subscriptions.includes('HUGZ'), { what: 'both subscribed' });
    await eventually(
      async () => {
        await pub.send([...encodeHugz(1n), Buffer.from('extra')]);
        return bad('peer-subscriber').length >= 1 && bad('peer-hugz').length >= 1;
      },
      { what: 'six-frame HUGZ reported on both' },
    );
    const shapes = b.stats.malformed;
    expect(shapes).toBeGreaterThanOrEqual(4);

    // a frame over the limit: libzmq closes both connections; both are reported and reopened
    const subscribed = subscriptions.length;
    await pub.send(kv('HUGZ', 1n, Buffer.alloc(LIMIT * 2)));
    await eventually(
      () =>
        bad('peer-subscriber').some((w) => /size limit/.test(w.reason ?? '')) &&
        bad('peer-hugz').some((w) => /size limit/.test(w.reason ?? '')),
      { what: 'oversized frame reported on both' },
    );
    expect(b.stats.malformed).toBeGreaterThanOrEqual(shapes + 2);
    await eventually(() => subscriptions.slice(subscribed).includes('HUGZ'), { what: 'the HUGZ watch reconnected' });

    // and the passive still follows its peer
    await eventually(
      async () => {
        await pub.send(kv('/after', 1n, 'ok'));
        return b.sequence === 1n;
      },
      { what: 'the passive applies the next update', timeoutMs: 20_000 },
    );
    expect(b.role).toBe('passive');
    expect(b.health.ok).toBe(true);
  });
});

describe('maxMessageBytes', () => {
  it("is each server's own: a frame over one server's limit is dropped there, sequenced by the other", async () => {
    const limited = track(new CloneServer({ maxMessageBytes: LIMIT }));
    const unlimited = track(new CloneServer());
    await Promise.all([limited.start(), unlimited.start()]);
    const writer = track(new zmq.Publisher({ linger: 0 }));
    writer.connect(limited.endpoints.collector);
    writer.connect(unlimited.endpoints.collector);
    const sendUntil = (key: string, body: Buffer | string, done: () => boolean, what: string) =>
      eventually(
        async () => {
          await writer.send(kv(key, 0n, body));
          return done();
        },
        { what },
      );
    // both subscribed: from here on every send reaches both, in order
    await sendUntil('/warm', 'x', () => limited.size === 1 && unlimited.size === 1, 'both hear the writer');
    await sendUntil('/big', Buffer.alloc(LIMIT * 2), () => unlimited.size === 2, 'the default limit takes /big');
    // libzmq dropped the writer's connection to the limited server at each big frame; it reconnects
    await sendUntil('/after', 'x', () => unlimited.size === 3 && limited.size >= 2, 'both take /after');
    expect(limited.size).toBe(2); // '/warm' and '/after': '/big' never got through
  });
});
