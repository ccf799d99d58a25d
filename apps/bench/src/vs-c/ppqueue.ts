/**
 * ppqueue: the Paranoid Pirate queue between the same workers and the same pipelined client: the
 * book's C `ppqueue`, our `ppqueue`, and `bare-ppqueue` (two ROUTERs, a FIFO of ready workers and
 * the heartbeats the workers need, no bookkeeping: the floor of a zeromq.js queue). The workers
 * are `pp-workers` x `--workers` (10; the book's ppworker without its chaos and its one-second
 * sleep per request, which the C `ppworker_nochaos` keeps); the client is `pp-driver`, a DEALER
 * keeping `--window` (100) requests in flight. The process under test is the queue; its CPU is
 * measured over `--requests` (100,000) after a warm-up run of 2,000 that is not counted.
 */
import { dirname, join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'ppqueue',
  description: 'the Paranoid Pirate queue: 10 echo workers and a pipelined client (100,000 requests) through each',
  programs: ['ppqueue'],
  async run(ctx, cbin, rounds) {
    const workers = typeof ctx.flags['workers'] === 'string' ? ctx.flags['workers'] : '10';
    const requests = String(ctx.requests ?? 100_000);
    const node = process.execPath;
    const env = { WORKERS: workers, REQUESTS: requests, WINDOW: String(ctx.window), NODE: node };
    const peers = dirname(peerScript('pp-driver'));
    const contender = (name: string, kind: Contender['kind'], queue: string[]): Contender => ({
      name,
      kind,
      trial: () => runTrial(`ppqueue ${name}`, 'sh', [trialScript('vs-c-pp-trial.sh'), peers, ...queue], env),
    });
    const cases = await alternate(
      ctx,
      `ppqueue, ${workers} workers, window ${ctx.window}`,
      [
        contender('C ppqueue', 'c', [join(cbin, 'ppqueue')]),
        contender('ppqueue', 'ours', [
          node,
          appScript('ppqueue'),
          '--frontend',
          'tcp://127.0.0.1:5555',
          '--backend',
          'tcp://127.0.0.1:5556',
          '--log-level',
          'warn',
        ]),
        contender('bare-ppqueue (floor)', 'floor', [
          node,
          peerScript('bare-ppqueue'),
          'tcp://127.0.0.1:5555',
          'tcp://127.0.0.1:5556',
        ]),
      ],
      rounds,
    );
    return { cases };
  },
};
