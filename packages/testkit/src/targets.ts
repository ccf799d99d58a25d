/**
 * Each daemon started plain on loopback with the flags given, as a fuzz target: the sockets it
 * offers peers, valid messages for each, which messages it must count as bad, and one normal
 * request to show it still serves.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipcEndpoint } from '@zpatterns/core';
import { appBin, Daemon } from './daemon.js';
import {
  bstarStateBad,
  cloneSnapshotBad,
  cloneUpdateBad,
  freelanceBad,
  mdpShape,
  pirateClientBad,
  pirateWorkerBad,
  titanicBad,
} from './fuzz-oracles.js';
import { freePortRange } from './ports.js';
import { echoRoundTrip, mdpRoundTrip, pppRoundTrip, snapshot } from './target-probes.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

export interface TargetSocket {
  name: string;
  endpoint: string;
  peer: 'dealer' | 'publisher' | 'subscriber';
  /** Valid messages of the protocol on this socket, for the fuzzer. */
  templates: Buffer[][];
  /** Which messages the daemon must count as bad (none, where every message is work). */
  isBad?: (frames: readonly Buffer[]) => boolean;
  /** Counters (metric names, summed) that grow by one for every message the daemon reads here. */
  seen?: string[];
  /**
   * The valid paths of the protocol on this socket, each with the counters (summed) that grow only
   * when the daemon takes a valid message down that path: the fuzz must make each of them grow.
   */
  valid?: Record<string, string[]>;
  /**
   * Each unchanged template the fuzzer sends here takes one of the `valid` paths (none is refused
   * as a duplicate or as out of turn), so those counters grow by at least that many.
   */
  validEach?: boolean;
  /** See `FuzzOptions.freshen`. */
  freshen?: (template: readonly Buffer[], random: () => number) => Buffer[];
}

export interface Target {
  daemon: Daemon;
  /** Sockets that accept peers: endpoint and the kind of peer that talks to it. */
  sockets: TargetSocket[];
  /** Endpoints the daemon connects to itself (its SUB), where a fuzzer binds a PUB. */
  inbound: TargetSocket[];
  /** One normal request; resolves when it was answered correctly. */
  probe(): Promise<void>;
  /** Counters (metric names, summed) of the bad messages the daemon read, all sockets together. */
  badCounters: string[];
}

export type DaemonName = 'mdbroker' | 'titanic' | 'ppqueue' | 'flserver' | 'bstarsrv' | 'clonesrv';

const u8 = (n: number): Buffer => Buffer.from([n]);
const mdpClient = (service: string, ...body: string[]): Buffer[] => [b(''), b('MDPC01'), b(service), ...body.map(b)];
const MDP_TEMPLATES: Buffer[][] = [
  mdpClient('echo', 'hello'),
  mdpClient('mmi.service', 'echo'),
  [b(''), b('MDPC02'), u8(1), b('echo'), b('hello')],
  [b(''), b('MDPW01'), u8(1), b('fuzzed')],
  [b(''), b('MDPW01'), u8(3), b('client'), b(''), b('reply')],
  [b(''), b('MDPW01'), u8(4)],
  [b(''), b('MDPW01'), u8(5)],
  [b(''), b('MDPW02'), u8(1), b('fuzzed')],
  [b(''), b('MDPW02'), u8(4)],
];
/** A UUID as TSP carries it: 32 hex digits, no dashes. */
const TSP_UUID = '0123456789abcdef0123456789ABCDEF';
const TITANIC_TEMPLATES: Buffer[][] = [
  // A valid request is stored for a service nobody serves: --max-backlog bounds them, and past it
  // the request is refused, which is a valid path too.
  mdpClient('titanic.request', 'echo', 'hello'),
  mdpClient('titanic.reply', TSP_UUID),
  mdpClient('titanic.close', TSP_UUID),
];
const u64 = (n: number): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(n));
  return out;
};

