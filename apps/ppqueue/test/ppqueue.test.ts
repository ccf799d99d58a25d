/**
 * ppqueue, zpat ppworker and zpat lpcall as real processes:
 *
 *   LazyPirateClient / raw REQ / zpat lpcall --> ppqueue (daemon) <-- zpat ppworker x N (daemons)
 *
 * Workers are SIGKILLed one by one while a client keeps requesting; the queue is SIGKILLed and
 * restarted while workers wait with backoff; and the book's own shape (lpclient's "1", "2", ...
 * through ppqueue to a PPP worker) is checked byte for byte.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ipcEndpoint, toError } from '@zpatterns/core';
import { LazyPirateClient } from '@zpatterns/pirate';
import { appBin, Daemon, eventually, rawRequest, runCli, type LogLine } from '@zpatterns/testkit';

const HB = ['--heartbeat-ms', '100', '--liveness', '3'];
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function startQueue(frontend = 'tcp://127.0.0.1:*', backend = 'tcp://127.0.0.1:*'): Promise<Daemon> {
  const queue = await Daemon.start({
    bin: appBin('ppqueue'),
    args: ['--frontend', frontend, '--backend', backend, ...HB],
  });
  cleanup.push(() => queue.stop());
  return queue;
}

function endpoints(queue: Daemon): { frontend: string; backend: string } {
  return { frontend: queue.ready['frontend'] as string, backend: queue.ready['backend'] as string };
}

async function startWorker(backend: string, extra: string[] = []): Promise<Daemon> {
  const worker = await Daemon.start({
    bin: appBin('zpat'),
    args: [
      'ppworker',
      '--queue',
      backend,
      ...HB,
      '--reconnect-initial-ms',
      '100',
      '--reconnect-max-ms',
      '400',
      ...extra,
    ],
  });
  cleanup.push(() => worker.stop());
  return worker;
}

const workerJoined = (line: LogLine): boolean => line.msg === 'worker ready';
const workerGone = (line: LogLine): boolean =>
  line.msg === 'worker expired' || line.msg === 'worker unreachable, forgotten';

describe('ppqueue and zpat ppworker/lpcall (processes)', () => {
  it("the book's interop shape: lpclient's sequence frames through ppqueue to a PPP worker, byte for byte", async () => {
    const queue = await startQueue();
    const { frontend, backend } = endpoints(queue);
    await startWorker(backend);
    await queue.waitForLog(workerJoined, 5000, true);
    const req = rawRequest(frontend);
    cleanup.push(() => req.close());
    for (let sequence = 1; sequence <= 5; sequence++) {
      await req.send([String(sequence)]);
      const reply = await req.receive(2000);
      expect(reply.map((f) => f.toString('hex'))).toEqual([Buffer.from(String(sequence)).toString('hex')]);
    }
    const lpcall = await runCli(appBin('zpat'), ['lpcall', '--server', frontend, 'hello', 'world']);
    expect(lpcall).toMatchObject({ code: 0, stdout: 'hello\nworld\n' });
    const checked = await runCli(appBin('zpat'), ['lpcall', '--server', frontend, '--sequence-check', 'x']);
    expect(checked).toMatchObject({ code: 0, stdout: 'x\n' });
  }, 30_000);

  it('kill -9 workers one by one while a client keeps requesting: the queue forgets each within the expiry, and every request succeeds', async () => {
    const queue = await startQueue();
    const { frontend, backend } = endpoints(queue);
    const workers = await Promise.all([1, 2, 3].map(() => startWorker(backend, ['--work-ms', '10'])));
    await queue.waitForLog(() => queue.logs.filter(workerJoined).length === 3, 5000, true);

    const client = await LazyPirateClient.start({ servers: frontend, attemptTimeoutMs: 400, retries: 10 });
    cleanup.push(() => client.close());
    let running = true;
    let served = 0;
    const failures: unknown[] = [];
    const load = (async () => {
      while (running) {
        const n = String(served);
        try {
          const reply = await client.request([n]);
          if (reply[0]?.toString() !== n) failures.push(new Error(`wrong reply ${reply[0]?.toString()} for ${n}`));
          served++;
        } catch (err) {
          failures.push(err);
          return;
        }
      }
    })();

    for (const victim of workers.slice(0, 2)) {
      const before = served;
      await eventually(() => served >= before + 5 || failures.length > 0, { timeoutMs: 5000 });
      const gone = queue.waitForLog(workerGone, 3000);
      const killedAt = Date.now();
      await victim.kill('SIGKILL');
      await gone;
      // Expiry is 3 x 100 ms; heartbeat ticks every 100 ms; allow scheduling slack.
      expect(Date.now() - killedAt).toBeLessThan(3 * 100 + 100 + 400);
    }
    // The request that was on the last victim (if any) is recovered by the client's retry.
    const servedAtGone = served;
    await eventually(() => served >= servedAtGone + 2 || failures.length > 0, { timeoutMs: 5000 });
    // One worker left: requests keep succeeding, without a single resend from now on.
    const resendsBefore = client.stats.retries;
    const servedBefore = served;
    await new Promise<void>((resolve, reject) => {
      const check = setInterval(() => {
        if (failures.length > 0) reject(toError(failures[0]));
        if (served >= servedBefore + 20) resolve();
      }, 10);
      cleanup.push(async () => clearInterval(check));
    });
    running = false;
    await load;
    expect(failures).toEqual([]);
    expect(client.stats.retries).toBe(resendsBefore);
    expect(client.stats.timeouts).toBe(0);
  }, 40_000);

  it('restart the queue: workers detect it, back off (100, 200, ... ms), reconnect and re-register', async () => {
    const frontend = ipcEndpoint('ppq-fe');
    const backend = ipcEndpoint('ppq-be');
    const queue = await startQueue(frontend, backend);
    const workers = await Promise.all([1, 2].map(() => startWorker(backend)));
    await queue.waitForLog(() => queue.logs.filter(workerJoined).length === 2, 5000, true);

    await queue.kill('SIGKILL');
    // Each worker goes through at least two backoff rounds while the queue is down.
    for (const worker of workers) {
      await worker.waitForLog((l) => l.msg === 'reconnect scheduled' && l['attempt'] === 2, 5000, true);
      const delays = worker.logs.filter((l) => l.msg === 'reconnect scheduled').map((l) => l['delayMs']);
      expect(delays.slice(0, 2)).toEqual([100, 200]);
    }
    const joinedBefore = queue.logs.filter(workerJoined).length;
    await queue.restart();
    const restartedAt = Date.now();
    await queue.waitForLog(() => queue.logs.filter(workerJoined).length >= joinedBefore + 2, 5000, true);
    // Each worker is back for good: its latest event is the new queue answering ('connected'), and
    // it has not lost the queue since for longer than the expiry (it hears its heartbeats).
    for (const worker of workers) {
      await eventually(
        () => {
          const last = worker.logs.filter((l) => l.msg === 'connected' || l.msg === 'reconnect scheduled').at(-1);
          return last?.msg === 'connected' && Date.now() - Math.max(last['time'] as number, restartedAt) > 600;
        },
        { timeoutMs: 8000, what: 'worker re-registered' },
      );
      // The first socket, plus a new socket (and a new READY) after each backoff round.
      expect(worker.logs.filter((l) => l.msg === 'READY sent').length).toBeGreaterThanOrEqual(3);
    }
    const client = await LazyPirateClient.start({ servers: frontend, attemptTimeoutMs: 1000 });
    cleanup.push(() => client.close());
    expect((await client.request(['after-restart']))[0]?.toString()).toBe('after-restart');
  }, 40_000);

  it('zpat lpcall keeps retrying while the queue is down and succeeds once it and a worker come up', async () => {
    const frontend = ipcEndpoint('ppq-late-fe');
    const backend = ipcEndpoint('ppq-late-be');
    const call = runCli(appBin('zpat'), [
      'lpcall',
      '--server',
      frontend,
      '--attempt-timeout-ms',
      '300',
      '--retries',
      '19',
      'late',
    ]);
    await new Promise((r) => setTimeout(r, 400)); // at least one attempt into the void
    await startQueue(frontend, backend);
    await startWorker(backend);
    expect(await call).toMatchObject({ code: 0, stdout: 'late\n' });
  }, 30_000);

  it('--simple runs the Simple Pirate queue and worker (no heartbeats) end to end', async () => {
    const queue = await Daemon.start({
      bin: appBin('ppqueue'),
      args: ['--simple', '--frontend', 'tcp://127.0.0.1:*', '--backend', 'tcp://127.0.0.1:*'],
    });
    cleanup.push(() => queue.stop());
    expect(queue.ready['mode']).toBe('simple');
    const worker = await startWorker(endpoints(queue).backend, ['--simple']);
    expect(worker.ready['mode']).toBe('simple');
    await queue.waitForLog(workerJoined, 5000, true);
    const call = await runCli(appBin('zpat'), ['lpcall', '--server', endpoints(queue).frontend, 'simple', 'pirate']);
    expect(call).toMatchObject({ code: 0, stdout: 'simple\npirate\n' });
  }, 30_000);

  it('ppqueue and zpat ppworker shut down cleanly on SIGTERM (exit 0, "stopped" logged)', async () => {
    const queue = await startQueue();
    const worker = await startWorker(endpoints(queue).backend);
    expect(worker.ready['mode']).toBe('paranoid');
    expect(await worker.stop()).toEqual({ code: 0, signal: null });
    expect(await queue.stop()).toEqual({ code: 0, signal: null });
    expect(queue.logs.some((l) => l.msg === 'stopped')).toBe(true);
    // One end-of-run line, as the daemons log it: 'stopped' with the worker's counters.
    const stopped = worker.logs.filter((l) => l.msg === 'stopped');
    expect(stopped).toHaveLength(1);
    expect(typeof stopped[0]?.['stats']).toBe('object');
    expect(worker.logs.some((l) => l.msg === 'final stats')).toBe(false);
  }, 30_000);

  it('zpat lpcall exits 1 with one line when nothing answers, 2 on bad flags; ppqueue exits 2 on bad flags', async () => {
    const dead = ipcEndpoint('nobody');
    const noAnswer = await runCli(appBin('zpat'), [
      'lpcall',
      '--server',
      dead,
      '--attempt-timeout-ms',
      '50',
      '--retries',
      '1',
      'x',
    ]);
    expect(noAnswer.code).toBe(1);
    expect(noAnswer.stdout).toBe('');
    expect(noAnswer.stderr.trim().split('\n')).toHaveLength(1);
    expect(noAnswer.stderr).toMatch(
      /^zpat lpcall: nothing listens at ipc:.* \(connection refused after 2 attempts of 50 ms\)/,
    );
    // --timeout-ms bounds the whole call, whatever the attempts would have taken.
    const bounded = await runCli(appBin('zpat'), [
      'lpcall',
      '--server',
      dead,
      '--attempt-timeout-ms',
      '60000',
      '--timeout-ms',
      '100',
      'x',
    ]);
    expect(bounded.code).toBe(1);
    expect(bounded.stderr).toMatch(/connection refused within --timeout-ms 100 \(1 attempt\)/);
    expect((await runCli(appBin('zpat'), ['lpcall', 'x'])).code).toBe(2);
    expect((await runCli(appBin('zpat'), ['lpcall', '--server', 'nonsense', 'x'])).code).toBe(2);
    expect((await runCli(appBin('zpat'), ['ppworker', '--liveness', '0'])).code).toBe(2);
    const badQueue = await runCli(appBin('ppqueue'), ['--heartbeat-ms', 'soon']);
    expect(badQueue.code).toBe(2);
    expect(badQueue.stderr.trim().split('\n')).toHaveLength(1);
  }, 30_000);
});
