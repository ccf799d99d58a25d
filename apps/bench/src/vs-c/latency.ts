/**
 * latency: one request at a time through each broker, with one C `mdworker` (echo) behind it. The
 * brokers: the C `mdbroker`, our `mdbroker`, `bare-mdbroker` (the floor). Two clients, each its
 * own table: the C `mdclient_n` (sequential; it gives only its total, so the row has the rate and
 * the mean round trip), and `md-latency-client` (a bare zeromq.js sequential MDP client that times
 * each round trip: p50 and p99). The process under test is the broker (CPU per request, peak RSS).
 *
 * `--latency-requests N` (default 10,000) requests per trial; the timed client sends 500 more first,
 * untimed (the broker's CPU is divided by all of them).
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'latency',
  description: 'one request at a time: 1 C mdworker, C mdclient_n and a timed client, through each broker',
  programs: ['mdbroker', 'mdworker', 'mdclient_n'],
  async run(ctx, cbin, rounds) {
    const flag = ctx.flags['latency-requests'];
    const requests = typeof flag === 'string' ? flag : '10000';
    const node = process.execPath;
    const env = { REQUESTS: requests, NODE: node, DRIVER: peerScript('md-latency-client') };
    const brokers: [string, Contender['kind'], string[]][] = [
      ['C mdbroker', 'c', [join(cbin, 'mdbroker')]],
      ['mdbroker', 'ours', [node, appScript('mdbroker'), '--bind', 'tcp://127.0.0.1:5555', '--log-level', 'warn']],
      ['bare-mdbroker (floor)', 'floor', [node, peerScript('bare-mdbroker'), 'tcp://127.0.0.1:5555']],
    ];
    const cases = {};
    for (const [client, title] of [
      ['c', `latency, C mdclient_n ${requests}`],
      ['node', `latency, timed client ${requests}`],
    ] as const) {
      const contenders = brokers.map(([name, kind, broker]): Contender => ({
        name,
        kind,
        trial: () =>
          runTrial(`latency ${client} ${name}`, 'sh', [trialScript('vs-c-latency.sh'), client, cbin, ...broker], env),
      }));
      Object.assign(cases, await alternate(ctx, title, contenders, rounds));
    }
    return {
      cases,
      notes: [
        'one C mdworker; mean_us is the mean round trip (from the client total for mdclient_n); cpu_us and rss_kb are the broker’s',
      ],
    };
  },
};
