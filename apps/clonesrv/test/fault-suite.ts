/**
 * The fault suite: a clonesrv pair (real processes, --data-dir) and ten CloneClients committing
 * random keys, some with TTLs, for at least `FAULT_SUITE_MS` (60 s) while one fault at a time
 * strikes: SIGKILL of the active or of the passive (restarted), SIGSTOP of the active for 3 s, the
 * pair's Binary Star link cut and healed, one client cut off from both servers and healed (the
 * testkit TCP proxy). Every committed write and every change each client sees is recorded; after
 * healing:
 * - every client's map equals the active server's (a fresh client's snapshot);
 * - every key holds its last committed write (highest sequence), or a later write whose commit
 *   timed out, or nothing once that write's TTL has passed;
 * - no client sees a value again after seeing one committed after it was acknowledged;
 * - no sequence number is given to two committed writes.
 * Failover times (SIGKILL of the active to each client's next acknowledged write) are printed.
 * Used by faults.test.ts (60 s, in `npm test`) and faults.chaos.test.ts (`npm run chaos`).
 *
 *   client ×9 ──────────────────────────> primary P..P+2      backup Q..Q+2
 *   client #9 ── proxies (cut-off) ─────>      bstar ── proxy ──> bstar (and back)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CloneClient, type CloneServerAddress } from '@zpatterns/clone';
import {
  appBin,
  Daemon,
  eventually,
  freePortRange,
  seededRandom,
  startTcpProxy,
  useDisposables,
  type TcpProxy,
} from '@zpatterns/testkit';

const { track, defer } = useDisposables();

const CLIENTS = 10;
const KEYS = 40;
const TTL_MS = 3000;

interface Write {
  client: number;
  key: string;
  value: string;
  ttlMs: number;
  issuedAt: number;
  ackedAt?: number;
  sequence?: bigint;
}

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

export async function runFaultSuite(durationMs: number, seed: number): Promise<void> {
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const [p, q] = await twoBasePorts();
  const [ps, bs] = [await freePortRange(1), await freePortRange(1)];
  const toPrimaryState = track(await startTcpProxy({ target: `tcp://127.0.0.1:${ps}` }));
  const toBackupState = track(await startTcpProxy({ target: `tcp://127.0.0.1:${bs}` }));
  const dirs = [0, 1].map(() => {
    const dir = mkdtempSync(join(tmpdir(), 'clonesrv-faults-'));
    defer(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  });
  const args = (role: 'primary' | 'backup'): string[] => {
    const primary = role === 'primary';
    return [
      '--ha',
      role,
      ...['--port', String(primary ? p : q), '--peer-port', String(primary ? q : p)],
      ...['--state-bind', `tcp://127.0.0.1:${primary ? ps : bs}`],
      ...['--state-connect', primary ? toBackupState.endpoint : toPrimaryState.endpoint],
      ...['--data-dir', dirs[primary ? 0 : 1] ?? '', '--hugz-ms', '200', '--log-level', 'info'],
    ];
  };
  const servers = [
    track(await Daemon.start({ bin: appBin('clonesrv'), args: args('primary') })),
    track(await Daemon.start({ bin: appBin('clonesrv'), args: args('backup') })),
  ] as const;

  // the last client reaches both servers through proxies, to be cut off alone
  const cutProxies: TcpProxy[] = [];
  const proxied = async (a: CloneServerAddress): Promise<CloneServerAddress> => {
    const via = async (target: string) => {
      const proxy = track(await startTcpProxy({ target }));
      cutProxies.push(proxy);
      return proxy.endpoint;
    };
    return { snapshot: await via(a.snapshot), publisher: await via(a.publisher), collector: await via(a.collector) };
  };
  const lists = await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) =>
      i === CLIENTS - 1 ? [await proxied(address(p)), await proxied(address(q))] : [address(p), address(q)],
    ),
  );
  const clients = lists.map((list) => track(new CloneClient({ servers: list, commitTimeoutMs: 4000 })));
  await Promise.all(clients.map((c) => c.start()));

  // every change each client sees, in order
  const seen: { key: string; value: string | undefined }[][] = clients.map(() => []);
  const watching = new AbortController();
  const watchers = clients.map(async (c, i) => {
    for await (const change of c.watch('', { signal: watching.signal })) {
      seen[i]?.push({ key: change.key, value: change.value?.toString() });
    }
  });

  const writes: Write[] = [];
  const byValue = new Map<string, Write>();
  let writing = true;
  const writers = clients.map(async (c, i) => {
    for (let n = 0; writing; n += 1) {
      const w: Write = {
        client: i,
        key: `/f/${Math.floor(random() * KEYS)}`,
        value: `c${i}-${n}`,
        ttlMs: random() < 0.2 ? TTL_MS : 0,
        issuedAt: Date.now(),
      };
      writes.push(w);
      byValue.set(w.value, w);
      try {
        w.sequence = await c.commit(w.key, w.value, w.ttlMs > 0 ? { ttlMs: w.ttlMs } : {});
        w.ackedAt = Date.now();
      } catch {
        // timed out: not acknowledged (it may still be applied later)
      }
      await sleep(20 + random() * 80);
    }
  });

  const active = (): 0 | 1 => {
    const on1 = clients.filter((c) => c.currentServer === 1).length;
    return on1 > CLIENTS / 2 ? 1 : 0;
  };
  const failovers: number[] = [];
  const faults = ['kill-active', 'kill-passive', 'stop-active', 'cut-pair', 'cut-client'] as const;
  const started = Date.now();
  const log: string[] = [];
  for (let round = 0; Date.now() - started < durationMs; round += 1) {
    const fault = round < faults.length ? (faults[round] ?? pick(faults)) : pick(faults);
    log.push(fault);
    const a = active();
    const activeServer = servers[a];
    const passiveServer = servers[a === 0 ? 1 : 0];
    switch (fault) {
      case 'kill-active': {
        const at = Date.now();
        await activeServer.kill('SIGKILL');
        // each client's first write acknowledged after the kill
        await eventually(
          () =>
            clients
              .slice(0, CLIENTS - 1)
              .every((_, i) => writes.some((w) => w.client === i && w.issuedAt > at && w.ackedAt !== undefined)),
          {
            what: 'every client writes again after the failover',
            timeoutMs: 30_000,
            intervalMs: 50,
          },
        );
        for (let i = 0; i < CLIENTS - 1; i += 1) {
          const first = writes.find((w) => w.client === i && w.issuedAt > at && w.ackedAt !== undefined);
          if (first?.ackedAt !== undefined) failovers.push(first.ackedAt - at);
        }
        await activeServer.restart();
        break;
      }
      case 'kill-passive':
        await passiveServer.kill('SIGKILL');
        await sleep(1000);
        await passiveServer.restart();
        break;
      case 'stop-active':
        activeServer.pause();
        await sleep(3000);
        activeServer.resume();
        break;
      case 'cut-pair':
        toPrimaryState.cut();
        toBackupState.cut();
        await sleep(4000);
        toPrimaryState.forward();
        toBackupState.forward();
        break;
      case 'cut-client':
        for (const proxy of cutProxies) proxy.cut();
        await sleep(4000);
        for (const proxy of cutProxies) proxy.forward();
        break;
    }
    await sleep(2000 + random() * 2000); // settle between faults
  }
  writing = false;
  await Promise.all(writers);
  // let the last TTLs pass and every replica settle
  await sleep(TTL_MS + 2500);
  const reference = track(new CloneClient({ servers: [address(p), address(q)] }));
  await reference.start();
  const flat = (c: CloneClient) =>
    c
      .entries()
      .map(([k, v]) => `${k}=${v.toString()}`)
      .sort();
  await eventually(() => clients.every((c) => flat(c).join('\n') === flat(reference).join('\n')), {
    what: `every client's map equals the active's (faults: ${log.join(', ')})`,
    timeoutMs: 30_000,
  });
  watching.abort();
  await Promise.allSettled(watchers);

  const committed = writes.filter((w) => w.sequence !== undefined);
  expect(committed.length).toBeGreaterThan(100);
  // no sequence number given to two committed writes
  const sequences = new Set(committed.map((w) => w.sequence));
  expect(sequences.size).toBe(committed.length);
  // every key holds its last committed write, a later unacknowledged one, or nothing after its TTL
  const final = new Map(reference.entries().map(([k, v]) => [k, v.toString()]));
  for (let k = 0; k < KEYS; k += 1) {
    const key = `/f/${k}`;
    const last = committed
      .filter((w) => w.key === key)
      .sort((x, y) => ((x.sequence ?? 0n) < (y.sequence ?? 0n) ? -1 : 1))
      .at(-1);
    if (last === undefined) continue;
    const value = final.get(key);
    if (value === undefined) {
      expect({ key, lost: last.value, ttlMs: last.ttlMs }).toMatchObject({ ttlMs: TTL_MS });
      continue;
    }
    const holder = byValue.get(value);
    expect(holder, `${key} holds ${value}, which nobody wrote`).toBeDefined();
    if (holder?.sequence !== undefined) expect({ key, value }).toEqual({ key, value: last.value });
  }
  // no value comes back after a client saw one committed after it was acknowledged
  for (const [i, changes] of seen.entries()) {
    const latest = new Map<string, Write>();
    for (const change of changes) {
      if (change.value === undefined) continue;
      const w = byValue.get(change.value);
      if (w === undefined) continue;
      const newer = latest.get(change.key);
      if (newer?.issuedAt !== undefined && w.ackedAt !== undefined && newer.issuedAt > w.ackedAt) {
        throw new Error(`client ${i} saw ${change.key}=${w.value} again after ${newer.value}`);
      }
      latest.set(change.key, w);
    }
  }
  failovers.sort((x, y) => x - y);
  const median = failovers[Math.floor(failovers.length / 2)];
  console.log(
    `clone fault suite: ${writes.length} writes, ${committed.length} committed, faults ${log.join(', ')}; failover ms median ${median}, worst ${failovers.at(-1)} (n=${failovers.length})`,
  );
}
