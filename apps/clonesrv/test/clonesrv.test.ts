/**
 * clonesrv as real processes on loopback (ports P, P+1, P+2 found free at run time; the Binary
 * Star state link on ipc). Clients are CloneClients in the test process.
 *
 *   writers --KVSET--> primary P+2 ─┐           primary P+1 --KVPUB--> backup (passive) + readers
 *           └────────> backup  Q+2  ├ pending    primary state <--> backup state (ipc)
 *   readers <--snapshot-- P or Q    ┘
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { CloneClient, type CloneClientStatus } from '@zpatterns/clone';
import {
  appBin,
  Daemon,
  eventually,
  freePortRange,
  ipcEndpoint,
  randomMessage,
  runCli,
  seededRandom,
  useDisposables,
  type LogLine,
} from '@zpatterns/testkit';

const { track, defer } = useDisposables();

const FAST = ['--hugz-ms', '100', '--ha-heartbeat-ms', '500', '--peer-ttl-ms', '2000'];

async function clonesrv(args: string[]): Promise<Daemon> {
  return track(await Daemon.start({ bin: appBin('clonesrv'), args: [...args, '--log-level', 'info'] }));
}

async function reader(ports: number[], subtrees?: string[], timeoutMs = 6000): Promise<CloneClient> {
  const c = track(
    new CloneClient({
      servers: ports.map((p) => `tcp://127.0.0.1:${p}`),
      peerTtlMs: 2000,
      timeoutMs,
      ...(subtrees === undefined ? {} : { subtrees }),
    }),
  );
  await c.start();
  return c;
}

/** Two non-overlapping P..P+2 ranges. */
async function twoBasePorts(): Promise<[number, number]> {
  for (;;) {
    const p = await freePortRange(3);
    const q = await freePortRange(3);
    if (Math.abs(p - q) >= 3) return [p, q];
  }
}

/** Every status event of `client` from now on, in order. */
function record(client: CloneClient): CloneClientStatus[] {
  const events: CloneClientStatus[] = [];
  void (async () => {
    for await (const event of client.status())
      if (event.type !== 'started' && event.type !== 'closed') events.push(event);
  })();
  return events;
}

const says =
  (msg: string) =>
  (line: LogLine): boolean =>
    line.msg === msg;

describe('clonesrv pair', () => {
  it('SIGKILL the active during a stream of writes: clients fail over, no acknowledged update is lost', async () => {
    const [p, q] = await twoBasePorts();
    const [pState, bState] = [ipcEndpoint('clone-pstate'), ipcEndpoint('clone-bstate')];
    const primary = await clonesrv([
      '--ha',
      'primary',
      '--port',
      String(p),
      '--peer-port',
      String(q),
      '--state-bind',
      pState,
      '--state-connect',
      bState,
      ...FAST,
    ]);
    const backup = await clonesrv([
      '--ha',
      'backup',
      '--port',
      String(q),
      '--peer-port',
      String(p),
      '--state-bind',
      bState,
      '--state-connect',
      pState,
      ...FAST,
    ]);
    await Promise.all([
      primary.waitForLog(says('clone server active'), 10_000, true),
      backup.waitForLog(says('clone server passive, following the active'), 10_000, true),
    ]);
    const readers = await Promise.all([reader([p, q]), reader([p, q]), reader([p, q], ['/w0/'])]);
    const writers = await Promise.all([reader([p, q]), reader([p, q])]);
    const seen = record(readers[0]);

    const acked = new Map<string, { value: string; sequence: bigint }>();
    let maxBeforeKill = 0n;
    let killed = false;
    const write = async (w: CloneClient, id: number): Promise<void> => {
      for (let i = 0; acked.size < 600; i += 1) {
        const key = `/w${id}/${i}`;
        try {
          const sequence = await w.commit(key, `v${i}`);
          acked.set(key, { value: `v${i}`, sequence });
          if (!killed && sequence > maxBeforeKill) maxBeforeKill = sequence;
        } catch {
          // not acknowledged (the failover window): the test promises nothing for it
        }
      }
    };
    const writing = Promise.all(writers.map((w, id) => write(w, id)));
    await eventually(() => acked.size >= 200, { timeoutMs: 20_000, what: '200 writes acknowledged' });
    killed = true;
    await primary.kill('SIGKILL');
    await writing;
    await backup.waitForLog(says('clone server active'), 10_000, true);

    // Acknowledged after the kill means sequenced by the new active: above everything before it.
    const after = [...acked.values()].filter((a) => a.sequence > maxBeforeKill);
    expect(after.length).toBeGreaterThan(0);
    for (const [key, { value }] of acked) {
      for (const r of readers.slice(0, 2)) {
        await eventually(() => r.get(key)?.toString() === value, { what: `${key} on a reader` });
      }
      // the subtree reader fails over on its own clock: wait for it too
      if (key.startsWith('/w0/')) {
        await eventually(() => readers[2]?.get(key)?.toString() === value, { what: `${key} on the subtree reader` });
      }
    }
    expect(readers[1]?.entries().sort()).toEqual(readers[0]?.entries().sort());
    expect(readers.every((r) => r.currentServer === 1)).toBe(true);
    // The reader's status feed tells the story: the primary went silent, the client moved on.
    const [primaryAt, backupAt] = [`tcp://127.0.0.1:${p}`, `tcp://127.0.0.1:${q}`];
    const story = seen.filter((e) => e.type !== 'resync');
    expect(story.slice(0, 3)).toEqual([
      { type: 'disconnected', peer: primaryAt, reason: 'silent', silentMs: expect.any(Number) as unknown },
      { type: 'failover', from: primaryAt, to: backupAt },
      { type: 'connected', peer: backupAt },
    ]);
    expect((story[0] as { silentMs: number }).silentMs).toBeGreaterThanOrEqual(2000);

    // The old primary comes back passive, behind the backup that is now active.
    await primary.restart();
    await primary.waitForLog(says('clone server passive, following the active'), 10_000);
  }, 90_000);
});

