/**
 * One normal request per daemon, spoken with raw sockets, to show a daemon still serves after
 * abuse: a Majordomo round trip, a Pirate round trip, an echo and a Clone snapshot.
 */
import { rawDealer } from './peers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

let probes = 0;

/** A fresh service each time: a worker of an earlier probe may still count as alive. */
export async function mdpRoundTrip(endpoint: string): Promise<void> {
  const service = `echo-${++probes}`;
  await using worker = rawDealer(endpoint);
  await using client = rawDealer(endpoint);
  await worker.send([b(''), b('MDPW01'), Buffer.from([1]), b(service)]);
  await client.send([b(''), b('MDPC01'), b(service), b('still there?')]);
  const request = await worker.receiveMatching((m) => m[2]?.[0] === 2, 15_000);
  await worker.send([b(''), b('MDPW01'), Buffer.from([3]), request[3] as Buffer, b(''), ...request.slice(5)]);
  const reply = await client.receive(15_000);
  if (reply.at(-1)?.toString() !== 'still there?') throw new Error('mdbroker: wrong reply');
}

/**
 * A Pirate round trip. The worker echoes whatever the queue hands it (requests queued before ours,
 * in FIFO order, come first) and heartbeats, until our own request's reply is back; the request
 * is resent now and then (the queue may first give it to a worker that is gone).
 */
export async function pppRoundTrip(frontend: string, backend: string): Promise<void> {
  await using worker = rawDealer(backend);
  await using client = rawDealer(frontend);
  await worker.send([Buffer.from([1])]); // PPP READY
  let done = false;
  const heartbeat = setInterval(() => void worker.send([Buffer.from([2])]).catch(() => undefined), 500);
  const serving = (async () => {
    while (!done) {
      const request = await worker.receive(1000).catch(() => undefined);
      if (request !== undefined && request.length >= 3) await worker.send(request);
    }
  })();
  try {
    for (let attempt = 0; attempt < 10; attempt++) {
      await client.send([b(''), b('still there?')]);
      const reply = await client
        .receiveMatching((m) => m.at(-1)?.toString() === 'still there?', 3000)
        .catch(() => undefined);
      if (reply !== undefined) return;
    }
    throw new Error('ppqueue: no reply');
  } finally {
    done = true;
    clearInterval(heartbeat);
    await serving;
  }
}

/** Send until answered (a lone Binary Star primary drops requests until its peer is overdue). */
export async function echoRoundTrip(endpoint: string, frames: string[], what: string): Promise<void> {
  await using peer = rawDealer(endpoint);
  for (let attempt = 0; attempt < 8; attempt++) {
    await peer.send(frames.map(b));
    try {
      await peer.receiveMatching((m) => m.at(-1)?.toString() === frames.at(-1), 2_000);
      return;
    } catch {
      // not answered yet: ask again
    }
  }
  throw new Error(`${what}: no reply`);
}

/** Ask a Clone server for a snapshot and wait for its end (KTHXBAI). */
export async function snapshot(endpoint: string): Promise<void> {
  await using peer = rawDealer(endpoint);
  await peer.send([b('ICANHAZ?'), b('')]);
  await peer.receiveMatching((m) => m[0]?.toString() === 'KTHXBAI', 15_000);
}
