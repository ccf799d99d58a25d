/**
 * titanic-scale: our `titanic` (SQLite) with 0, 250,000, 500,000 and 1,000,000 requests stored
 * (half pending for a service nobody serves, half answered and never closed), and `--scale-requests`
 * (1,000) sequential submissions of its own measured on top: the submission round trip, the time
 * until the dispatcher hands each to the echo worker (claim), the fetch and close round trips, the
 * daemon's start-up time and peak RSS. Each level is one trial (`titanic-scale-trial`); a round
 * fills one fresh store up level by level through the store's own API (`SqliteStore.write`, 10,000
 * writes per transaction), so the fill is not measured as Titanic's work. The `0 stored` row is
 * the reference ("floor") column: a flat store shows ratios near 1 to it. No C program: the book's
 * titanic rescans its whole queue file on every submission.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { peerScript } from '../lib/peer.js';
import { alternate, runTrial, type Contender, type Shape } from './harness.js';

const LEVELS = [0, 250_000, 500_000, 1_000_000];

export const shape: Shape = {
  name: 'titanic-scale',
  description: 'Titanic on SQLite with 0 to 1,000,000 stored requests: submit, claim, fetch and close latency, RSS',
  programs: [],
  async run(ctx, _cbin, rounds) {
    // Its own flag, not the --requests of the broker shapes.
    const flag = ctx.flags['scale-requests'];
    const requests = typeof flag === 'string' && Number(flag) > 0 ? flag : '1000';
    const dirs: string[] = [];
    const dirOf = (round: number): string => {
      dirs[round] ??= mkdtempSync(join(tmpdir(), 'titanic-scale-'));
      return dirs[round];
    };
    const contenders = LEVELS.map((stored): Contender => ({
      name: `${stored.toLocaleString('en-US')} stored`,
      kind: stored === 0 ? 'floor' : 'ours',
      trial: async (round) => {
        const trial = await runTrial(`titanic-scale ${stored}`, process.execPath, [
          peerScript('titanic-scale-trial'),
          dirOf(round),
          String(stored),
          requests,
        ]);
        // The last level of a round: its store is done with.
        if (stored === LEVELS[LEVELS.length - 1]) rmSync(dirOf(round), { recursive: true, force: true });
        return trial;
      },
    }));
    try {
      const cases = await alternate(ctx, `titanic-scale, ${requests} requests`, contenders, rounds);
      return {
        cases,
        notes: [
          'xFloor/cpuXFloor/p50XFloor... are ratios to the empty store (0 stored), not to a bare floor',
          'fill by SqliteStore.write in transactions of 10,000 (not measured); SQLite WAL, synchronous=FULL',
        ],
      };
    } finally {
      for (const dir of dirs) if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    }
  },
};
