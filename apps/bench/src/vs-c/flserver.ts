/**
 * flserver: one Freelance server under the book's C `flclient3` (10,000 sequential requests):
 * the C `flserver3`, our `flserver`, and `bare-flserver` (a bare zeromq.js echo with the same
 * routing id: the floor). The process under test is the server; `rtt_us` is flclient3's own
 * average round trip.
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape, type Trial } from './harness.js';

export const shape: Shape = {
  name: 'flserver',
  description: 'the Freelance server: C flclient3 (10,000 sequential requests) against each server',
  programs: ['flserver3', 'flclient3'],
  async run(ctx, cbin, rounds) {
    const node = process.execPath;
    let reruns = 0;
    const contender = (name: string, kind: Contender['kind'], server: string[]): Contender => ({
      name,
      kind,
      async trial(): Promise<Trial> {
        // flclient3 (the book's) sometimes aborts before printing its figure: such a trial is rerun.
        for (let attempt = 1; ; attempt++) {
          try {
            return await runTrial(`flserver ${name}`, 'sh', [trialScript('vs-c-trial.sh'), 'fl', cbin, ...server]);
          } catch (error) {
            if (attempt === 3) throw error;
            reruns++;
            ctx.log(`flserver ${name}: flclient3 printed no result, rerun`);
          }
        }
      },
    });
    const cases = await alternate(
      ctx,
      'flserver, C flclient3',
      [
        contender('C flserver3', 'c', [join(cbin, 'flserver3')]),
        contender('flserver', 'ours', [
          node,
          appScript('flserver'),
          '--bind',
          'tcp://localhost:5555',
          '--log-level',
          'warn',
        ]),
        contender('bare-flserver (floor)', 'floor', [node, peerScript('bare-flserver'), 'tcp://localhost:5555']),
      ],
      rounds,
    );
    const notes = reruns > 0 ? [`${reruns} flclient3 run(s) ended without a result and were rerun`] : [];
    return { cases, notes };
  },
};
