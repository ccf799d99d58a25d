/**
 * mdworker: the CPU a user's service pays per request. One worker process at a time under the C
 * `mdbroker` and the C `mdclient2_n` (`--requests`, default 100,000, all sent at once): the C
 * `mdworker`, our `MajordomoWorker` in a minimal echo service (`peers/md-echo-worker`), `zpat
 * worker echo` (the same library inside the app, with its logging), and `bare-mdworker` (a DEALER
 * speaking just enough 7/MDP: the floor of a zeromq.js worker). The process under test is the
 * worker. Before the measured run, every worker (C included) answers `--md-warmup` requests
 * (default 10,000) from a first `mdclient2_n`, not counted; `cold_cpu_us` covers both runs.
 * The measured requests go in `--md-slices` runs of the client (default 5): a trial's `cpu_us` is
 * its median run's CPU per request (`cpu_mean_us` the whole run's), steadier under other load.
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'mdworker',
  description:
    'one worker: C mdbroker and mdclient2 (100,000 requests by default, after 10,000 not counted) against each worker',
  programs: ['mdbroker', 'mdworker', 'mdclient2_n'],
  async run(ctx, cbin, rounds) {
    const warmup = ctx.flags['md-warmup'];
    const slices = ctx.flags['md-slices'];
    const env = {
      REQUESTS: String(ctx.requests ?? 100_000),
      WARMUP: typeof warmup === 'string' ? warmup : '10000',
      SLICES: typeof slices === 'string' ? slices : '5',
    };
    const node = process.execPath;
    const broker = 'tcp://127.0.0.1:5555';
    const contender = (name: string, kind: Contender['kind'], worker: string[]): Contender => ({
      name,
      kind,
      trial: () => runTrial(`mdworker ${name}`, 'sh', [trialScript('vs-c-mdlibs.sh'), 'worker', cbin, ...worker], env),
    });
    const cases = await alternate(
      ctx,
      'mdworker, 1 worker under the C broker and mdclient2',
      [
        contender('C mdworker', 'c', [join(cbin, 'mdworker')]),
        contender('MajordomoWorker', 'ours', [node, peerScript('md-echo-worker'), broker]),
        contender('zpat worker echo', 'ours', [
          node,
          appScript('zpat'),
          'worker',
          'echo',
          '--broker',
          broker,
          '--log-level',
          'warn',
        ]),
        contender('bare-mdworker (floor)', 'floor', [node, peerScript('bare-mdworker'), broker]),
      ],
      rounds,
    );
    return { cases };
  },
};
