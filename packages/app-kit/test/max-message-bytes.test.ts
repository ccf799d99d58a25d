/**
 * `--max-message-bytes` on every daemon, as real processes: a plain peer sending one 100 MB frame
 * to any socket that accepts peers has its connection dropped by libzmq before the frame is read,
 * the daemon's RSS barely moves, and it answers a normal request afterwards.
 *
 *   plain DEALER / PUB / SUB ──[ 100 MB frame ]──▶ daemon socket    ✗ connection dropped
 *   raw peer ──normal request──▶ daemon ──▶ answer                  ✓
 */
import {
  appBin,
  rssBytes,
  runCli,
  sendAndExpectDrop,
  startTarget,
  type DaemonName,
  type Target,
} from '@zpatterns/testkit';
import { afterEach, describe, expect, it } from 'vitest';

const MB = 1024 * 1024;
const running: Target[] = [];
afterEach(async () => {
  for (const t of running.splice(0)) await t.daemon[Symbol.asyncDispose]();
});

const daemons: DaemonName[] = ['mdbroker', 'ppqueue', 'flserver', 'bstarsrv', 'clonesrv'];

describe('--max-message-bytes', () => {
  it.each(daemons)(
    '%s: a 100 MB frame on each peer socket drops that connection, RSS grows < 8 MB, still serving',
    async (name) => {
      const target = await startTarget(name);
      running.push(target);
      const pid = target.daemon.pid ?? 0;
      await target.probe(); // warm-up: the serving path has allocated what it needs
      const before = rssBytes(pid);
      const huge = Buffer.alloc(100 * 1000 * 1000, 0x61);
      for (const socket of target.sockets) {
        await sendAndExpectDrop(socket.endpoint, [huge], { type: socket.peer });
      }
      await target.probe();
      const grown = rssBytes(pid) - before;
      expect(grown, `${name} RSS grew by ${(grown / MB).toFixed(1)} MB`).toBeLessThan(8 * MB);
      expect(target.daemon.running).toBe(true);
    },
    120_000,
  );

  it('a frame under the limit is served; the same with a lower limit drops the connection', async () => {
    const target = await startTarget('mdbroker', ['--max-message-bytes', '1000']);
    running.push(target);
    await sendAndExpectDrop(target.sockets[0]?.endpoint ?? '', [Buffer.alloc(2000)]);
    await target.probe();
  });

  it('rejects a bad value with one line and exit 2', async () => {
    const result = await runCli(appBin('ppqueue'), ['--max-message-bytes', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/--max-message-bytes/);
  });
});
