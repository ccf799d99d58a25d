/**
 * The Clone history run: a clonesrv pair (real processes, --data-dir) and six CloneClients
 * writing, deleting and watching a few contended keys, with EVERY link through a TCP proxy, while
 * a seeded nemesis strikes: real split brains (every pair link cut, and the clients split in two
 * groups, each cut from one server, for longer than the clients' peerTtlMs, so the passive is
 * voted active and both sides acknowledge writes), SIGSTOP of the active for longer than every
 * TTL, SIGKILL of the active or the passive (restarted), one-way partitions of the replication
 * and of a client's link to the passive, and one client cut off. Every operation goes into a
 * History; after the last heal every replica's map (every client's, and both servers' journals)
 * is recorded and the Clone checker judges the whole history. Failover times are asserted against
 * the bound docs/clone.md states. A failing run prints its seed and the history's path.
 *
 *   client-0..2 ─┬─ 3 proxies ──> primary (snapshot P, publisher P+1, collector P+2)
 *   client-3..5 ─┴─ 3 proxies ──> backup  (Q, Q+1, Q+2)
 *   primary ── 5 proxies ──> backup: Binary Star state, snapshot, replication, HUGZ, collector
 *   backup  ── 5 proxies ──> primary: the same
 *
 * Used by faults.test.ts (a short fixed seed, in `npm test`) and faults.chaos.test.ts
 * (`npm run chaos -- --seed N --minutes M`).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CloneClient, type CloneServerAddress } from '@zpatterns/clone';
import { CloneJournal } from '@zpatterns/clone/internal';
import {
  appBin,
  assertHistory,
  cloneChecker,
  combineFaults,
  Daemon,
  eventually,
  freePortRange,
  History,
  nemesisSchedule,
  partitionFault,
  runNemesis,
  seededRandom,
  startTcpProxy,
  useDisposables,
  type Fault,
  type TcpProxy,
} from '@zpatterns/testkit';

const { track, defer } = useDisposables();

type Side = 'primary' | 'backup';
const SIDES: readonly Side[] = ['primary', 'backup'];

export interface HistoryRunOptions {
  seed: number;
  /** How long the nemesis plays. */
  durationMs: number;
  /** Faults that come first, in order (each kind at least once in a short run). */
  first?: readonly string[];
}

/** The run's timing: short, so that a minute holds every kind of fault. */
const SERVER_TTL_MS = 2000; // clients: silence before failover
const HUGZ_MS = 200;
const HA_HEARTBEAT_MS = 500; // the peer is dead after 2
const PEER_TTL_MS = 2000; // passive: silence before resync
const TTL_MS = 2000;
const CLIENTS = 6;
const KEYS = 12;
/**
 * What docs/clone.md promises: a client's first write after its server died is acknowledged
 * within peerTtlMs + 4 s; every replica has converged within 2 x peerTtlMs + 6 s of the last
 * heal.
 */
export const FAILOVER_BOUND_MS = SERVER_TTL_MS + 4000;
export const CONVERGENCE_BOUND_MS = 2 * SERVER_TTL_MS + 6000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function twoBasePorts(): Promise<[number, number]> {
  for (;;) {
    const p = await freePortRange(3);
    const q = await freePortRange(3);
    if (Math.abs(p - q) >= 3) return [p, q];
  }
}

const address = (port: number): CloneServerAddress => ({
  snapshot: `tcp://127.0.0.1:${port}`,
  publisher: `tcp://127.0.0.1:${port + 1}`,
  collector: `tcp://127.0.0.1:${port + 2}`,
});

interface ClientLinks {
  snapshot: TcpProxy;
  publisher: TcpProxy;
  collector: TcpProxy;
}

