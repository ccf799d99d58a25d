/**
 * Every error a library throws or rejects with is a `ZPatternsError` with a stable `code`, seen at
 * run time (error-classes.test.ts reads the source; this drives the calls). Every long-lived class
 * each package exports is driven into the failure paths a caller meets:
 *
 * - bad argument: each numeric option of its defaults set to -1, then NaN (constructor throws);
 * - not started: each public call before `start()`;
 * - closed: each public call, and `start()`, after `close()`;
 * - timeout: each request-style call against a peer that never answers;
 * - bind: each bind to an address that cannot be bound;
 * - close while a send waits on libzmq (the socket wrapper all of them are built on).
 *
 * What is thrown must be a `ZPatternsError` (of this repository's core, so not a copy) whose code
 * is an `ERR_` string. A call that succeeds is fine; a call that hangs fails the test.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import * as zmq from 'zeromq';
import { MetricsServer } from '@zpatterns/app-kit';
import { BinaryStar, binaryStarDefaults, BinaryStarClient, binaryStarClientDefaults } from '@zpatterns/bstar';
import { CloneClient, cloneClientDefaults, CloneServer, cloneServerDefaults } from '@zpatterns/clone';
import { Component, ZPatternsError } from '@zpatterns/core';
import { Channel } from '@zpatterns/core/internal';
import {
  FreelanceClient,
  freelanceClientDefaults,
  FreelanceServer,
  freelanceServerDefaults,
} from '@zpatterns/freelance';
import {
  Broker,
  brokerDefaults,
  MajordomoClient,
  majordomoClientDefaults,
  MajordomoPipeline,
  majordomoPipelineDefaults,
  MajordomoWorker,
  majordomoWorkerDefaults,
} from '@zpatterns/majordomo';
import {
  LazyPirateClient,
  lazyPirateClientDefaults,
  ParanoidPirateQueue,
  paranoidPirateQueueDefaults,
  ParanoidPirateWorker,
  paranoidPirateWorkerDefaults,
  SimplePirateQueue,
  simplePirateQueueDefaults,
  SimplePirateWorker,
  simplePirateWorkerDefaults,
} from '@zpatterns/pirate';
import { ipcEndpoint, rawRouter } from '@zpatterns/testkit';
import {
  MemoryStore,
  PostgresStore,
  postgresStoreDefaults,
  SqliteStore,
  sqliteStoreDefaults,
  TitanicClient,
  titanicClientDefaults,
  TitanicServer,
  titanicServerDefaults,
} from '@zpatterns/titanic';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicPackages } from '../workspaces.mjs';

type AnyComponent = Component<{ type: string }> & Record<string, unknown>;
type Call = [method: string, ...args: unknown[]];

interface Case {
  name: string;
  make: (options: Record<string, unknown>) => AnyComponent;
  options: () => Record<string, unknown>;
  defaults: object;
  calls: Call[];
}

const UUID = '0123456789abcdef0123456789abcdef';
const handler = (): string[] => ['ok'];
let silent = '';
const dirs: string[] = [];
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'zp-errors-'));
  dirs.push(dir);
  return dir;
};
const cast = <T>(value: T): AnyComponent => value as unknown as AnyComponent;

const CASES: Case[] = [
  {
    name: 'LazyPirateClient',
    make: (o) => cast(new LazyPirateClient(o as never)),
    options: () => ({ servers: silent }),
    defaults: lazyPirateClientDefaults,
    calls: [['request', ['x']]],
  },
  {
    name: 'ParanoidPirateQueue',
    make: (o) => cast(new ParanoidPirateQueue(o as never)),
    options: () => ({}),
    defaults: paranoidPirateQueueDefaults,
    calls: [],
  },
  {
    name: 'ParanoidPirateWorker',
    make: (o) => cast(new ParanoidPirateWorker(o as never)),
    options: () => ({ queue: silent, handler }),
    defaults: paranoidPirateWorkerDefaults,
    calls: [],
  },
  {
    name: 'SimplePirateQueue',
    make: (o) => cast(new SimplePirateQueue(o as never)),
    options: () => ({}),
    defaults: simplePirateQueueDefaults,
    calls: [],
  },
  {
    name: 'SimplePirateWorker',
    make: (o) => cast(new SimplePirateWorker(o as never)),
    options: () => ({ queue: silent, handler }),
    defaults: simplePirateWorkerDefaults,
    calls: [],
  },
  {
    name: 'Broker',
    make: (o) => cast(new Broker(o as never)),
    options: () => ({ bind: 'tcp://127.0.0.1:*' }),
    defaults: brokerDefaults,
    calls: [['bind', 'tcp://127.0.0.1:*']],
  },
  {
    name: 'MajordomoClient',
    make: (o) => cast(new MajordomoClient(o as never)),
    options: () => ({ broker: silent }),
    defaults: majordomoClientDefaults,
    calls: [
      ['request', 'svc', ['x']],
      ['serviceStatus', 'svc'],
      ['services', ['svc']],
    ],
  },
  {
    name: 'MajordomoPipeline',
    make: (o) => cast(new MajordomoPipeline(o as never)),
    options: () => ({ broker: silent }),
    defaults: majordomoPipelineDefaults,
    calls: [['send', 'svc', ['x']], ['sendAsync', 'svc', ['x']], ['recv']],
  },
  {
    name: 'MajordomoWorker',
    make: (o) => cast(new MajordomoWorker(o as never)),
    options: () => ({ broker: silent, service: 'svc', handler }),
    defaults: majordomoWorkerDefaults,
    calls: [],
  },
  {
    name: 'FreelanceClient',
    make: (o) => cast(new FreelanceClient(o as never)),
    options: () => ({ servers: [silent] }),
    defaults: freelanceClientDefaults,
    calls: [['request', ['x']]],
  },
  {
    name: 'FreelanceServer',
    make: (o) => cast(new FreelanceServer(o as never)),
    options: () => ({ bind: 'tcp://127.0.0.1:*', handler }),
    defaults: freelanceServerDefaults,
    calls: [],
  },
  {
    name: 'BinaryStar',
    make: (o) => cast(new BinaryStar(o as never)),
    options: () => ({
      role: 'primary',
      stateBind: 'tcp://127.0.0.1:*',
      stateConnect: ipcEndpoint('errors-bstar'),
      frontend: 'tcp://127.0.0.1:*',
    }),
    defaults: binaryStarDefaults,
    calls: [],
  },
  {
    name: 'BinaryStarClient',
    make: (o) => cast(new BinaryStarClient(o as never)),
    options: () => ({ servers: [silent, silent] }),
    defaults: binaryStarClientDefaults,
    calls: Object.getOwnPropertyNames(BinaryStarClient.prototype)
      .filter((k) => k === 'request')
      .map((k) => [k, ['x']] as Call),
  },
  {
    name: 'CloneClient',
    make: (o) => cast(new CloneClient(o as never)),
    options: () => ({ servers: [silent] }),
    defaults: cloneClientDefaults,
    // get() and entries() read the local replica, and watch() is a stream that waits for changes
    // before start() and ends at close(), as a for-await loop should: none of them is an error.
    calls: [
      ['set', '/k', 'v'],
      ['delete', '/k'],
      ['commit', '/k', 'v'],
    ],
  },
  {
    name: 'CloneServer',
    make: (o) => cast(new CloneServer(o as never)),
    options: () => ({}),
    defaults: cloneServerDefaults,
    calls: [],
  },
  {
    name: 'TitanicClient',
    make: (o) => cast(new TitanicClient(o as never)),
    options: () => ({ broker: silent }),
    defaults: titanicClientDefaults,
    calls: [
      ['submit', 'svc', ['x']],
      ['poll', UUID],
      ['waitReply', UUID],
      ['closeRequest', UUID],
      ['call', 'svc', ['x']],
    ],
  },
  {
    name: 'TitanicServer',
    make: (o) => cast(new TitanicServer(o as never)),
    options: () => ({ broker: silent, store: new MemoryStore() }),
    defaults: titanicServerDefaults,
    calls: [],
  },
  ...(['MemoryStore', 'SqliteStore', 'PostgresStore'] as const).map((name): Case => ({
    name,
    make: (o) =>
      cast(
        name === 'MemoryStore'
          ? new MemoryStore()
          : name === 'SqliteStore'
            ? new SqliteStore(o as never)
            : new PostgresStore(o as never),
      ),
    options: () =>
      name === 'SqliteStore'
        ? { dataDir: tempDir() }
        : name === 'PostgresStore'
          ? { url: 'postgres://nobody@/nowhere' }
          : {},
    defaults: name === 'SqliteStore' ? sqliteStoreDefaults : name === 'PostgresStore' ? postgresStoreDefaults : {},
    calls: [
      ['write', [{ type: 'request', uuid: UUID, service: Buffer.from('svc'), body: [Buffer.from('x')] }]],
      ['get', UUID],
      ['getRequest', UUID],
      ['pending'],
      ['counts'],
      ['expireReplies', Date.now()],
    ],
  })),
  {
    name: 'MetricsServer',
    make: (o) => cast(new MetricsServer(o as never)),
    options: () => ({ port: 0, host: '127.0.0.1', registry: new Registry() }),
    defaults: { port: 0 },
    calls: [], // drain() is a close(): idempotent
  },
];

/** The `code` of a `ZPatternsError` (of this repository's core), else undefined. */
function zpCode(err: unknown): string | undefined {
  return err instanceof ZPatternsError ? (err as ZPatternsError<string>).code : undefined;
}

