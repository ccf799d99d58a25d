/**
 * A clonesrv pair under CURVE, as processes. Both servers share one key pair; the allow-list holds
 * only alice, yet the passive follows the active over CURVE (a pair admits its own key).
 *
 *   alice    ══CURVE══▶ primary P..P+2 (active) ══CURVE══▶ backup (passive, follows P+1, asks P)
 *   stranger ──✗ (no snapshot, start() aborted)
 */
import { CloneClient } from '@zpatterns/clone';
import {
  appBin,
  curveFixture,
  Daemon,
  freePortRange,
  ipcEndpoint,
  useDisposables,
  type LogLine,
} from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track } = useDisposables();

describe('clonesrv with CURVE', () => {
  it('a pair serves an allowed client, replicates over CURVE, refuses an unknown key', async () => {
    const keys = curveFixture(['server', 'alice', 'stranger'], ['alice']);
    const p = await freePortRange(3);
    let q = await freePortRange(3);
    while (Math.abs(p - q) < 3) q = await freePortRange(3);
    const [pState, bState] = [ipcEndpoint('clone-curve-p'), ipcEndpoint('clone-curve-b')];
    const start = async (role: 'primary' | 'backup', port: number, peer: number, local: string, remote: string) => {
      const d = await Daemon.start({
        bin: appBin('clonesrv'),
        args: ['--ha', role, '--port', String(port), '--peer-port', String(peer)].concat(
          ['--state-bind', local, '--state-connect', remote, '--ha-heartbeat-ms', '500', '--hugz-ms', '100'],
          ['--peer-ttl-ms', '2000', '--curve-secret-key-file', keys.peers['server']?.keyFile ?? ''],
          ['--allow-keys', keys.allowDir],
        ),
      });
      return track(d);
    };
    const primary = await start('primary', p, q, pState, bState);
    const backup = await start('backup', q, p, bState, pState);
    expect(primary.ready).toMatchObject({ curve: true });
    const says = (msg: string) => (l: LogLine) => l.msg === msg;
    await primary.waitForLog(says('clone server active'), 10_000, true);
    await backup.waitForLog(says('clone server passive, following the active'), 10_000, true);

    const client = (name: string) => {
      const c = new CloneClient({
        servers: [`tcp://127.0.0.1:${p}`, `tcp://127.0.0.1:${q}`],
        peerTtlMs: 2000,
        security: keys.client(name, 'server'),
      });
      return track(c);
    };
    const alice = client('alice');
    await alice.start();
    for (let i = 0; i < 20; i += 1) await alice.commit(`/secret/${i}`, `s${i}`);

    const stranger = client('stranger');
    await expect(stranger.start({ signal: AbortSignal.timeout(1500) })).rejects.toMatchObject({ code: 'ERR_ABORTED' });
    const denied = (l: LogLine): boolean =>
      l.msg === 'connection denied' && l['publicKey'] === keys.peers['stranger']?.publicKey;
    await primary.waitForLog(denied, 10_000, true);

    // The backup got everything over its CURVE link: after the primary dies, alice's snapshot from
    // the backup still holds all 20 keys, and she can write.
    await primary.kill('SIGKILL');
    const seq = await alice.commit('/after', 'failover');
    expect(alice.currentServer).toBe(1);
    expect(seq).toBeGreaterThan(20n);
    expect(alice.entries().filter(([k]) => k.startsWith('/secret/'))).toHaveLength(20);
  }, 60_000);
});
