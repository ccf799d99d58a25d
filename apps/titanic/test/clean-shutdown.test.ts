/**
 * Every daemon stops on SIGTERM with nothing on stderr, in particular without zeromq.js's
 * "Waiting for queued ZeroMQ messages to be delivered" (printed when a socket's linger holds the
 * process exit for more than 500 ms). The hard case is Titanic after its broker went away: its 48
 * workers are reconnecting, each with READY and DISCONNECT queued for a broker that is not there.
 *
 *   mdbroker ──SIGTERM──▶ exits, DISCONNECT to every worker
 *   titanic  ──workers reconnect to nothing──▶ SIGTERM ──▶ exits at once, stderr empty
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appBin, Daemon } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-shutdown-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** What the process wrote that is not a JSON log line (pino writes only JSON lines). */
function stray(daemon: Daemon): string[] {
  return daemon.text;
}

describe('SIGTERM leaves stderr clean', () => {
  it('ppqueue', async () => {
    const queue = await Daemon.start({
      bin: appBin('ppqueue'),
      args: ['--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*'],
    });
    expect(await queue.stop()).toEqual({ code: 0, signal: null });
    expect(stray(queue)).toEqual([]);
  });

  it('mdbroker, then titanic reconnecting to the broker that is gone', async () => {
    const broker = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200'],
    });
    const endpoint = (broker.ready['endpoints'] as string[])[0] ?? '';
    const titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--broker',
        endpoint,
        '--data-dir',
        dataDir,
        '--request-workers',
        '4',
        '--reply-workers',
        '2',
        '--heartbeat-ms',
        '200',
      ],
    });
    try {
      // Registered first: a loss is reported for a link that was up.
      await titanic.waitForLog((line) => line.msg === 'registered with the broker', 20_000, true);
      // Told by the broker's DISCONNECT, or (if a loaded machine lost it) by its silence.
      const told = titanic.waitForLog((line) => line.msg === 'broker lost, reconnecting', 20_000);
      expect(await broker.stop()).toEqual({ code: 0, signal: null });
      expect(stray(broker)).toEqual([]);
      await told;
      expect(await titanic.stop()).toEqual({ code: 0, signal: null });
      expect(stray(titanic)).toEqual([]);
    } finally {
      await titanic.stop();
      await broker.stop();
    }
  });
});