export async function runCloneHistory(options: HistoryRunOptions): Promise<void> {
  const { seed, durationMs } = options;
  const history = new History({ seed, name: 'clone' });
  const random = seededRandom(seed);
  console.log(`clone history run: seed ${seed}, ${durationMs} ms of faults`);
  const servers: Partial<Record<Side, Daemon>> = {};
  try {
    await run(history, random, options, servers);
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('history written to'))) {
      const path = history.writeJsonl();
      console.error(`clone history run failed: seed ${seed}, history ${path}`);
      for (const [side, daemon] of Object.entries(servers)) {
        const tail = [...daemon.logs.slice(-15).map((l) => JSON.stringify(l)), ...daemon.text.slice(-10)];
        console.error(`clone history run: the last lines of the ${side}:\n${tail.join('\n')}`);
      }
      throw new Error(`seed ${seed}, history ${path}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
}

async function run(
  history: History,
  random: () => number,
  options: HistoryRunOptions,
  started: Partial<Record<Side, Daemon>>,
): Promise<void> {
  // Filled as they start (the caller prints their last lines if the run fails).
  const servers = started as Record<Side, Daemon>;
  const proxy = async (target: string) => track(await startTcpProxy({ target }));
  const base: Record<Side, number> = Object.fromEntries((await twoBasePorts()).map((p, i) => [SIDES[i], p])) as Record<
    Side,
    number
  >;
  const stateBind: Record<Side, string> = {
    primary: `tcp://127.0.0.1:${await freePortRange(1)}`,
    backup: `tcp://127.0.0.1:${await freePortRange(1)}`,
  };
  const other = (side: Side): Side => (side === 'primary' ? 'backup' : 'primary');
  // Every link from `side` to its peer, each through its own proxy.
  const pairLinks = Object.fromEntries(
    await Promise.all(
      SIDES.map(async (side) => {
        const peer = address(base[other(side)]);
        return [
          side,
          {
            state: await proxy(stateBind[other(side)]),
            snapshot: await proxy(peer.snapshot),
            publisher: await proxy(peer.publisher),
            hugz: await proxy(peer.publisher),
            collector: await proxy(peer.collector),
          },
        ] as const;
      }),
    ),
  ) as Record<Side, Record<'state' | 'snapshot' | 'publisher' | 'hugz' | 'collector', TcpProxy>>;
  const dirs = Object.fromEntries(
    SIDES.map((side) => {
      const dir = mkdtempSync(join(tmpdir(), `clone-history-${side}-`));
      defer(() => rmSync(dir, { recursive: true, force: true }));
      return [side, dir];
    }),
  ) as Record<Side, string>;
  const args = (side: Side): string[] => {
    const links = pairLinks[side];
    return [
      ...['--ha', side, '--port', String(base[side]), '--data-dir', dirs[side]],
      ...['--state-bind', stateBind[side], '--state-connect', links.state.endpoint],
      ...['--peer-snapshot', links.snapshot.endpoint, '--peer-publisher', links.publisher.endpoint],
      ...['--peer-hugz', links.hugz.endpoint, '--peer-collector', links.collector.endpoint],
      ...['--hugz-ms', String(HUGZ_MS), '--ha-heartbeat-ms', String(HA_HEARTBEAT_MS)],
      ...['--peer-ttl-ms', String(PEER_TTL_MS), '--log-level', 'info'],
    ];
  };

  // What each server says about its role goes into the history, as it happens.
  const role: Record<Side, string> = { primary: 'deciding', backup: 'deciding' };
  for (const side of SIDES) {
    const daemon = track(await Daemon.start({ bin: appBin('clonesrv'), args: args(side) }));
    servers[side] = daemon;
    const process = `server-${side}`;
    const onLine = (line: Record<string, unknown>) => {
      const msg = typeof line['msg'] === 'string' ? line['msg'] : '';
      if (msg === 'clone server active' || msg.startsWith('clone server passive')) {
        role[side] = msg === 'clone server active' ? 'active' : 'passive';
        history.record({ process, type: 'ok', f: 'role', value: role[side], server: side });
      } else if (
        // the Clone server's decision (Binary Star's own line, without the sequences, is no decision)
        msg.startsWith('split brain: both servers active;') &&
        typeof line['stays'] === 'boolean' &&
        (typeof line['sequence'] === 'string' || typeof line['sequence'] === 'number')
      ) {
        history.record({
          process,
          type: 'ok',
          f: 'split-brain',
          server: side,
          stays: line['stays'] === true,
          sequence: String(line['sequence']),
          peerSequence: String(line['peerSequence']),
        });
      }
    };
    for (const line of daemon.logs) onLine(line);
    defer(daemon.onLog(onLine));
  }
  await eventually(() => role.primary === 'active' && role.backup === 'passive', {
    what: 'the pair decided: primary active, backup passive',
    timeoutMs: 15_000,
  });

  // Clients: every link through its own proxy.
  const clientLinks: Record<Side, ClientLinks>[] = [];
  const clients: CloneClient[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const links = {} as Record<Side, ClientLinks>;
    for (const side of SIDES) {
      const a = address(base[side]);
      links[side] = {
        snapshot: await proxy(a.snapshot),
        publisher: await proxy(a.publisher),
        collector: await proxy(a.collector),
      };
    }
    clientLinks.push(links);
    const servers = SIDES.map((side) => ({
      snapshot: links[side].snapshot.endpoint,
      publisher: links[side].publisher.endpoint,
      collector: links[side].collector.endpoint,
    }));
    clients.push(track(new CloneClient({ servers, peerTtlMs: SERVER_TTL_MS, timeoutMs: 3000 })));
  }
  const name = (i: number) => `client-${i}`;
  const serverOf = (c: CloneClient): Side => SIDES[c.currentServer] ?? 'primary';

  // Every change each replica makes is a read.
  const watching = new AbortController();
  const watchers = clients.map(async (c, i) => {
    for await (const change of c.watch('', { signal: watching.signal })) {
      history.record({
        process: name(i),
        type: 'ok',
        f: 'read',
        key: change.key,
        value: change.value?.toString(),
        sequence: String(change.sequence),
        server: serverOf(c),
      });
    }
  });
  await Promise.all(clients.map((c) => c.start({ timeoutMs: 15_000 })));

  // Writers: contended keys, some with a TTL, a few deletes; values unique to their write.
  let writing = true;
  /** Each client's last acknowledged write: when it was sent and when acknowledged. */
  const lastAck = clients.map(() => ({ sent: 0, acked: 0 }));
  const writers = clients.map(async (c, i) => {
    for (let n = 0; writing; n += 1) {
      const key = `/h/${Math.floor(random() * KEYS)}`;
      const roll = random();
      const del = roll < 0.05;
      const ttlMs = !del && roll < 0.2 ? TTL_MS : 0;
      const value = del ? undefined : `${name(i)}-${n}`;
      const op = history.invoke(name(i), del ? 'delete' : 'write', { key, value, ttlMs });
      try {
        const sequence = await c.commit(key, value ?? '', ttlMs > 0 ? { ttlMs } : {});
        op.ok({ sequence: String(sequence), server: serverOf(c) });
        lastAck[i] = { sent: op.invocation.time, acked: history.now() };
      } catch (err) {
        const code = (err as { code?: string }).code;
        // Rejected before it was sent (not running): certainly not applied. Else it may be.
        if (code === 'ERR_NOT_STARTED' || code === 'ERR_INVALID_ARGUMENT') op.fail({ error: code });
        else op.unknown({ error: code ?? String(err) });
      }
      await sleep(40 + random() * 80);
    }
  });

  // The faults.
  const allPair = SIDES.flatMap((s) => Object.values(pairLinks[s]));
  const clientTo = (i: number, side: Side) => Object.values(clientLinks[i]?.[side] ?? {}) as TcpProxy[];
  const groupA = [0, 1, 2];
  const groupB = [3, 4, 5];
  const activeSide = (): Side => (role.backup === 'active' && role.primary !== 'active' ? 'backup' : 'primary');
  const failovers: { fault: string; ms: number }[] = [];
  /** After `at`, the time each client that was on `side` takes to get a write acknowledged again. */
  const measureFailover = (fault: string, at: number, who: number[]) => {
    void (async () => {
      const waiting = new Set(who);
      const deadline = at + 30_000;
      while (waiting.size > 0 && history.now() < deadline) {
        for (const i of [...waiting]) {
          // The first write sent after the fault began and acknowledged: the client is served again.
          const last = lastAck[i];
          if (last !== undefined && last.sent >= at) {
            failovers.push({ fault, ms: last.acked - at });
            waiting.delete(i);
          }
        }
        await sleep(20);
      }
      for (const _ of waiting) failovers.push({ fault, ms: Infinity });
    })();
  };
  const onSide = (side: Side) => clients.flatMap((c, i) => (serverOf(c) === side ? [i] : []));
  const dynamic = (
    faultName: string,
    kind: NonNullable<Fault['kind']>,
    durationMs: readonly [number, number],
    make: () => Fault,
  ): Fault => {
    let current: Fault | undefined;
    return {
      name: faultName,
      kind,
      durationMs,
      start: async () => {
        current = make();
        await current.start();
      },
      stop: async () => {
        await current?.stop();
      },
    };
  };
  const killOf = (side: Side, measure: boolean): Fault => ({
    name: `kill ${side}`,
    kind: 'kill',
    start: async () => {
      const who = onSide(side);
      const at = history.now();
      await servers[side].kill('SIGKILL');
      role[side] = 'dead';
      history.record({ process: `server-${side}`, type: 'ok', f: 'role', value: 'dead', server: side });
      if (measure) measureFailover(`kill ${side}`, at, who);
    },
    stop: async () => {
      if (!servers[side].running) await servers[side].restart();
    },
  });
  const pauseOf = (side: Side): Fault => {
    let paused = false;
    return {
      name: `pause ${side}`,
      kind: 'pause',
      start: () => {
        servers[side].pause();
        paused = true;
        return Promise.resolve();
      },
      stop: () => {
        if (paused) servers[side].resume();
        paused = false;
        return Promise.resolve();
      },
    };
  };
  const splitMs = [SERVER_TTL_MS + 4000, SERVER_TTL_MS + 6000] as const;
  const faults: Fault[] = [
    // Both sides take writes: every pair link cut, each group of clients cut from one server.
    partitionFault(
      'split brain',
      [...allPair, ...groupA.flatMap((i) => clientTo(i, 'backup')), ...groupB.flatMap((i) => clientTo(i, 'primary'))],
      {
        durationMs: splitMs,
      },
    ),
    // Longer than every TTL (clients', the passive's, Binary Star's).
    dynamic('pause active', 'pause', [SERVER_TTL_MS + 1500, SERVER_TTL_MS + 3000], () => pauseOf(activeSide())),
    dynamic('kill active', 'kill', [SERVER_TTL_MS + 3000, SERVER_TTL_MS + 5000], () => killOf(activeSide(), true)),
    dynamic('kill passive', 'kill', [500, 3000], () => killOf(other(activeSide()), false)),
    // The active's updates stop reaching the passive (one way); it resyncs after peerTtlMs.
    dynamic('replication one way', 'partition', [PEER_TTL_MS + 500, PEER_TTL_MS + 3000], () => {
      const passive = other(activeSide());
      return partitionFault('replication one way', [pairLinks[passive].publisher, pairLinks[passive].hugz], {
        direction: 'down',
      });
    }),
    // A client's writes reach the active but not the passive, then arrive late.
    dynamic('client to passive one way', 'partition', [1000, 4000], () => {
      const i = Math.floor(random() * CLIENTS);
      return partitionFault(
        `client-${i} to passive`,
        [clientLinks[i]?.[other(activeSide())].collector].filter((p) => p !== undefined),
        {
          direction: 'up',
        },
      );
    }),
    dynamic('cut a client', 'partition', [1000, SERVER_TTL_MS + 2000], () => {
      const i = Math.floor(random() * CLIENTS);
      return partitionFault(`client-${i} cut`, [...clientTo(i, 'primary'), ...clientTo(i, 'backup')]);
    }),
    // The pair link alone, with every client still seeing both: no vote for the passive.
    partitionFault('pair link cut', allPair, { durationMs: [1000, SERVER_TTL_MS + 2000] }),
    dynamic('pause active + cut a client', 'combined', [SERVER_TTL_MS + 1500, SERVER_TTL_MS + 3000], () => {
      const i = Math.floor(random() * CLIENTS);
      return combineFaults('pause active + cut a client', [
        pauseOf(activeSide()),
        partitionFault(`client-${i} cut`, [...clientTo(i, 'primary'), ...clientTo(i, 'backup')]),
      ]);
    }),
  ];
  // Split brain: measure how long group B takes to write again (through the voted passive).
  const split = faults[0];
  if (split !== undefined) {
    const start = split.start.bind(split);
    split.start = async () => {
      const at = history.now();
      const active = activeSide();
      await start();
      // The group cut from the active votes the passive active.
      const cut = active === 'primary' ? groupB : groupA;
      measureFailover(
        'split brain',
        at,
        cut.filter((i) => serverOf(clients[i] as CloneClient) === active),
      );
    };
  }
  const schedule = nemesisSchedule(random, faults, {
    totalMs: options.durationMs,
    gapMs: [SERVER_TTL_MS + 1000, SERVER_TTL_MS + 3000],
    ...(options.first === undefined ? {} : { first: options.first }),
  });
  console.log(`clone history run: schedule ${schedule.map((s) => `${s.fault}@${s.atMs}+${s.forMs}`).join(', ')}`);
  await runNemesis({ history, faults, schedule });
  writing = false;
  await Promise.all(writers);

  // Every replica converges: every client holds the same map as a fresh client of the pair.
  const flat = (c: CloneClient) =>
    c
      .entries()
      .map(([k, v]) => `${k}=${v.toString()}`)
      .sort()
      .join('\n');
  await eventually(
    async () => {
      const reference = new CloneClient({ servers: SIDES.map((s) => address(base[s])), peerTtlMs: SERVER_TTL_MS });
      try {
        await reference.start({ timeoutMs: 3 * SERVER_TTL_MS });
        const expected = flat(reference);
        return clients.every((c) => flat(c) === expected);
      } catch {
        return false;
      } finally {
        await reference.close();
      }
    },
    { what: 'every client converged on the pair', timeoutMs: CONVERGENCE_BOUND_MS + 10_000, intervalMs: 200 },
  );
  for (const [i, c] of clients.entries()) {
    history.record({
      process: name(i),
      type: 'ok',
      f: 'final',
      value: Object.fromEntries(c.entries().map(([k, v]) => [k, v.toString()])),
    });
  }
  // Both servers' maps, as their journals hold them after a clean stop.
  const statuses = await Promise.all(SIDES.map((side) => servers[side].stop()));
  expect(statuses.map((s) => s.code)).toEqual([0, 0]);
  for (const side of SIDES) {
    const journal = await CloneJournal.open(dirs[side]);
    try {
      const { entries } = journal.load();
      history.record({
        process: `server-${side}`,
        type: 'ok',
        f: 'final',
        value: Object.fromEntries(entries.map((e) => [e.msg.key, e.msg.body.toString()])),
      });
    } finally {
      journal.close();
    }
  }
  watching.abort();
  // A watcher that failed (overflowed) fails the run: its reads are incomplete. Our own abort ends
  // each watcher with an AbortError, which is no failure.
  const watched = await Promise.allSettled(watchers);
  const failed = watched.flatMap((w) =>
    w.status === 'rejected' && (w.reason as { code?: string }).code !== 'ERR_ABORTED' ? [String(w.reason)] : [],
  );
  expect(failed).toEqual([]);

  const ops = history.ops;
  const acked = ops.filter((o) => o.type === 'ok' && (o.f === 'write' || o.f === 'delete'));
  const losses = ops.filter((o) => o.f === 'split-brain' && o['stays'] === false);
  // A split brain with writes acknowledged on both sides: while the loser was active (from its
  // activation to its loss), both it and the winner acknowledged writes.
  const splitWithBothSides = losses.filter((loss) => {
    const activated = ops
      .filter((o) => o.f === 'role' && o.value === 'active' && o.server === loss.server && o.time < loss.time)
      .at(-1);
    if (activated === undefined) return false;
    const ackedBy = (server: string) =>
      acked.some((o) => o.server === server && o.time > activated.time && o.time < loss.time);
    return ackedBy('primary') && ackedBy('backup');
  });
  failovers.sort((a, b) => a.ms - b.ms);
  const path = history.writeJsonl();
  console.log(
    `clone history run: seed ${options.seed}, ${ops.length} ops, ${acked.length} acknowledged writes, ` +
      `${losses.length} split brain(s) decided, ${splitWithBothSides.length} with writes on both sides; failover ms ${failovers
        .map((f) => `${f.fault}:${Math.round(f.ms)}`)
        .join(' ')}; history ${path}`,
  );
  const result = assertHistory(history, cloneChecker({ convergenceMs: CONVERGENCE_BOUND_MS }));
  console.log(`clone history run: checker stats ${JSON.stringify(result.stats)}`);
  expect(splitWithBothSides.length, 'split brains with writes acknowledged on both sides').toBeGreaterThan(0);
  expect(failovers.length, 'failovers measured').toBeGreaterThan(0);
  for (const f of failovers) {
    expect(f.ms, `${f.fault}: a client's next acknowledged write (docs/clone.md bound)`).toBeLessThanOrEqual(
      FAILOVER_BOUND_MS,
    );
  }
}
