/**
 * mdclient: the CPU a user's client pays per request, under the C `mdbroker` and C `mdworker`s.
 * Pipelined (10 workers, `--requests`, default 100,000, all sent at once): our
 * `MajordomoPipeline` against the C `mdclient2_n` and `bare-mdclient pipeline` (the floor), ours
 * twice: awaiting `sendAsync()` per request in a sender running beside the reply loop (libzmq's
 * back-pressure, as the C client's blocking send and the floor's awaited send), and `send()` N
 * times before reading (every request queued in the process at once).
 * Sequential (1 worker, a fifth of `--requests`, one at a time): our `MajordomoClient` against
 * the C `mdclient_n` and `bare-mdclient sequential`. The process under test is the client; ours
 * and the bare ones time each request (p50/p99) and count their own CPU over the run, the C ones
 * are timed from outside (`/usr/bin/time`, their whole run). Every contender first sends
 * `--md-warmup` requests (default 10,000 pipelined, 5,000 sequential), not counted: ours and the
 * bare ones in the measured process (`cold_cpu_us` covers both), a C client as a first run of
 * the same program (C has nothing to warm in itself: this warms the broker and the workers).
 */
import { join } from 'node:path';
import { peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'mdclient',
  description:
    'the client under the C broker: pipelined (10 C workers, 100,000 requests by default) and sequential (1 C worker, a fifth), each after a warm-up not counted',
  programs: ['mdbroker', 'mdworker', 'mdclient2_n', 'mdclient_n'],
  async run(ctx, cbin, rounds) {
    const requests = ctx.requests ?? 100_000;
    const flag = ctx.flags['md-warmup'];
    const warmup = (fallback: number): string => (typeof flag === 'string' ? flag : String(fallback));
    const node = process.execPath;
    const contender = (
      name: string,
      kind: Contender['kind'],
      env: Record<string, string>,
      mode: 'cclient' | 'nclient',
      client: string[],
    ): Contender => ({
      name,
      kind,
      trial: () => runTrial(`mdclient ${name}`, 'sh', [trialScript('vs-c-mdlibs.sh'), mode, cbin, ...client], env),
    });
    const piped = { WORKERS: '10', REQUESTS: String(requests), WARMUP: warmup(10_000) };
    const pipelined = await alternate(
      ctx,
      'mdclient, pipelined, 10 C workers',
      [
        contender('C mdclient2', 'c', piped, 'cclient', [join(cbin, 'mdclient2_n')]),
        contender('MajordomoPipeline', 'ours', piped, 'nclient', [node, peerScript('md-clients'), 'pipeline-async']),
        contender('MajordomoPipeline, send() all first', 'ours', piped, 'nclient', [
          node,
          peerScript('md-clients'),
          'pipeline',
        ]),
        contender('bare pipelined (floor)', 'floor', piped, 'nclient', [node, peerScript('bare-mdclient'), 'pipeline']),
      ],
      rounds,
    );
    const seq = { WORKERS: '1', REQUESTS: String(Math.max(1, Math.round(requests / 5))), WARMUP: warmup(5_000) };
    const sequential = await alternate(
      ctx,
      'mdclient, sequential, 1 C worker',
      [
        contender('C mdclient', 'c', seq, 'cclient', [join(cbin, 'mdclient_n')]),
        contender('MajordomoClient', 'ours', seq, 'nclient', [node, peerScript('md-clients'), 'sequential']),
        contender('bare sequential (floor)', 'floor', seq, 'nclient', [
          node,
          peerScript('bare-mdclient'),
          'sequential',
        ]),
      ],
      rounds,
    );
    return { cases: { ...pipelined, ...sequential } };
  },
};
