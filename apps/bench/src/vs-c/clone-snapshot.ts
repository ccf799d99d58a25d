/**
 * clone-snapshot: the time a Clone server takes to serve its whole map, `--requests` (100,000)
 * keys, from ICANHAZ? to KTHXBAI, five snapshots in turn. The same driver fills every contender
 * with the same keys and asks for them (`peers/clone-snapshot.ts`). Contenders: the book's C
 * `clonesrv6` (`-p`, made active by the driver's vote), our `clonesrv`, and `bare-clonesrv` (a bare
 * zeromq.js ROUTER sending every stored update: the floor). The process under test is the server:
 * `cpu_us` is its CPU per key served, `snapshot_ms` the mean time of one snapshot. The C server
 * drops most of a large snapshot (its ROUTER's 1,000-message high-water mark): then it gets a
 * note with the keys it delivered instead of a row.
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape, type Trial } from './harness.js';

export const shape: Shape = {
  name: 'clone-snapshot',
  description: 'the Clone server: five snapshots of a 100,000-key map, ICANHAZ? to KTHXBAI',
  programs: ['clonesrv6'],
  async run(ctx, cbin, rounds) {
    const node = process.execPath;
    // five snapshots: 500,000 keys served per trial, so the CPU per key is steady
    const env = { SNAPSHOT_KEYS: String(ctx.requests ?? 100_000), SNAPSHOTS: '5' };
    const driver = peerScript('clone-snapshot');
    const contender = (name: string, kind: Contender['kind'], server: string[]): Contender => ({
      name,
      kind,
      trial: (): Promise<Trial> =>
        runTrial(`clone-snapshot ${name}`, 'sh', [trialScript('vs-c-clone.sh'), driver, ...server], env),
    });
    // clonesrv6 sends its whole map in one loop on a ROUTER with libzmq's 1,000-message
    // high-water mark, which drops what the client has not yet taken: it never serves a 100,000-key
    // snapshot whole. Its trial runs first in each round; if it delivers everything it becomes the
    // `c` row, otherwise what it delivered is noted and it has no row.
    const notes: string[] = [];
    const c = contender('C clonesrv6', 'c', [join(cbin, 'clonesrv6'), '-p']);
    let cOk = true;
    for (let round = 1; round <= rounds && cOk; round++) {
      try {
        await c.trial(round);
      } catch (error) {
        cOk = false;
        notes.push(`C clonesrv6 did not serve the snapshot whole: ${(error as Error).message}`);
        ctx.log(`clone-snapshot C clonesrv6: ${(error as Error).message}`);
      }
    }
    const cases = await alternate(
      ctx,
      'clone-snapshot, 100,000 keys',
      [
        ...(cOk ? [c] : []),
        contender('clonesrv', 'ours', [node, appScript('clonesrv'), '--log-level', 'warn', '--port', '5556']),
        contender('bare-clonesrv (floor)', 'floor', [node, peerScript('bare-clonesrv'), '5556']),
      ],
      rounds,
    );
    return { cases, notes };
  },
};
