/**
 * `fuzzDaemon`: start a daemon as a fuzz target, fuzz every socket it offers peers, and report
 * what its own metrics counted (bad messages, valid paths taken, memory) and whether it still
 * answers a normal request.
 */
import { fuzz, type FuzzReport } from './fuzz.js';
import { startTarget, type DaemonName, type Target } from './targets.js';
import { rssBytes } from './untrusted.js';
import { eventually } from './wait.js';

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
