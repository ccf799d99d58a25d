/**
 * `zpat call`, `zpat services` and `zpat worker echo` as real processes (the built app), against
 * an in-process Broker: exit codes 0/1/2 and output.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appBin, Daemon, eventually, runCli } from '@zpatterns/testkit';
import { Broker, MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const zpat = (): string => appBin('zpat');

async function brokerWithEchoWorker(mdp = '0.1'): Promise<{ endpoint: string; worker: Daemon }> {
  const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 100 }));
  const endpoint = broker.endpoints.clients[0] as string;
  const worker = track(
    await Daemon.start({
      bin: zpat(),
      args: ['worker', 'echo', '--broker', endpoint, '--heartbeat-ms', '100', '--mdp', mdp],
    }),
  );
  return { endpoint, worker };
}

describe('zpat majordomo commands', () => {
  it('call prints the reply frames one per line (MDP/0.1 and 0.2), services lists workers', async () => {
    const { endpoint, worker } = await brokerWithEchoWorker();
    expect(worker.ready).toMatchObject({ msg: 'ready', service: 'echo', brokers: [endpoint], mdp: '0.1' });
    const call = await runCli(zpat(), ['call', 'echo', 'Hello', 'world', '--broker', endpoint, '--timeout-ms', '3000']);
    expect(call).toMatchObject({ code: 0, stdout: 'Hello\nworld\n' });
    const v2 = track(
      await Daemon.start({
        bin: zpat(),
        args: ['worker', 'echo', '--broker', endpoint, '--heartbeat-ms', '100', '--mdp', '0.2', '--service', 'echo2'],
      }),
    );
    expect(v2.ready).toMatchObject({ service: 'echo2', mdp: '0.2' });
    const call2 = await runCli(zpat(), [
      'call',
      'echo2',
      'x',
      '--broker',
      endpoint,
      '--mdp',
      '0.2',
      '--timeout-ms',
      '3000',
    ]);
    expect(call2).toMatchObject({ code: 0, stdout: 'x\n' });
    const listed = await runCli(zpat(), ['services', '--broker', endpoint]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^SERVICE\s+WORKERS\n/);
    expect(listed.stdout).toMatch(/^echo\s+1$/m);
    expect(listed.stdout).toMatch(/^echo2\s+1$/m);
  });

  it('worker echo stops cleanly on SIGTERM and sends DISCONNECT (the broker forgets it)', async () => {
    const { endpoint, worker } = await brokerWithEchoWorker();
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 0 }));
    await eventually(async () => (await client.serviceStatus('echo')) === '200');
    const status = await worker.stop();
    expect(status.code).toBe(0);
    // One end-of-run line, as the daemons log it: 'stopped' with the worker's counters.
    const stopped = worker.logs.filter((line) => line.msg === 'stopped');
    expect(stopped).toHaveLength(1);
    expect(typeof (stopped[0]?.['stats'] as Record<string, unknown> | undefined)?.['sessions']).toBe('number');
    expect(worker.logs.some((line) => line.msg === 'final stats')).toBe(false);
    expect(await client.serviceStatus('echo')).toBe('404');
  });

  it('exits 1 with one line on stderr naming the flags when the service does not answer', async () => {
    const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 100 }));
    const endpoint = broker.endpoints.clients[0] as string;
    // A worker that takes requests and answers none until the test ends (then it may close).
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const silent = track(
      new MajordomoWorker({
        broker: endpoint,
        service: 'silent',
        heartbeatIntervalMs: 100,
        handler: async () => {
          await held;
          return [];
        },
      }),
    );
    track({ [Symbol.asyncDispose]: async () => release() });
    await silent.start();
    const probe = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 0 }));
    await eventually(async () => (await probe.serviceStatus('silent')) === '200');
    const result = await runCli(zpat(), [
      'call',
      'silent',
      'x',
      '--broker',
      endpoint,
      '--attempt-timeout-ms',
      '100',
      '--retries',
      '1',
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `zpat call: no reply from 'silent' after 2 attempts of 100 ms at ${endpoint} (raise --attempt-timeout-ms or --retries)\n`,
    );
    // --timeout-ms bounds the whole call, however many attempts are left.
    const bounded = await runCli(zpat(), [
      'call',
      'silent',
      'x',
      '--broker',
      endpoint,
      '--attempt-timeout-ms',
      '100',
      '--retries',
      '50',
      '--timeout-ms',
      '250',
    ]);
    expect(bounded.code).toBe(1);
    expect(bounded.stderr).toMatch(
      /^zpat call: no reply from 'silent' within --timeout-ms 250 \(\d attempts?\) at tcp:.* \(raise --timeout-ms\)\n$/,
    );
  });

  it.each([
    [['call'], /missing required argument 'service'/],
    [['call', 'echo', '--broker', 'localhost:5555'], /^zpat call: error: --broker: expected an endpoint/],
    [['call', 'echo', '--mdp', '0.3'], /^zpat call: error: --mdp: '0\.3' is not one of 0\.1, 0\.2/],
    [['call', 'echo', '--timeout-ms', '0'], /^zpat call: error: --timeout-ms: 0 is out of range/],
    [['call', 'echo', '--attempt-timeout-ms', '0'], /^zpat call: error: --attempt-timeout-ms: /],
    [['services', '--retries', '-1'], /^zpat services: error: --retries: /],
    [['worker', 'echo', '--heartbeat-ms', 'fast'], /^zpat worker echo: error: --heartbeat-ms: /],
    [['worker', 'echo', '--bogus'], /^zpat worker echo: error: unknown option '--bogus'/],
  ])('exits 2 with one line on bad usage: %j', async (args, message) => {
    const result = await runCli(zpat(), args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});
