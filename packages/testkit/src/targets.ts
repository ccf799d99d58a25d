/**
 * One normal request per daemon, spoken with raw sockets, to show a daemon still serves after
 * abuse; and starting each daemon plain on loopback with the flags given.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ipcEndpoint } from '@zpatterns/core';
import { appBin, Daemon } from './daemon.js';
import { fuzz, type FuzzReport } from './fuzz.js';
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
import { eventually } from './wait.js';
import { rssBytes } from './untrusted.js';
import { rawDealer } from './peers.js';
import { freePortRange } from './ports.js';

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

/**
 * A Pirate round trip. The worker echoes whatever the queue hands it (requests queued before ours,
 * in FIFO order, come first) and heartbeats, until our own request's reply is back; the request
 * is resent now and then (the queue may first give it to a worker that is gone).
 */
async function pppRoundTrip(frontend: string, backend: string): Promise<void> {
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
            valid: { ready: ['ppqueue_workers_joined'] },
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
            seen: ['clone_updates', 'clone_duplicates', 'clone_bad_messages'],
            validEach: true,
            valid: { update: ['clone_updates'] },
          },
        ],
        inbound: [],
        probe: () => snapshot(at(port)),
        badCounters: ['clone_bad_messages'],
      };
    }
  }
}

/** A daemon's memory as its own metrics show it (prom-client's process and V8 gauges). */
export interface MemoryFigures {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  /** Memory of Buffers and other objects outside the V8 heap that V8 knows of. */
  externalBytes: number;
}

/** What `fuzzDaemon` measured. */
export interface DaemonFuzzResult {
  name: DaemonName;
  /** Fuzz messages sent, all sockets together, after the warm-up. */
  messages: number;
  /** Over-limit frames sent on their own connections: libzmq drops each, the daemon never reads it. */
  overLimit: number;
  /** Of `messages`: those the protocol calls bad (the daemon must count each one). */
  badSent: number;
  /** How much the daemon's counters of bad messages grew over the same messages. */
  badCounted: number;
  /**
   * For each valid path of each socket (`socket: path`, see `TargetSocket.valid`), how much its
   * counters grew over the warm-up and the fuzz: a path at 0 was never reached.
   */
  validCounted: Record<string, number>;
  /**
   * Sockets marked `validEach` whose valid paths grew by less than the number of unchanged
   * templates sent there, each as `socket: N valid sent, M taken`: empty when all were taken.
   */
  validShortfalls: string[];
  durationMs: number;
  /** RSS after the warm-up, and after the fuzz and a normal request. */
  rssBeforeBytes: number;
  rssAfterBytes: number;
  memoryBefore: MemoryFigures;
  memoryAfter: MemoryFigures;
  perSocket: Record<string, FuzzReport>;
}

/** The frame limit daemons run with under fuzz (the over-limit frames are bigger). */
export const FUZZ_MAX_MESSAGE_BYTES = 262_144;

/**
 * Flags that keep each daemon's legitimately queued work small under fuzz, so that it levels off
 * during the warm-up: requests for services nobody serves expire after a second (mdbroker), at
 * most 100 stored requests (titanic), 4 MiB of requests waiting for a worker (ppqueue).
 */
const FUZZ_BOUNDS: Record<DaemonName, string[]> = {
  mdbroker: ['--request-ttl-ms', '1000'],
  titanic: ['--max-backlog', '100'],
  ppqueue: ['--max-queued-bytes', String(4 * 1024 * 1024)],
  flserver: [],
  bstarsrv: [],
  clonesrv: [],
};

async function scrape(url: string): Promise<Map<string, number>> {
  const response = await fetch(`${url}/metrics`);
  const out = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    if (line.startsWith('#') || line.includes('{')) continue;
    const [key, value] = line.split(' ');
    if (key !== undefined && value !== undefined)
      out.set(key.replace(/^zpatterns_/, '').replace(/_total$/, ''), Number(value));
  }
  return out;
}

const sum = (metrics: Map<string, number>, names: readonly string[]): number =>
  names.reduce((total, name) => total + (metrics.get(name) ?? 0), 0);

function memoryOf(metrics: Map<string, number>, pid: number): MemoryFigures {
  return {
    rssBytes: rssBytes(pid),
    heapUsedBytes: metrics.get('nodejs_heap_size_used_bytes') ?? Number.NaN,
    heapTotalBytes: metrics.get('nodejs_heap_size_total_bytes') ?? Number.NaN,
    externalBytes: metrics.get('nodejs_external_memory_bytes') ?? Number.NaN,
  };
}

/**
 * Start `name`, warm it up (a normal request and `warmup` fuzz messages), then send `messages`
 * fuzz messages spread over every socket it has for peers (and a PUB for each SUB it connects),
 * wait until its counters of bad messages have grown by the number of bad messages sent (or
 * `settleMs` passed), and check it still answers a normal request. The daemon is left running,
 * in `target`.
 */
