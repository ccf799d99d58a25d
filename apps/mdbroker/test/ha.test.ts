/**
 * An HA Majordomo pair: two `mdbroker --ha` processes on Binary Star, echo workers registered with
 * both, a client that knows both. Kill -9 the active broker mid-run: every request is answered.
 *
 *   client ({ brokers: [primary, backup] }) ──> primary (ACTIVE)  <── workers (one session per broker)
 *                                          └──> backup (PASSIVE: drops clients, keeps workers)
 *   primary state PUB <──> backup state PUB (Binary Star, 100 ms)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TimeoutError } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, ipcEndpoint } from '@zpatterns/testkit';

const HEARTBEAT_MS = 100;
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const isState = (to: string) => (line: Record<string, unknown>) =>
  line['msg'] === 'binary star state' && line['to'] === to;

async function broker(
  role: 'primary' | 'backup',
  bind: string,
  stateBind: string,
  stateConnect: string,
): Promise<Daemon> {
  return track(
    await Daemon.start({
      bin: appBin('mdbroker'),
      args: [
        '--bind',
        bind,
        '--ha',
        role,
        '--state-bind',
        stateBind,
        '--state-connect',
        stateConnect,
        '--ha-heartbeat-ms',
        String(HEARTBEAT_MS),
        '--heartbeat-ms',
        String(HEARTBEAT_MS),
        '--idempotent',
        'echo',
      ],
    }),
  );
}

async function haPair() {
  const endpoints = { primary: ipcEndpoint('mdha-p'), backup: ipcEndpoint('mdha-b') };
  const state = { primary: ipcEndpoint('mdha-ps'), backup: ipcEndpoint('mdha-bs') };
  const [primary, backup] = await Promise.all([
    broker('primary', endpoints.primary, state.primary, state.backup),
    broker('backup', endpoints.backup, state.backup, state.primary),
  ]);
  await Promise.all([
    primary.waitForLog(isState('active'), 10_000, true),
    backup.waitForLog(isState('passive'), 10_000, true),
  ]);
  // Workers register with both brokers: one session per broker, same handler.
  for (const endpoint of [endpoints.primary, endpoints.backup]) {
    for (let i = 0; i < 3; i++) {
      const worker = track(
        new MajordomoWorker({
          broker: endpoint,
          service: 'echo',
          heartbeatIntervalMs: HEARTBEAT_MS,
          handler: (body) => body,
        }),
      );
      await worker.start();
    }
  }
  return { primary, backup, endpoints };
}

describe('mdbroker --ha', () => {
  it('rejects --ha without its state endpoints (exit 2)', async () => {
    const { runCli } = await import('@zpatterns/testkit');
    const result = await runCli(appBin('mdbroker'), ['--ha', 'primary']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--ha needs --state-bind and --state-connect');
  });

  it('only the active broker serves; kill -9 it mid-run and all 1,000 requests are answered', async () => {
    const { primary, backup, endpoints } = await haPair();

    // The passive broker drops client requests without a reply.
    await using passiveOnly = await MajordomoClient.start({
      broker: endpoints.backup,
      attemptTimeoutMs: 300,
      retries: 0,
    });
    await expect(passiveOnly.request('echo', 'anyone?')).rejects.toBeInstanceOf(TimeoutError);

    const client = track(
      await MajordomoClient.start({
        brokers: [endpoints.primary, endpoints.backup],
        attemptTimeoutMs: 500,
        retries: 20,
        failoverDelayMs: 2 * HEARTBEAT_MS,
      }),
    );
    const total = 1000;
    let next = 0;
    let answered = 0;
    let killed: Promise<unknown> | undefined;
    const runner = async (): Promise<void> => {
      while (next < total) {
        const i = next++;
        const reply = await client.request('echo', `request ${i}`);
        expect(reply.map(String)).toEqual([`request ${i}`]);
        if (++answered === 300) killed = primary.kill('SIGKILL');
      }
    };
    await Promise.all(Array.from({ length: 10 }, runner));
    await killed;
    expect(answered).toBe(total);
    expect(client.broker).toBe(endpoints.backup);
    const line = await backup.waitForLog(isState('active'), 10_000, true);
    expect(line['reason']).toBe('failover successful, ready as active');
  });
});
