/**
 * `zpat clone get|set|del|watch` as real processes (the built app), against a CloneServer in this
 * process on three consecutive free loopback ports (`--server tcp://127.0.0.1:P` means P, P+1, P+2).
 *
 *   zpat clone set ──KVSET──> collector P+2 ──> server ──KVPUB──> P+1 ──> zpat clone watch
 *   zpat clone get ──ICANHAZ?──> snapshot P ──KVSYNC*, KTHXBAI──┘
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CloneClient, CloneServer, portEndpoints } from '@zpatterns/clone';
import {
  appBin,
  Daemon,
  eventually,
  freePortRange,
  onFreePortRange,
  rawRouter,
  runCli,
  type LogLine,
} from '@zpatterns/testkit';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const zpat = (): string => appBin('zpat');

/** A CloneServer on P, P+1, P+2 (a fresh range if a port was taken meanwhile), and its `tcp://127.0.0.1:P`. */
async function startServer(): Promise<{ server: CloneServer; address: string }> {
  return onFreePortRange(3, async (base) => {
    const server = new CloneServer({ ...portEndpoints(base), heartbeatIntervalMs: 100 });
    try {
      await server.start();
    } catch (err) {
      await server.close();
      throw err;
    }
    track(server);
    return { server, address: `tcp://127.0.0.1:${base}` };
  });
}

const clone = (args: string[]) => runCli(zpat(), ['clone', ...args]);

