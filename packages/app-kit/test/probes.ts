/**
 * One normal request per daemon, spoken with raw sockets, to show a daemon still serves after
 * abuse; and starting each daemon plain on loopback with the flags given.
 */
import { appBin, Daemon, freePortRange, rawDealer } from '@zpatterns/testkit';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

export interface Target {
  daemon: Daemon;
  /** Sockets that accept peers: endpoint and the kind of peer that talks to it. */
  sockets: { name: string; endpoint: string; peer: 'dealer' | 'publisher' | 'subscriber' }[];
  /** One normal request; resolves when it was answered correctly. */
  probe(): Promise<void>;
}

export type DaemonName = 'mdbroker' | 'ppqueue' | 'flserver' | 'bstarsrv' | 'clonesrv';

let probes = 0;

/** A fresh service each time: a worker of an earlier probe may still count as alive. */
async function mdpRoundTrip(endpoint: string): Promise<void> {
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

async function pppRoundTrip(frontend: string, backend: string): Promise<void> {
  await using worker = rawDealer(backend);
  await using client = rawDealer(frontend);
  await worker.send([Buffer.from([1])]); // PPP READY
  await client.send([b(''), b('still there?')]);
  const request = await worker.receiveMatching((m) => m.length >= 3, 15_000);
  await worker.send(request);
  const reply = await client.receive(15_000);
  if (reply.at(-1)?.toString() !== 'still there?') throw new Error('ppqueue: wrong reply');
}

/** Send until answered (a lone Binary Star primary drops requests until its peer is overdue). */
async function echoRoundTrip(endpoint: string, frames: string[], what: string): Promise<void> {
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

async function snapshot(endpoint: string): Promise<void> {
  await using peer = rawDealer(endpoint);
  await peer.send([b('ICANHAZ?'), b('')]);
  await peer.receiveMatching((m) => m[0]?.toString() === 'KTHXBAI', 15_000);
}

/** Start `name` plain on loopback with `args` added. */
export async function startTarget(name: DaemonName, args: readonly string[] = []): Promise<Target> {
  const bin = appBin(name);
  const any = 'tcp://127.0.0.1:*';
  switch (name) {
    case 'mdbroker': {
      const daemon = await Daemon.start({ bin, args: ['--bind', any, ...args] });
      const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
      return {
        daemon,
        sockets: [{ name: 'broker', endpoint, peer: 'dealer' }],
        probe: () => mdpRoundTrip(endpoint),
      };
    }
    case 'ppqueue': {
      const daemon = await Daemon.start({ bin, args: ['--frontend', any, '--backend', any, ...args] });
      const frontend = daemon.ready['frontend'] as string;
      const backend = daemon.ready['backend'] as string;
      return {
        daemon,
        sockets: [
          { name: 'frontend', endpoint: frontend, peer: 'dealer' },
          { name: 'backend', endpoint: backend, peer: 'dealer' },
        ],
        probe: () => pppRoundTrip(frontend, backend),
      };
    }
    case 'flserver': {
      const daemon = await Daemon.start({ bin, args: ['--bind', any, ...args] });
      const endpoint = daemon.ready['endpoint'] as string;
      return {
        daemon,
        sockets: [{ name: 'router', endpoint, peer: 'dealer' }],
        probe: () => echoRoundTrip(endpoint, ['probe', 'still there?'], 'flserver'),
      };
    }
    case 'bstarsrv': {
      const daemon = await Daemon.start({
        bin,
        args: [
          '--primary',
          '--heartbeat-ms',
          '100',
          '--frontend',
          any,
          '--state-bind',
          any,
          '--state-connect',
          'tcp://127.0.0.1:1',
          ...args,
        ],
      });
      const frontend = daemon.ready['frontend'] as string;
      const state = daemon.ready['stateBind'] as string;
      return {
        daemon,
        sockets: [
          { name: 'frontend', endpoint: frontend, peer: 'dealer' },
          { name: 'state', endpoint: state, peer: 'subscriber' },
        ],
        probe: () => echoRoundTrip(frontend, ['', 'still there?'], 'bstarsrv'),
      };
    }
    case 'clonesrv': {
      const port = await freePortRange(3);
      const daemon = await Daemon.start({ bin, args: ['--port', String(port), ...args] });
      const at = (p: number): string => `tcp://127.0.0.1:${p}`;
      return {
        daemon,
        sockets: [
          { name: 'snapshot', endpoint: at(port), peer: 'dealer' },
          { name: 'publisher', endpoint: at(port + 1), peer: 'subscriber' },
          { name: 'collector', endpoint: at(port + 2), peer: 'publisher' },
        ],
        probe: () => snapshot(at(port)),
      };
    }
  }
}