/** Start `name` plain on loopback with `args` added. */
export async function startTarget(name: DaemonName, args: readonly string[] = []): Promise<Target> {
  const bin = appBin(name);
  const limit = args.indexOf('--max-message-bytes');
  const maxBytes = limit < 0 ? 16 * 1024 * 1024 : Number(args[limit + 1]);
  const any = 'tcp://127.0.0.1:*';
  switch (name) {
    case 'mdbroker': {
      const daemon = await Daemon.start({ bin, args: ['--bind', any, ...args] });
      const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
      return {
        daemon,
        sockets: [
          {
            name: 'broker',
            endpoint,
            peer: 'dealer',
            templates: MDP_TEMPLATES,
            isBad: (s) => mdpShape(s, maxBytes).kind === 'bad',
            seen: ['broker_received'],
            valid: {
              request: ['broker_requests'],
              mmi: ['broker_mmi'],
              'worker ready': ['broker_workers_registered'],
            },
          },
        ],
        inbound: [],
        probe: () => mdpRoundTrip(endpoint),
        badCounters: ['broker_malformed'],
      };
    }
    case 'titanic': {
      const dataDir = mkdtempSync(join(tmpdir(), 'zpat-target-titanic-'));
      const daemon = await Daemon.start({
        bin,
        args: ['--with-broker', '--broker', any, '--data-dir', dataDir, ...args],
      });
      const endpoint = daemon.ready['broker'] as string;
      return {
        daemon,
        // Titanic is reached through its broker: the fuzz is of Titanic's services' bodies.
        sockets: [
          {
            name: 'broker',
            endpoint,
            peer: 'dealer',
            templates: TITANIC_TEMPLATES,
            isBad: (s) => {
              const shape = mdpShape(s, maxBytes);
              return (
                shape.kind === 'bad' ||
                (shape.kind === 'client' && titanicBad(shape.body, shape.service.toString('latin1')))
              );
            },
            seen: ['broker_received'],
            validEach: true,
            valid: {
              'titanic.request': ['titanic_submitted', 'titanic_refused'],
              'titanic.reply': ['titanic_reply_queries'],
              'titanic.close': ['titanic_closes'],
            },
          },
        ],
        inbound: [],
        probe: () => mdpRoundTrip(endpoint),
        badCounters: ['broker_malformed', 'titanic_malformed'],
      };
    }
    case 'ppqueue': {
      const daemon = await Daemon.start({ bin, args: ['--frontend', any, '--backend', any, ...args] });
      const frontend = daemon.ready['frontend'] as string;
      const backend = daemon.ready['backend'] as string;
      return {
        daemon,
        sockets: [
          {
            name: 'frontend',
            endpoint: frontend,
            peer: 'dealer',
            templates: [[b(''), b('hello')]],
            isBad: pirateClientBad,
            seen: ['ppqueue_requests', 'ppqueue_malformed_from_clients'],
            validEach: true,
            valid: { request: ['ppqueue_requests'] },
          },
          {
            name: 'backend',
            endpoint: backend,
            peer: 'dealer',
            templates: [[u8(1)], [u8(2)], [b('c'), b(''), b('r')]],
            isBad: pirateWorkerBad,
            valid: { ready: ['ppqueue_workers_registered'] },
          },
        ],
        inbound: [],
        probe: () => pppRoundTrip(frontend, backend),
        badCounters: ['ppqueue_malformed_from_clients', 'ppqueue_malformed_from_workers'],
      };
    }
    case 'flserver': {
      const daemon = await Daemon.start({ bin, args: ['--bind', any, ...args] });
      const endpoint = daemon.ready['endpoint'] as string;
      return {
        daemon,
        sockets: [
          {
            name: 'router',
            endpoint,
            peer: 'dealer',
            templates: [[b('PING')], [b('1'), b('hello')]],
            isBad: (s) => freelanceBad(s, maxBytes),
            seen: [
              'freelance_server_pings',
              'freelance_server_requests',
              'freelance_server_malformed',
              'freelance_server_oversize',
            ],
            validEach: true,
            valid: { ping: ['freelance_server_pings'], request: ['freelance_server_requests'] },
          },
        ],
        inbound: [],
        probe: () => echoRoundTrip(endpoint, ['probe', 'still there?'], 'flserver'),
        badCounters: ['freelance_server_malformed', 'freelance_server_oversize'],
      };
    }
    case 'bstarsrv': {
      const peerState = ipcEndpoint('target-bstar-peer');
      const daemon = await Daemon.start({
        bin,
        args: [
          '--ha',
          'primary',
          '--ha-heartbeat-ms',
          '100',
          '--frontend',
          any,
          '--state-bind',
          any,
          '--state-connect',
          peerState,
          ...args,
        ],
      });
      const frontend = daemon.ready['frontend'] as string;
      const state = daemon.ready['stateBind'] as string;
      return {
        daemon,
        sockets: [
          // an echo of whatever frames come: no message is bad here, each is voted on
          {
            name: 'frontend',
            endpoint: frontend,
            peer: 'dealer',
            templates: [[b(''), b('hello')]],
            seen: ['bstar_accepted', 'bstar_rejected'],
            validEach: true,
            valid: { vote: ['bstar_accepted', 'bstar_rejected'] },
          },
          { name: 'state', endpoint: state, peer: 'subscriber', templates: [] },
        ],
        // the peer's state PUB, as our SUB sees it: one frame, one digit 1-4
        inbound: [
          {
            name: 'peer-state',
            endpoint: peerState,
            peer: 'publisher',
            templates: [[b('1')], [b('2')], [b('3')], [b('4')]],
            isBad: bstarStateBad,
            seen: ['bstar_peer_messages', 'bstar_malformed'],
            validEach: true,
            valid: { state: ['bstar_peer_messages'] },
          },
        ],
        probe: () => echoRoundTrip(frontend, ['', 'still there?'], 'bstarsrv'),
        badCounters: ['bstar_malformed'],
      };
    }
    case 'clonesrv': {
      const port = await freePortRange(3);
      const daemon = await Daemon.start({ bin, args: ['--port', String(port), ...args] });
      const at = (p: number): string => `tcp://127.0.0.1:${p}`;
      return {
        daemon,
        sockets: [
          {
            name: 'snapshot',
            endpoint: at(port),
            peer: 'dealer',
            templates: [
              [b('ICANHAZ?'), b('')],
              [b('ICANHAZ?'), b('/k/')],
            ],
            isBad: cloneSnapshotBad,
            valid: { snapshot: ['clone_snapshots'] },
          },
          { name: 'publisher', endpoint: at(port + 1), peer: 'subscriber', templates: [] },
          {
            name: 'collector',
            endpoint: at(port + 2),
            peer: 'publisher',
            templates: [
              [b('/k/1'), u64(0), Buffer.alloc(16, 1), b(''), b('value')],
              [b('/k/2'), u64(0), Buffer.alloc(16, 2), b('ttl=60000\n'), b('value')],
              [b('/k/1'), u64(0), Buffer.alloc(16, 3), b(''), b('')],
            ],
            // The collector drops a second copy of an update (same UUID) as a duplicate: a fresh
            // UUID each time, so that the valid ones are applied.
            freshen: (template, random) => {
              const uuid = Buffer.alloc(16);
              for (let i = 0; i < 16; i++) uuid[i] = Math.floor(random() * 256);
              return template.map((frame, i) => (i === 2 ? uuid : frame));
            },
            isBad: cloneUpdateBad,
            seen: ['clone_updates', 'clone_duplicates', 'clone_malformed'],
            validEach: true,
            valid: { update: ['clone_updates'] },
          },
        ],
        inbound: [],
        probe: () => snapshot(at(port)),
        badCounters: ['clone_malformed'],
      };
    }
  }
}
