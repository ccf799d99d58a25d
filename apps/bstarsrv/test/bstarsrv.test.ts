/**
 * bstarsrv pairs as real processes, on ipc endpoints (stable across restarts), 100 ms heartbeats.
 *
 *   client (REQ, [primary, backup]) ──> primary frontend   primary state PUB ──> backup SUB
 *                                   └─> backup frontend    backup state PUB  ──> primary SUB
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { BinaryStarClient } from '@zpatterns/bstar';
import {
  appBin,
  Daemon,
  eventually,
  ipcEndpoint,
  randomMessage,
  rawDealer,
  rawRequest,
  seededRandom,
} from '@zpatterns/testkit';

const HEARTBEAT_MS = 100;
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

interface Endpoints {
  frontend: string;
  stateBind: string;
  stateConnect: string;
}

function endpoints(): { primary: Endpoints; backup: Endpoints } {
  const [pState, bState] = [ipcEndpoint('bstar-pstate'), ipcEndpoint('bstar-bstate')];
  return {
    primary: { frontend: ipcEndpoint('bstar-pfront'), stateBind: pState, stateConnect: bState },
    backup: { frontend: ipcEndpoint('bstar-bfront'), stateBind: bState, stateConnect: pState },
  };
}

const isState = (to: string) => (line: Record<string, unknown>) =>
  line['msg'] === 'binary star state' && line['to'] === to;

async function server(role: 'primary' | 'backup', e: Endpoints): Promise<Daemon> {
  return track(
    await Daemon.start({
      bin: appBin('bstarsrv'),
      args: [
        '--ha',
        role,
        '--frontend',
        e.frontend,
        '--state-bind',
        e.stateBind,
        '--state-connect',
        e.stateConnect,
        '--ha-heartbeat-ms',
        String(HEARTBEAT_MS),
      ],
    }),
  );
}

/** Start both and wait until the primary is active and the backup passive. */
async function pair(): Promise<{ primary: Daemon; backup: Daemon; e: ReturnType<typeof endpoints> }> {
  const e = endpoints();
  const [primary, backup] = await Promise.all([server('primary', e.primary), server('backup', e.backup)]);
  await Promise.all([
    primary.waitForLog(isState('active'), 10_000, true),
    backup.waitForLog(isState('passive'), 10_000, true),
  ]);
  return { primary, backup, e };
}

async function client(e: ReturnType<typeof endpoints>): Promise<BinaryStarClient> {
  return track(
    await BinaryStarClient.start({
      servers: [e.primary.frontend, e.backup.frontend],
      attemptTimeoutMs: 500,
      settleDelayMs: 2 * HEARTBEAT_MS,
      retries: 20,
    }),
  );
}

const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString());