// Each case spawns several node processes; on a loaded 2-core machine one spawn can take seconds.
describe('zpat clone', { timeout: 120_000 }, () => {
  it('set prints the sequence, get reads it back, get --all lists the subtree sorted, del removes it', async () => {
    const { server, address } = await startServer();
    const set1 = await clone(['set', '/cfg/b', 'two', '--server', address]);
    expect(set1).toMatchObject({ code: 0, stdout: '1\n', stderr: '' });
    const set2 = await clone(['set', '/cfg/a', 'one', '--server', address]);
    expect(set2).toMatchObject({ code: 0, stdout: '2\n' });
    expect(await clone(['set', '/other', 'x', '--server', address])).toMatchObject({ code: 0, stdout: '3\n' });
    expect(server.sequence).toBe(3n);

    expect(await clone(['get', '/cfg/a', '--server', address])).toMatchObject({ code: 0, stdout: 'one\n' });
    expect(await clone(['get', '--subtree', '/cfg/', '--server', address])).toMatchObject({
      code: 0,
      stdout: '/cfg/a=one\n/cfg/b=two\n',
    });
    expect(await clone(['get', '--all', '--server', address])).toMatchObject({
      code: 0,
      stdout: '/cfg/a=one\n/cfg/b=two\n/other=x\n',
    });

    expect(await clone(['del', '/cfg/a', '--server', address])).toMatchObject({ code: 0, stdout: '4\n' });
    const absent = await clone(['get', '/cfg/a', '--server', address]);
    expect(absent.code).toBe(1);
    expect(absent.stdout).toBe('');
    expect(absent.stderr).toBe('zpat clone get: /cfg/a is not set\n');
    expect(await clone(['get', '--all', '--server', address])).toMatchObject({ stdout: '/cfg/b=two\n/other=x\n' });
  });

  it('set --ttl: the server expires the key, and watchers see it deleted', async () => {
    const { address } = await startServer();
    const watcher = track(new CloneClient({ servers: [address], subtrees: ['/tmp/'] }));
    await watcher.start();
    const changes = watcher.watch('/tmp/');
    const first = changes.next(); // registers the watcher before the set
    expect(await clone(['set', '/tmp/k', 'v', '--ttl', '1', '--server', address])).toMatchObject({
      code: 0,
      stdout: '1\n',
    });
    expect((await first).value).toEqual({ key: '/tmp/k', value: Buffer.from('v'), sequence: 1n });
    const expired = await changes.next();
    expect(expired.value).toEqual({ key: '/tmp/k', value: undefined, sequence: 2n });
    await changes.return(undefined);
    expect(await clone(['get', '/tmp/k', '--server', address])).toMatchObject({ code: 1, stdout: '' });
  });

  it('watch prints changes from another writer (text and --json) and exits 0 on SIGTERM', async () => {
    const { server, address } = await startServer();
    const isReady = (line: LogLine): boolean => line.msg === 'ready';
    const text = track(
      await Daemon.start({
        bin: zpat(),
        args: ['clone', 'watch', '/w/', '--server', address, '--log-level', 'info'],
        isReady,
      }),
    );
    const json = track(
      await Daemon.start({
        bin: zpat(),
        args: ['clone', 'watch', '--json', '--server', address, '--log-level', 'info'],
        isReady,
      }),
    );
    expect(text.ready).toMatchObject({ prefix: '/w/', subtree: '/w/', sequence: 0 });

    const writer = track(new CloneClient({ servers: [address] }));
    await writer.start();
    const s1 = await writer.commit('/w/a', 'hello');
    const s2 = await writer.commit('/elsewhere', 'x');
    const s3 = await writer.commit('/w/a', '');
    expect([s1, s2, s3]).toEqual([1n, 2n, 3n]);
    expect(server.sequence).toBe(3n);

    await json.waitForLog((l) => l['sequence'] === 3, 10_000, true);
    const changes = json.logs.filter((l) => 'sequence' in l && !('msg' in l));
    expect(changes).toEqual([
      { sequence: 1, key: '/w/a', value: 'hello' },
      { sequence: 2, key: '/elsewhere', value: 'x' },
      { sequence: 3, key: '/w/a', value: null },
    ]);
    await eventually(() => text.text.includes('3 /w/a deleted'), { what: 'the text watcher to print the delete' });
    expect(text.text).toEqual(['1 /w/a=hello', '3 /w/a deleted']);

    expect(await text.stop()).toEqual({ code: 0, signal: null });
    expect(await json.stop()).toEqual({ code: 0, signal: null });
    expect(text.text).toEqual(['1 /w/a=hello', '3 /w/a deleted']);
  });

  it("watch logs the client's status changes on stderr: the server followed, then its silence", async () => {
    const { server, address } = await startServer();
    const watch = track(
      await Daemon.start({
        bin: zpat(),
        args: ['clone', 'watch', '--server', address, '--server-ttl-ms', '1000', '--log-level', 'info'],
        isReady: (line: LogLine): boolean => line.msg === 'ready',
      }),
    );
    const following = await watch.waitForLog((l) => l.msg === 'following a server', 10_000, true);
    expect(following).toMatchObject({ type: 'connected', peer: address });
    await server.close();
    const dead = await watch.waitForLog((l) => l.msg === 'disconnected', 10_000, true);
    expect(dead).toMatchObject({ level: 40, peer: address, reason: 'silent' });
    expect(dead['silentMs']).toBeGreaterThanOrEqual(1000);
    expect(await watch.stop()).toEqual({ code: 0, signal: null });
  });

  it('exits 1 with one line when no server answers within --timeout-ms, or nothing listens', async () => {
    // A ROUTER that takes the snapshot request and never answers it.
    await using hole = await rawRouter('tcp://127.0.0.1:*');
    for (const args of [
      ['set', '/k', 'v'],
      ['get', '/k'],
    ]) {
      const result = await clone([...args, '--server', hole.endpoint, '--timeout-ms', '300']);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toBe(
        `zpat clone ${args[0]}: no snapshot from ${hole.endpoint} within 300 ms (--timeout-ms)\n`,
      );
    }
    // Free ports that nobody binds: said as such.
    const base = await freePortRange(3);
    const refused = await clone(['get', '/k', '--server', `tcp://127.0.0.1:${base}`, '--timeout-ms', '300']);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe(
      `zpat clone get: nothing listens at tcp://127.0.0.1:${base} (connection refused within --timeout-ms 300): is a Clone server running there?\n`,
    );
  });

  it.each([
    [['get', '/k', '--server', 'localhost:5556'], /^zpat clone get: error: --server: expected an endpoint/],
    [['set', '/k', 'v', '--server', 'tcp://127.0.0.1:65534'], /--server: port 65534 leaves no room .*at most 65533/],
    [['watch', '--server', 'ipc:///tmp/clone'], /--server: a Clone server is tcp:\/\/HOST:P/],
    [
      ['get', '/k', '--server', 'tcp://a:1', '--server', 'tcp://b:1', '--server', 'tcp://c:1'],
      /one server, or the two of a pair/,
    ],
    [['get', '/k', '--all'], /give a KEY or --all, not both/],
    [['get', '/a/k', '--subtree', '/b/'], /outside --subtree/],
    [['set', '/k', ''], /use 'zpat clone del KEY'/],
    [['set', '/k', 'v', '--ttl', 'soon'], /ttl/],
    [['del'], /missing required argument 'key'/],
  ])('exits 2 with one line on bad usage: %j', async (args, message) => {
    const result = await clone(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });

  it('--help shows the default server', async () => {
    const help = await clone(['get', '--help']);
    expect(help.code).toBe(0);
    const text = help.stdout.replace(/\s+/g, ' '); // commander wraps long lines
    expect(text).toContain('(default: "tcp://127.0.0.1:5590"');
    expect(text).toContain(
      '--timeout-ms <ms> wait this long for the snapshot, and for the sequence of a set or del (default: 10000, env: ZPAT_TIMEOUT_MS)',
    );
  });
});