describe('clonesrv alone', () => {
  it('--data-dir: SIGKILL and restart keep the map and the sequence', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'clonesrv-'));
    defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const [port] = await twoBasePorts();
    const server = await clonesrv(['--port', String(port), '--data-dir', dataDir, '--hugz-ms', '100']);
    const writer = await reader([port]);
    let last = 0n;
    for (let i = 0; i < 500; i += 1) last = await writer.commit(`/k/${i % 100}`, `v${i}`);
    await writer.commit('/k/7', ''); // a delete survives too
    const before = writer.entries().sort();
    await writer.close();
    await server.kill('SIGKILL');
    await server.restart();
    expect(server.ready['sequence']).toBe(Number(last + 1n));
    const after = await reader([port]);
    expect(after.entries().sort()).toEqual(before);
    expect(await after.commit('/k/next', 'x')).toBe(last + 2n);
  }, 60_000);

  it('SIGKILL and restart without --data-dir: the client resyncs (reason restart) to the new map', async () => {
    const [port] = await twoBasePorts();
    const server = await clonesrv(['--port', String(port), '--hugz-ms', '100']);
    // a long peerTtlMs: the client stays on the server across the restart instead of resnapshotting
    const c = track(new CloneClient({ servers: [`tcp://127.0.0.1:${port}`], peerTtlMs: 60_000 }));
    await c.start();
    for (let i = 0; i < 5; i += 1) await c.commit(`/k/${i}`, 'old');
    const seen = record(c);
    await server.kill('SIGKILL');
    await server.restart();
    const fresh = await reader([port]);
    await fresh.commit('/fresh', 'new');
    // the restarted server's HUGZ carry a sequence below the client's: it lost its map
    await eventually(() => seen.some((e) => e.type === 'resync'), { what: 'resync', timeoutMs: 20_000 });
    expect(seen.find((e) => e.type === 'resync')).toEqual({
      type: 'resync',
      peer: `tcp://127.0.0.1:${port}`,
      reason: 'restart',
    });
    await eventually(() => c.size === 1 && c.get('/fresh') !== undefined, { what: 'the replica follows the new map' });
    expect(c.stats.gaps).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('10,000 random multipart messages on each of its three ports: alive and still serving', async () => {
    const [port] = await twoBasePorts();
    const server = await clonesrv(['--port', String(port), '--hugz-ms', '100']);
    const random = seededRandom(11);
    const vocabulary = ['ICANHAZ?', 'KTHXBAI', 'HUGZ', '/k/1', ''].map((s) => Buffer.from(s));
    vocabulary.push(Buffer.alloc(8), Buffer.alloc(16));
    const snapshot = new zmq.Dealer({ linger: 0 });
    const collector = new zmq.Publisher({ linger: 0 });
    const publisher = new zmq.XSubscriber({ linger: 0 });
    for (const s of [snapshot, collector, publisher]) track(s);
    snapshot.connect(`tcp://127.0.0.1:${port}`);
    publisher.connect(`tcp://127.0.0.1:${port + 1}`);
    collector.connect(`tcp://127.0.0.1:${port + 2}`);
    const drain = (async () => {
      for await (const _ of snapshot) void _;
    })().catch(() => undefined);
    for (let i = 0; i < 10_000; i += 1) {
      await snapshot.send(randomMessage(random, vocabulary));
      await collector.send(randomMessage(random, vocabulary));
      await publisher.send(randomMessage(random, vocabulary));
    }
    // the server may still be working through the garbage: allow it time, then it must answer
    const c = await reader([port], undefined, 30_000);
    expect(await c.commit('/still', 'serving')).toBeGreaterThan(0n);
    // each of the three kinds of garbage was seen and counted, not fatal
    await server.stop();
    const final = server.logs.find(says('stopped'))?.['stats'] as Record<string, number> | undefined;
    expect(final?.['malformed']).toBeGreaterThan(1000);
    snapshot.close();
    await drain;
  }, 60_000);

  it('--metrics-port: counters and gauges move while updates flow, /healthz is 200', async () => {
    const [port] = await twoBasePorts();
    const server = await clonesrv(['--port', String(port), '--hugz-ms', '100', '--metrics-port', '0']);
    const url = server.ready['metrics'] as string;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const c = await reader([port]);
    for (let i = 0; i < 7; i += 1) await c.commit(`/m/${i}`, 'x');
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (series: string): number =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(`${series} `))
          ?.slice(series.length + 1),
      );
    expect(value('zpatterns_clone_updates_total')).toBe(7);
    expect(value('zpatterns_clone_keys')).toBe(7);
    expect(value('zpatterns_clone_sequence')).toBe(7);
    expect(value('zpatterns_clone_active')).toBe(1);
    expect(value('zpatterns_clone_snapshots_total')).toBeGreaterThanOrEqual(1);
  });

  it('bad flags: one line on stderr, exit code 2', async () => {
    for (const args of [
      ['--peer-port', '5566'],
      ['--peer-hugz', 'tcp://127.0.0.1:5567'],
      ['--ha', 'primary', '--peer-snapshot', 'nowhere'],
      ['--port', '70000'],
      ['--ha', 'leader'],
    ]) {
      const run = await runCli(appBin('clonesrv'), args);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
