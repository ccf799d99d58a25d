/**
 * Titanic's link to its broker in the log: one warning when the broker is lost and one line when
 * it is back, for the daemon as a whole, not one per internal MDP worker (each worker still says
 * it, at debug).
 *
 *   mdbroker ◀── proxy ◀── titanic (8 workers)
 *   black hole ─▶ 'broker lost, reconnecting' once ─▶ forward ─▶ 'broker back' once
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appBin, Daemon, startTcpProxy, type LogLine } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const dataDir = mkdtempSync(join(tmpdir(), 'titanic-broker-loss-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const says =
  (msg: string) =>
  (line: LogLine): boolean =>
    line.msg === msg;
/** pino's numeric levels. */
const DEBUG = 20;
const WARN = 40;

describe('titanic losing its broker', () => {
  it('logs one warning per loss and one line when the broker is back, not one per worker', async () => {
    await using broker = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '100'],
    });
    await using proxy = await startTcpProxy({ target: (broker.ready['endpoints'] as string[])[0] ?? '' });
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        ...['--broker', proxy.endpoint, '--data-dir', dataDir],
        ...['--request-workers', '4', '--reply-workers', '2', '--heartbeat-ms', '100'],
        // Debug shows the per-worker lines too, to check where they went.
        ...['--log-level', 'debug'],
      ],
    });
    const registered = await titanic.waitForLog(says('registered with the broker'), 10_000, true);
    expect(registered).toMatchObject({ level: 30, workers: 8 });

    proxy.blackhole();
    const lost = await titanic.waitForLog(says('broker lost, reconnecting'), 10_000, true);
    expect(lost).toMatchObject({ level: WARN, broker: proxy.endpoint, reason: 'silent' });
    // Every worker found the broker silent, each said so at debug only.
    await titanic.waitForLog(() => titanic.logs.filter(says('broker silent, reconnecting')).length >= 8, 10_000, true);
    proxy.forward();
    const back = await titanic.waitForLog(says('broker back'), 20_000, true);
    expect(back).toMatchObject({ level: 30, broker: proxy.endpoint, workers: 8 });

    expect(titanic.logs.filter(says('broker lost, reconnecting'))).toHaveLength(1);
    expect(titanic.logs.filter(says('broker back'))).toHaveLength(1);
    const perWorker = titanic.logs.filter(says('broker silent, reconnecting'));
    expect(perWorker.every((line) => line.level === DEBUG)).toBe(true);
    expect(await titanic.stop()).toEqual({ code: 0, signal: null });
  });
});
