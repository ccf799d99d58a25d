/**
 * broker-scale: the broker's state at scale. One C `mdworker` (echo) and the C `mdclient2_n`
 * (`--scale-requests`, default 20,000) through the broker, first alone (after 3,000 warm-up
 * requests, whose CPU is reported apart as `cold_cpu_us`, and 20,000 more unmeasured while V8
 * finishes compiling; the median of three windows, with the CPU by thread), then with 10,000 idle
 * workers registered (`md-idle-workers` x 2 processes, one service each: 10,000 services,
 * heartbeating), in the same trial; then the broker's idle CPU with them. The brokers: the C
 * `mdbroker`, our `mdbroker`, and `bare-mdbroker` as the floor of what is the binding's here: it
 * receives every heartbeat and heartbeats every worker with no table, expiry or validation. It
 * knows one service, so with the idle workers registered it sends echo requests to any worker
 * (they echo them): its `rate`/`cpu_us` are not the same dispatch, its `idle_cpu_ms_s` and
 * `rss_kb` are the floor of ours. The process under test is the broker.
 *
 * `--idle-workers N` (default 10,000) changes the count; each idle-worker process holds at most
 * 5,000 (two file descriptors each, under the usual 20,000 `ulimit -n`).
 */
import { join } from 'node:path';
import { appScript, peerScript } from '../lib/peer.js';
import { alternate, runTrial, trialScript, type Contender, type Shape } from './harness.js';

export const shape: Shape = {
  name: 'broker-scale',
  description: 'broker RSS and dispatch cost with 10,000 idle workers on 10,000 services (C mdworker, mdclient2_n)',
  programs: ['mdbroker', 'mdworker', 'mdclient2_n'],
  async run(ctx, cbin, rounds) {
    const flag = (name: string, fallback: string): string => {
      const value = ctx.flags[name];
      return typeof value === 'string' ? value : fallback;
    };
    const idle = flag('idle-workers', '10000');
    const requests = flag('scale-requests', '20000');
    const windows = flag('alone-windows', '3');
    const env = {
      REQUESTS: requests,
      ALONE_WINDOWS: windows,
      IDLE_WORKERS: idle,
      IDLE_PEERS: String(Math.max(1, Math.ceil(Number(idle) / 5000))),
      NODE: process.execPath,
      IDLE: peerScript('md-idle-workers'),
    };
    const contender = (name: string, kind: Contender['kind'], broker: string[]): Contender => ({
      name,
      kind,
      // The floor knows one service and sends echo requests to idle workers too: its answers are
      // counted (answered/sent), not required; its idle CPU and RSS are the figures to read.
      trial: () =>
        runTrial(`broker-scale ${name}`, 'sh', [trialScript('vs-c-scale.sh'), cbin, ...broker], {
          ...env,
          FLOOR: kind === 'floor' ? '1' : '0',
        }),
    });
    const cases = await alternate(
      ctx,
      `broker-scale, ${idle} idle workers`,
      [
        contender('C mdbroker', 'c', [join(cbin, 'mdbroker')]),
        contender('mdbroker', 'ours', [
          process.execPath,
          appScript('mdbroker'),
          '--bind',
          'tcp://127.0.0.1:5555',
          '--log-level',
          'warn',
        ]),
        contender('bare-mdbroker (floor)', 'floor', [
          process.execPath,
          peerScript('bare-mdbroker'),
          'tcp://127.0.0.1:5555',
        ]),
      ],
      rounds,
    );
    return {
      cases,
      notes: [
        `rate/cpu_us: ${requests} echo requests with the idle workers registered; rate0/cpu0_us: the same before they came, after 3,000 warm-up and 20,000 settling requests, the median of ${windows} windows of ${requests} (cpu0_lo_us/cpu0_hi_us: the lowest and highest window; cpu0_js_us, cpu0_io_us, cpu0_other_us: over all of them, on the JavaScript thread, libzmq's threads, the rest: V8's helper threads); cold_cpu_us: broker CPU per request over those first 3,000 from its cold start; idle_cpu_ms_s: broker CPU per second while idle with them; dispatch_us: cpu_us less that idle CPU over the same time; rss0_kb: RSS before them, rss_kb: peak at the end; disconnects: idle workers the broker dropped (0 expected); the floor (bare-mdbroker) knows one service, so its rate/cpu_us with the idle workers is not the same dispatch: read its idle_cpu_ms_s and rss_kb`,
      ],
    };
  },
};