describe('bstarsrv pair', () => {
  it('settles primary active / backup passive; only the active answers', async () => {
    const { e } = await pair();
    await using toPrimary = rawRequest(e.primary.frontend);
    await toPrimary.send(['hello', 'pair']);
    expect(texts(await toPrimary.receive())).toEqual(['hello', 'pair']);
    await using toBackup = rawRequest(e.backup.frontend);
    await toBackup.send(['hello']);
    await toBackup.expectNothing(4 * HEARTBEAT_MS);
  });

  it('SIGKILL the active: the client fails over, the backup goes active; the restarted primary comes back passive', async () => {
    const { primary, backup, e } = await pair();
    const bstar = await client(e);
    expect(texts(await bstar.request(['1']))).toEqual(['1']);
    // Listen before the kill, and say what the backup and the client did if the line never comes.
    const since = backup.logs.length;
    const active = backup.waitForLog(isState('active'), 15_000).catch((err: unknown) => {
      const seen = backup.logs.slice(since).map((l) => JSON.stringify(l));
      const said = `backup logged ${seen.length} line(s) since the kill:\n${seen.join('\n')}`;
      throw new Error(`${(err as Error).message}; client ${JSON.stringify(bstar.stats)}; ${said}`, { cause: err });
    });
    await primary.kill('SIGKILL');
    expect(texts(await bstar.request(['2']))).toEqual(['2']);
    const line = await active;
    expect(line['reason']).toBe('failover successful, ready as active');
    expect(bstar.server).toBe(e.backup.frontend);

    const before = primary.logs.length;
    await primary.restart();
    await primary.waitForLog(isState('passive'));
    expect(texts(await bstar.request(['3']))).toEqual(['3']);
    expect(primary.logs.slice(before).some(isState('active'))).toBe(false);
  });

  it('rapid restarts under client traffic never produce two actives', async () => {
    const { primary, backup, e } = await pair();
    // Record every state message each server publishes (one SUB per server, so we know who said it).
    const latest: Record<'primary' | 'backup', string | undefined> = { primary: undefined, backup: undefined };
    let both = 0;
    let seen = 0;
    const perServer = (['primary', 'backup'] as const).map((role) => {
      const sub = new zmq.Subscriber({ linger: 0 });
      sub.subscribe();
      sub.connect(e[role].stateBind);
      const loop = (async () => {
        for await (const [digit] of sub) {
          seen++;
          latest[role] = digit?.toString();
          if (latest.primary === '3' && latest.backup === '3') both++;
        }
      })().catch(() => undefined);
      return { sub, loop };
    });

    const bstar = await client(e);
    let stop = false;
    let answered = 0;
    const traffic = (async () => {
      for (let i = 0; !stop; i++) {
        expect(texts(await bstar.request([String(i)]))).toEqual([String(i)]);
        answered++;
      }
    })();
    const cycle = async (victim: Daemon, role: 'primary' | 'backup'): Promise<void> => {
      await victim.kill('SIGKILL');
      latest[role] = undefined; // a dead server's last word is not a claim
      const before = victim.logs.length;
      await victim.restart();
      // It settles (active or passive) and the client is served again before the next kill.
      await eventually(() => victim.logs.slice(before).some((l) => l['msg'] === 'binary star state'), {
        timeoutMs: 10_000,
        what: `the restarted ${role} settles`,
      });
      const served = answered;
      await eventually(() => answered > served + 1, { timeoutMs: 20_000, what: 'the client is served again' });
    };
    try {
      for (let round = 0; round < 3; round++) {
        await cycle(primary, 'primary');
        await cycle(backup, 'backup');
      }
      // Whatever happened, the pair settles again with exactly one active and the client is served.
      const start = answered;
      await eventually(() => answered > start + 3, { timeoutMs: 20_000, what: 'the client is served again' });
    } finally {
      stop = true;
      await traffic;
      for (const { sub } of perServer) sub.close();
      await Promise.all(perServer.map(({ loop }) => loop));
    }
    expect(seen).toBeGreaterThan(20);
    expect(both).toBe(0);
  });

  it('a fake peer saying "active" makes a fresh primary passive and silent until the peer falls silent', async () => {
    const e = endpoints();
    const fake = new zmq.Publisher({ linger: 0 });
    await fake.bind(e.primary.stateConnect);
    const beat = setInterval(() => void fake.send('3').catch(() => undefined), HEARTBEAT_MS / 2);
    let primary: Daemon;
    try {
      primary = await server('primary', e.primary);
      await primary.waitForLog(isState('passive'), 10_000, true);
      await using req = rawRequest(e.primary.frontend);
      await req.send(['anyone?']);
      await req.expectNothing(4 * HEARTBEAT_MS);
    } finally {
      clearInterval(beat);
      fake.close();
    }
    const bstar = track(
      await BinaryStarClient.start({ servers: [e.primary.frontend], attemptTimeoutMs: 300, retries: 30 }),
    );
    expect(texts(await bstar.request(['now?']))).toEqual(['now?']);
    await primary.waitForLog(isState('active'), 10_000, true);
  });

  it('10,000 random multipart messages on the frontend and the state socket: alive and still serving', async () => {
    const e = endpoints();
    // The primary's peer is a fake that publishes garbage (never a lone state digit).
    const fake = new zmq.Publisher({ linger: 0, sendHighWaterMark: 100_000 });
    await fake.bind(e.primary.stateConnect);
    const primary = await server('primary', e.primary);
    const bstar = track(
      await BinaryStarClient.start({ servers: [e.primary.frontend], attemptTimeoutMs: 500, retries: 30 }),
    );
    expect(texts(await bstar.request(['warm-up']))).toEqual(['warm-up']); // active on the vote
    const random = seededRandom(8);
    await using dealer = rawDealer(e.primary.frontend);
    const digits = ['1', '2', '3', '4'].map((d) => Buffer.from(d));
    try {
      for (let i = 0; i < 10_000; i++) {
        const message = randomMessage(random, [...digits, Buffer.from('')]);
        const lone = message.length === 1 && digits.some((d) => d.equals(message[0] as Buffer));
        await fake.send(lone ? [...message, Buffer.from('x')] : message);
        await dealer.send(randomMessage(random));
      }
    } finally {
      fake.close();
    }
    expect(primary.running).toBe(true);
    expect(texts(await bstar.request(['still', 'here']))).toEqual(['still', 'here']);
    await primary.waitForLog((l) => l.msg === 'garbage on the state socket ignored', 10_000, true);
  });
});
