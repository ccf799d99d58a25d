/**
 * clone-client: the Clone client agent applying a burst of `--requests` (100,000) updates, each in
 * its own process: our `CloneClient` (`peers/clone-client-apply.ts`) against `bare-clone-apply` (a
 * bare zeromq.js SUB applying updates to a Map after a DEALER snapshot: the floor). Both follow
 * the same server (`bare-clonesrv`, so the server is the same cheap one for both) and the same
 * burst driver (`clone-burst.ts`). The process under test is the client: it measures its own CPU
 * per update (all threads) and peak RSS, from its first update of the burst to the last. The
 * book's `clonecli6` is left out: it writes updates of its own and prints nothing countable.
 */
import { peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape, type Trial } from './harness.js';

export const shape: Shape = {
  name: 'clone-client',
  description: 'the Clone client agent: a burst of 100,000 updates applied to its replica',
  programs: [],
  async run(ctx, _cbin, rounds) {
    const node = process.execPath;
    const env = { UPDATES: String(ctx.requests ?? 100_000) };
    const base = [trialScript('vs-c-clone-client.sh'), peerScript('bare-clonesrv'), peerScript('clone-burst')];
    const contender = (name: string, kind: Contender['kind'], script: string): Contender => ({
      name,
      kind,
      trial: (): Promise<Trial> => runTrial(`clone-client ${name}`, 'sh', [...base, node, peerScript(script)], env),
    });
    const cases = await alternate(
      ctx,
      'clone-client, 100,000-update burst',
      [
        contender('CloneClient', 'ours', 'clone-client-apply'),
        contender('bare-clone-apply (floor)', 'floor', 'bare-clone-apply'),
      ],
      rounds,
    );
    return { cases };
  },
};