/** What `run` saw: undefined when it settled without an error, else a line describing the error. */
async function failure(run: () => unknown): Promise<{ zp: boolean; what: string } | undefined> {
  let caught: unknown;
  try {
    let result = run();
    // A stream (watch(), pending()): its first read is where it fails.
    if (typeof (result as AsyncIterable<unknown> | undefined)?.[Symbol.asyncIterator] === 'function')
      result = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]().next();
    if (result instanceof Promise) {
      await Promise.race([
        result,
        new Promise((_, reject) => setTimeout(() => reject(new Error('HUNG: not settled in 5 s')), 5000)),
      ]);
    }
    return undefined;
  } catch (err) {
    caught = err;
  }
  const code = zpCode(caught);
  const zp = code !== undefined && /^ERR_[A-Z_]+$/.test(code);
  const raw = (caught as { code?: unknown } | undefined)?.code;
  const what =
    caught instanceof Error
      ? `${caught.constructor.name}(${typeof raw === 'string' ? raw : 'no code'}): ${caught.message}`
      : String(caught);
  return { zp, what };
}

let router: Awaited<ReturnType<typeof rawRouter>> | undefined;
beforeAll(async () => {
  router = await rawRouter();
  silent = router.endpoint;
});
afterAll(async () => {
  await router?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('library errors at run time', () => {
  it('the table drives every long-lived class the packages export', async () => {
    const exported: string[] = [];
    // the public libraries, and app-kit: private, but its long-lived classes run in every daemon
    const libraries = publicPackages(join(import.meta.dirname, '../..'))
      .filter((p) => p.library)
      .map((p) => p.name);
    for (const name of [...libraries, '@zpatterns/app-kit']) {
      const module = (await import(name)) as Record<string, unknown>;
      for (const [name, value] of Object.entries(module)) {
        const proto = (value as { prototype?: object } | undefined)?.prototype;
        if (
          typeof value === 'function' &&
          proto !== undefined &&
          Object.prototype.isPrototypeOf.call(Component.prototype, proto)
        )
          exported.push(name);
      }
    }
    expect(CASES.map((c) => c.name).sort()).toEqual(exported.sort());
  });

  it('a bad option: each numeric option at -1 and NaN is refused with a ZPatternsError', async () => {
    const wrong: string[] = [];
    let refused = 0;
    for (const c of CASES) {
      for (const [key, value] of Object.entries(c.defaults)) {
        if (typeof value !== 'number') continue;
        for (const bad of [-1, Number.NaN]) {
          const seen = await failure(() => c.make({ ...c.options(), [key]: bad }));
          if (seen === undefined) continue;
          refused++;
          if (!seen.zp) wrong.push(`${c.name} { ${key}: ${bad} }: ${seen.what}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    expect(refused).toBeGreaterThan(50);
  });

  it('not started and closed: every public call, and start() after close(), rejects with a ZPatternsError', async () => {
    const wrong: string[] = [];
    let rejected = 0;
    for (const c of CASES) {
      const fresh = c.make(c.options());
      for (const [method, ...args] of c.calls) {
        const seen = await failure(() => (fresh[method] as (...a: unknown[]) => unknown).apply(fresh, args));
        if (seen !== undefined) rejected++;
        if (seen !== undefined && !seen.zp) wrong.push(`${c.name}.${method} before start(): ${seen.what}`);
      }
      await fresh.close();
      for (const [method, ...args] of c.calls) {
        const seen = await failure(() => (fresh[method] as (...a: unknown[]) => unknown).apply(fresh, args));
        if (seen === undefined) wrong.push(`${c.name}.${method} after close(): no error`);
        else if (!seen.zp) wrong.push(`${c.name}.${method} after close(): ${seen.what}`);
        else rejected++;
      }
      const restart = await failure(() => fresh.start());
      if (restart === undefined || !restart.zp)
        wrong.push(`${c.name}.start() after close(): ${restart?.what ?? 'no error'}`);
    }
    expect(wrong).toEqual([]);
    expect(rejected).toBeGreaterThan(20);
  });

  it('timeout: each request-style call to a peer that never answers rejects with ERR_TIMEOUT', async () => {
    const short = { timeoutMs: 300, attemptTimeoutMs: 150, retries: 0 };
    const pirate = await LazyPirateClient.start({ servers: silent, attemptTimeoutMs: 150, retries: 0 });
    const majordomo = await MajordomoClient.start({ broker: silent, attemptTimeoutMs: 150, retries: 0 });
    const freelance = await FreelanceClient.start({ servers: [silent], ...short });
    const titanic = await TitanicClient.start({ broker: silent, attemptTimeoutMs: 150, retries: 0 });
    try {
      const calls: [string, () => Promise<unknown>][] = [
        ['LazyPirateClient.request', () => pirate.request(['x'])],
        ['MajordomoClient.request', () => majordomo.request('svc', ['x'])],
        ['FreelanceClient.request', () => freelance.request(['x'])],
        ['TitanicClient.submit', () => titanic.submit('svc', ['x'])],
        ['TitanicClient.call', () => titanic.call('svc', ['x'], { timeoutMs: 300 })],
      ];
      const seen: string[] = [];
      for (const [name, call] of calls) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        const code = zpCode(err);
        const ok = code !== undefined && code.startsWith('ERR_') && code.endsWith('TIMEOUT');
        seen.push(`${name}: ${ok ? 'ERR_*TIMEOUT' : String(err)}`);
      }
      expect(seen).toEqual(calls.map(([name]) => `${name}: ERR_*TIMEOUT`));
    } finally {
      await Promise.all([pirate.close(), majordomo.close(), freelance.close(), titanic.close()]);
    }
  }, 30_000);

  it('bind: an endpoint that cannot be bound rejects start() with ERR_BIND', async () => {
    const bad = 'tcp://256.0.0.1:1';
    const starts: [string, () => Promise<unknown>][] = [
      ['Broker', () => Broker.start({ bind: bad })],
      ['FreelanceServer', () => FreelanceServer.start({ bind: bad, handler })],
      ['ParanoidPirateQueue', () => ParanoidPirateQueue.start({ frontend: bad })],
      ['SimplePirateQueue', () => SimplePirateQueue.start({ frontend: bad })],
    ];
    const seen: string[] = [];
    for (const [name, start] of starts) {
      const err = await start().then(
        async (started) => {
          await (started as AnyComponent).close();
          return undefined;
        },
        (e: unknown) => e,
      );
      seen.push(`${name}: ${zpCode(err) ?? String(err)}`);
    }
    expect(seen).toEqual(starts.map(([name]) => `${name}: ERR_BIND`));
  });

  it("close while a send waits on libzmq: the send rejects with ClosedError, not zeromq's EAGAIN", async () => {
    const dealer = new zmq.Dealer({ linger: 0, sendHighWaterMark: 1, immediate: true });
    dealer.connect(ipcEndpoint('errors-nobody'));
    const channel = new Channel(dealer);
    const sends = Array.from({ length: 20 }, (_, i) => channel.send([`m${i}`]));
    await new Promise((resolve) => setImmediate(resolve));
    await channel.close();
    const results = await Promise.allSettled(sends);
    const reasons = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(reasons.length).toBeGreaterThan(0);
    expect(reasons.filter((r) => zpCode(r) !== 'ERR_CLOSED')).toEqual([]);
  });
});