export async function fuzzDaemon(
  name: DaemonName,
  messages: number,
  options: { seed?: number; warmup?: number; settleMs?: number } = {},
): Promise<DaemonFuzzResult & { target: Target }> {
  const target = await startTarget(name, [
    '--max-message-bytes',
    String(FUZZ_MAX_MESSAGE_BYTES),
    '--metrics-port',
    '0',
    ...FUZZ_BOUNDS[name],
  ]);
  const pid = target.daemon.pid ?? 0;
  const url = target.daemon.ready['metrics'] as string;
  const settleMs = options.settleMs ?? 30_000;
  const all = [
    ...target.sockets.map((s) => ({
      ...s,
      via: s.peer === 'publisher' ? ('publisher' as const) : ('dealer' as const),
    })),
    ...target.inbound.map((s) => ({ ...s, via: 'bound-publisher' as const })),
  ].filter((s) => s.peer !== 'subscriber'); // a PUB socket reads subscriptions only: covered by the frame limit
  /**
   * Fuzz each socket in turn. Every 1,000 messages, and before the socket closes, wait for the
   * daemon to catch up: to have read all we sent where it counts every message (a PUB peer must
   * wait, or it would lose messages), else to have counted every bad one.
   */
  const run = async (count: number, seed: number): Promise<Record<string, FuzzReport>> => {
    const reports: Record<string, FuzzReport> = {};
    const share = Math.ceil(count / all.length);
    for (const [i, socket] of all.entries()) {
      const { seen } = socket;
      const start = await scrape(url);
      const seenAtStart = sum(start, seen ?? []);
      const badAtStart = sum(start, target.badCounters);
      const pacedBySeen = socket.via !== 'dealer' && seen !== undefined;
      reports[socket.name] = await fuzz(socket.endpoint, {
        messages: share,
        templates: socket.templates,
        seed: seed + i,
        peer: socket.via,
        overLimitBytes: FUZZ_MAX_MESSAGE_BYTES + 1024,
        ...(socket.isBad === undefined ? {} : { isBad: socket.isBad }),
        ...(socket.freshen === undefined ? {} : { freshen: socket.freshen }),
        settle: async (sent: number, bad: number) => {
          let last = 0;
          await eventually(
            async () => {
              const now = await scrape(url);
              last = pacedBySeen ? sum(now, seen) - seenAtStart : sum(now, target.badCounters) - badAtStart;
              return last >= (pacedBySeen ? sent : bad);
            },
            { timeoutMs: settleMs, intervalMs: 20 },
          ).catch(() => {
            throw new Error(
              `${name}: ${socket.name}: ${pacedBySeen ? `${sent} messages sent, ${last} read` : `${bad} bad messages sent, ${last} counted`} after ${settleMs} ms`,
            );
          });
        },
      });
    }
    return reports;
  };
  await target.probe();
  const atStart = await scrape(url);
  const warmup = await run(options.warmup ?? Math.max(500, Math.floor(messages / 10)), (options.seed ?? 1) * 1000);
  await target.probe();
  const before = await scrape(url);
  const memoryBefore = memoryOf(before, pid);
  const started = Date.now();
  const perSocket = await run(messages, options.seed ?? 1);
  const counted = await scrape(url);
  const validCounted: Record<string, number> = {};
  const validShortfalls: string[] = [];
  for (const socket of all) {
    let taken = 0;
    for (const [path, counters] of Object.entries(socket.valid ?? {})) {
      const grew = sum(counted, counters) - sum(atStart, counters);
      validCounted[`${socket.name}: ${path}`] = grew;
      taken += grew;
    }
    const sentValid = (warmup[socket.name]?.kinds['valid'] ?? 0) + (perSocket[socket.name]?.kinds['valid'] ?? 0);
    if (socket.validEach === true && taken < sentValid) {
      validShortfalls.push(`${socket.name}: ${sentValid} valid sent, ${taken} taken`);
    }
  }
  await target.probe();
  const durationMs = Date.now() - started;
  const memoryAfter = memoryOf(await scrape(url), pid);
  let sent = 0;
  let overLimit = 0;
  let badSent = 0;
  for (const r of Object.values(perSocket)) {
    sent += r.messages;
    overLimit += r.overLimit;
    badSent += r.bad;
  }
  return {
    name,
    messages: sent,
    overLimit,
    badSent,
    badCounted: sum(counted, target.badCounters) - sum(before, target.badCounters),
    validCounted,
    validShortfalls,
    durationMs,
    rssBeforeBytes: memoryBefore.rssBytes,
    rssAfterBytes: memoryAfter.rssBytes,
    memoryBefore,
    memoryAfter,
    perSocket,
    target,
  };
}
