/**
 * titanic: requests from submission to fetched reply through the C `mdbroker` and one C
 * `mdworker` ("echo"), with one driver for every contender (`tsp-driver`, a sequential 9/TSP
 * client on bare zeromq.js): `--titanic-requests` (2,000) submitted, then every reply fetched (polling
 * titanic.reply) and closed. Contenders: the book's C `titanic` (a file per request and reply in
 * ./.titanic, no fsync), ours on SQLite (fsync per group commit; and with `--no-fsync`, durable as
 * the C titanic is), on PostgreSQL (a throwaway local cluster, fsync off) and in memory (`--store memory:`: ours against it is the cost of the store),
 * `bare-titanic` (the floor: the same socket calls, a Map, none of our code), `libs-titanic` (that
 * floor on our MajordomoWorker and MajordomoClient: what the libraries cost, apart from Titanic's
 * own code; `--workers 32,8` with our default worker count), `bare-titanic --sqlite` (the floor running our SQLite store's statements, without
 * fsync: what the store costs, apart from Titanic's code; `--group` adds our group commit's turn),
 * and the plain MDP
 * request through the same broker and worker (what Titanic adds to one request's latency; no
 * titanic process, so no CPU or RSS). The process under test is the titanic; every contender first
 * serves `--titanic-warmup` (8,000) unmeasured requests the same way, enough for V8 to have
 * finished compiling Titanic's hot path (after 2,000 it was still compiling on its helper threads). `--store sqlite`
 * leaves out the PostgreSQL row (no cluster is started).
 */
import { startPostgres, type PostgresCluster } from '@zpatterns/testkit';
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'titanic',
  description: 'Titanic: 2,000 sequential submissions, then every reply fetched and closed, through the C broker',
  programs: ['mdbroker', 'mdworker', 'titanic'],
  async run(ctx, cbin, rounds) {
    // Its own flag: a sequential client at ~1,000 requests/s, not the --requests of the broker shapes.
    const flag = ctx.flags['titanic-requests'];
    const requests = typeof flag === 'string' && Number(flag) > 0 ? flag : '2000';
    // Unmeasured requests first, through the same steps: every contender is measured warm.
    const warm = ctx.flags['titanic-warmup'];
    const env = { REQUESTS: requests, WARMUP: typeof warm === 'string' && Number(warm) >= 0 ? warm : '8000' };
    const node = process.execPath;
    const contender = (name: string, kind: Contender['kind'], mode: string, server: string[] = []): Contender => ({
      name,
      kind,
      trial: () =>
        runTrial(
          `titanic ${name}`,
          'sh',
          [trialScript('vs-c-titanic.sh'), cbin, node, peerScript('tsp-driver'), mode, ...server],
          env,
        ),
    });
    const ours = (store: string[]): string[] => [
      node,
      appScript('titanic'),
      '--broker',
      'tcp://127.0.0.1:5555',
      ...store,
      '--log-level',
      'warn',
    ];
    const skipPg = ctx.flags['store'] === 'sqlite';
    let cluster: PostgresCluster | undefined;
    const notes: string[] = [];
    if (!skipPg) {
      try {
        cluster = await startPostgres();
      } catch (err) {
        notes.push(`PostgreSQL skipped: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    try {
      const contenders: Contender[] = [
        contender('C titanic', 'c', 'titanic', [join(cbin, 'titanic')]),
        contender('titanic (SQLite)', 'ours', 'titanic', ours(['--data-dir', 'data'])),
        contender('titanic (SQLite, --no-fsync)', 'ours', 'titanic', ours(['--data-dir', 'data', '--no-fsync'])),
        ...(cluster === undefined
          ? []
          : [contender('titanic (PostgreSQL)', 'ours', 'titanic', ours(['--store', cluster.url]))]),
        contender('titanic (memory)', 'ours', 'titanic', ours(['--store', 'memory:'])),
        contender('bare-titanic (floor)', 'floor', 'titanic', [node, peerScript('bare-titanic')]),
        // The floor on our Majordomo libraries, none of Titanic's code: the reproduction of ours in memory.
        contender('libs-titanic (floor on our MDP libraries)', 'ours', 'titanic', [node, peerScript('libs-titanic')]),
        // The same with our Titanic's default worker count (32 for titanic.request, 8 each for reply and close).
        contender('libs-titanic --workers 32,8 (+ our worker count)', 'ours', 'titanic', [
          node,
          peerScript('libs-titanic'),
          '--workers',
          '32,8',
        ]),
        // The floor plus our SQLite store's statements and pragmas, then plus our group commit's
        // turn: the reproduction of ours on SQLite, --no-fsync.
        contender('bare-titanic --sqlite (floor + our statements)', 'ours', 'titanic', [
          node,
          peerScript('bare-titanic'),
          '--sqlite',
          'data',
        ]),
        contender('bare-titanic --sqlite --group (+ the group commit)', 'ours', 'titanic', [
          node,
          peerScript('bare-titanic'),
          '--sqlite',
          'data',
          '--group',
        ]),
        // That reproduction on our Majordomo libraries: ours against it is Titanic's own code on SQLite.
        contender('libs-titanic --sqlite --group (+ our libraries)', 'ours', 'titanic', [
          node,
          peerScript('libs-titanic'),
          '--sqlite',
          'data',
          '--group',
        ]),
        contender('plain MDP request (no Titanic)', 'ours', 'mdp'),
      ];
      const cases = await alternate(ctx, `titanic, ${requests} requests`, contenders, rounds);
      notes.push(
        'sequential driver: every submission waits for its "200"; then each reply is fetched in order (a "300" is asked again after 5 ms) and closed',
        'PostgreSQL: a throwaway local cluster on a unix socket with fsync=off; SQLite: WAL, synchronous=FULL; the C titanic writes files without fsync',
      );
      return { cases, notes };
    } finally {
      await cluster?.stop();
    }
  },
};
