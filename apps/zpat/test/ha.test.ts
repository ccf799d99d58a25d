/**
 * `zpat call` as an HA client: an `mdbroker --ha` pair, one `zpat worker echo` registered with
 * both brokers, and `zpat call --broker PRIMARY --broker BACKUP` before, across (its request in
 * the worker's hands) and after a SIGKILL of the active broker. All real processes.
 *
 *   zpat call --broker P --broker B ──> P (ACTIVE)  <── zpat worker echo --broker P,B
 *                                  └──> B (PASSIVE)  <──┘
 *   kill -9 P: the call's attempt on P times out, it fails over to B (its request is B's vote)
 */
import { appBin, Daemon, ipcEndpoint, runCli, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const HEARTBEAT_MS = 100;

const isState = (to: string) => (line: Record<string, unknown>) =>
  line['msg'] === 'binary star state' && line['to'] === to;

describe('zpat call across a SIGKILL of the active broker of an HA pair', { timeout: 120_000 }, () => {
  const { track } = useDisposables();

  it('is answered before, across and after the kill, with both brokers named', async () => {
    const endpoints = { primary: ipcEndpoint('zpat-ha-p'), backup: ipcEndpoint('zpat-ha-b') };
    const state = { primary: ipcEndpoint('zpat-ha-ps'), backup: ipcEndpoint('zpat-ha-bs') };
    const broker = async (role: 'primary' | 'backup', other: 'primary' | 'backup'): Promise<Daemon> =>
      track(
        await Daemon.start({
          bin: appBin('mdbroker'),
          args: [
            ...['--bind', endpoints[role], '--ha', role],
            ...['--state-bind', state[role], '--state-connect', state[other]],
            ...['--ha-heartbeat-ms', String(HEARTBEAT_MS), '--heartbeat-ms', String(HEARTBEAT_MS)],
          ],
        }),
      );
    const [primary, backup] = await Promise.all([broker('primary', 'backup'), broker('backup', 'primary')]);
    await Promise.all([
      primary.waitForLog(isState('active'), 10_000, true),
      backup.waitForLog(isState('passive'), 10_000, true),
    ]);
    const brokers = ['--broker', endpoints.primary, '--broker', endpoints.backup];
    // One worker process, one session per broker (as docs/bstar.md asks of HA workers); each
    // request takes 1 s, so one can be in hand when the active broker dies.
    const worker = track(
      await Daemon.start({
        bin: appBin('zpat'),
        args: [
          ...['worker', 'echo', '--broker', `${endpoints.primary},${endpoints.backup}`],
          ...['--heartbeat-ms', '100', '--work-ms', '1000', '--log-level', 'debug'],
        ],
      }),
    );
    expect(worker.ready).toMatchObject({ brokers: [endpoints.primary, endpoints.backup], service: 'echo' });

    const call = (text: string) =>
      runCli(appBin('zpat'), ['call', 'echo', text, ...brokers, '--attempt-timeout-ms', '1500']);
    expect(await call('before')).toMatchObject({ code: 0, stdout: 'before\n', stderr: '' });

    // A call in flight: its request is in the worker's hands through the primary when it dies.
    const inHand = worker.waitForLog((l) => l.msg === 'request' && l['broker'] === endpoints.primary, 20_000);
    const during = call('during');
    await inHand;
    await primary.kill('SIGKILL');
    // The attempt on the dead primary times out; the resend goes to the backup, which has seen
    // its peer silent and takes the request as its vote.
    expect(await during).toMatchObject({ code: 0, stdout: 'during\n', stderr: '' });
    const active = await backup.waitForLog(isState('active'), 10_000, true);
    expect(active['reason']).toBe('failover successful, ready as active');
    // And a fresh call, now that the backup is the active one.
    expect(await call('after')).toMatchObject({ code: 0, stdout: 'after\n', stderr: '' });
  });
});
