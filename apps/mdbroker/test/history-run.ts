/**
 * A seeded nemesis run of the Majordomo broker on real processes, recorded as a History and
 * checked against the delivery guarantees of docs/majordomo.md (`checkMajordomo`). Shared by the
 * short run in `npm test` (history.test.ts) and the long one of `npm run chaos`
 * (history.chaos.test.ts).
 *
 *   clients (this process) ──> proxy C ──> mdbroker (process, --idempotent echo) <── proxy W <── workers (this process)
 *
 * Two services: `echo` is idempotent (the broker requeues a request whose worker died; clients
 * retry), `pay` is not (clients send once, `retries: 0`). Faults, one at a time: SIGKILL + restart
 * and SIGSTOP of the broker, partition of the clients' link and of the workers' link (both ways,
 * and broker-to-workers only). Workers take 10-60 ms per request, so faults catch requests in
 * their hands, and record every run with a reply unique to the run.
 */
import { constantBackoff, sleep } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import {
  appBin,
  assertHistory,
  checkMajordomo,
  Daemon,
  History,
  killFault,
  nemesisSchedule,
  partitionFault,
  pauseFault,
  runNemesis,
  seededRandom,
  startTcpProxy,
  type CheckResult,
  type Fault,
} from '@zpatterns/testkit';

const HEARTBEAT_MS = 100;
const ATTEMPT_TIMEOUT_MS = 500;
const RETRIES = 3;
/**
 * How long after a heal the system may still be recovering: workers notice the broker is back
 * (liveness x heartbeat) and register again (their backoff), plus one client attempt. The quiet
 * gap between faults is longer, so a request sent in the middle of a gap must be answered.
 */
export const HEAL_MS = 1500;

export const MAJORDOMO_FAULTS = [
  'kill broker',
  'partition worker link',
  'partition client link',
  'pause broker',
  'lose requests to workers',
] as const;

export interface MajordomoRunOptions {
  seed: number;
  durationMs: number;
  first?: readonly string[];
}

function brokerArgs(bind: string): string[] {
  return [
    ...['--bind', bind, '--heartbeat-ms', String(HEARTBEAT_MS), '--idempotent', 'echo'],
    ...['--request-ttl-ms', '5000', '--log-level', 'info'],
  ];
}

export async function runMajordomoHistory(
  options: MajordomoRunOptions,
): Promise<{ result: CheckResult; history: History }> {
  const history = new History({ seed: options.seed, name: 'majordomo' });
  const random = seededRandom(options.seed);
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    const broker = await Daemon.start({ bin: appBin('mdbroker'), args: brokerArgs('tcp://127.0.0.1:*') });
    cleanup.push(() => broker.stop());
    const endpoint = (broker.ready['endpoints'] as string[])[0] as string;
    broker.options.args = brokerArgs(endpoint); // restarts bind the same port
    const clientLink = await startTcpProxy({ target: endpoint });
    const workerLink = await startTcpProxy({ target: endpoint });
    cleanup.push(
      () => clientLink.close(),
      () => workerLink.close(),
    );

    const runs = new Map<string, number>();
    const worker = (name: string, service: string) =>
      new MajordomoWorker({
        broker: workerLink.endpoint,
        service,
        heartbeatIntervalMs: HEARTBEAT_MS,
        reconnectDelay: constantBackoff(100),
        handler: async (body) => {
          const request = body[0]?.toString() ?? '';
          const n = (runs.get(request) ?? 0) + 1;
          runs.set(request, n);
          const op = history.invoke(name, 'execute', { value: request, service });
          await sleep(10 + Math.floor(random() * 50)); // the work: faults can catch it in hand
          const reply = `${request}#${name}#${n}`;
          op.ok({ reply });
          return [Buffer.from(reply)];
        },
      });
    const workers = [
      worker('echo-1', 'echo'),
      worker('echo-2', 'echo'),
      worker('pay-1', 'pay'),
      worker('pay-2', 'pay'),
    ];
    await Promise.all(workers.map((w) => w.start()));
    cleanup.push(() => Promise.all(workers.map((w) => w.close())));
    const client = await MajordomoClient.start({ broker: clientLink.endpoint, attemptTimeoutMs: ATTEMPT_TIMEOUT_MS });
    cleanup.push(() => client.close());

    const faults: Fault[] = [
      killFault('kill broker', broker, { durationMs: [300, 1000] }),
      partitionFault('partition worker link', [workerLink]),
      partitionFault('partition client link', [clientLink]),
      pauseFault('pause broker', broker),
      partitionFault('lose requests to workers', [workerLink], { direction: 'down' }),
    ];
    const schedule = nemesisSchedule(random, faults, {
      totalMs: options.durationMs,
      faultMs: [700, 1500],
      gapMs: [HEAL_MS + 1500, HEAL_MS + 2000],
      ...(options.first !== undefined && { first: options.first }),
    });

    const stop = new AbortController();
    let counter = 0;
    const requester = async (name: string, service: 'echo' | 'pay'): Promise<void> => {
      while (!stop.signal.aborted) {
        const body = `${name}-r${counter++}`;
        const op = history.invoke(name, 'request', { value: body, service });
        try {
          // Only an idempotent service may be retried (docs/majordomo.md).
          const reply = await client.request(service, [body], { retries: service === 'echo' ? RETRIES : 0 });
          op.ok({ reply: reply.map((f) => f.toString()).join('|') });
        } catch (err) {
          op.fail({ error: String(err) });
        }
        await sleep(10 + Math.floor(random() * 20)); // pacing, not synchronisation
      }
    };
    const load = Promise.all([
      requester('client-1', 'echo'),
      requester('client-2', 'echo'),
      requester('client-3', 'echo'),
      requester('client-4', 'pay'),
      requester('client-5', 'pay'),
    ]);
    try {
      await runNemesis({ history, faults, schedule });
      // A quiet tail after the last heal: requests sent now must all be answered.
      await sleep(HEAL_MS + 1500);
    } finally {
      stop.abort();
      await load;
    }
    const result = assertHistory(history, (ops) =>
      checkMajordomo(ops, { idempotentServices: ['echo'], healMs: HEAL_MS }),
    );
    return { result, history };
  } catch (err) {
    if (err instanceof Error && err.message.includes('history written to')) throw err;
    const path = history.writeJsonl();
    throw new Error(`majordomo run with seed ${options.seed} failed; history written to ${path}`, { cause: err });
  } finally {
    for (const fn of cleanup.reverse()) await fn().catch(() => undefined);
  }
}
