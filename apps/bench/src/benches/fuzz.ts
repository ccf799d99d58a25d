/**
 * `npm run bench -- fuzz [--requests N] [--warmup N] [--daemons mdbroker,ppqueue]`: the protocol
 * fuzzer against every daemon (100,000 messages each by default, after a warm-up of a first pass
 * of as many), reporting the rate, the RSS after the warm-up and after the fuzz (with the V8 heap
 * and external memory beside it), the bad messages sent and counted by the daemon, and that each
 * daemon still answered a normal request. The run exits 1 when a daemon's count differs or its
 * RSS grew by 20 % or more.
 */
import { fuzzDaemon, type DaemonName } from '@zpatterns/testkit';
import type { Benchmark, CaseResult } from '../lib/types.js';

const ALL: DaemonName[] = ['mdbroker', 'titanic', 'ppqueue', 'flserver', 'bstarsrv', 'clonesrv'];
const MB = 1024 * 1024;

export const benchmark: Benchmark = {
  description: 'fuzz every daemon: messages/s, RSS before/after',
  async run(ctx) {
    const messages = ctx.requests ?? 100_000;
    const only = ctx.flags['daemons'];
    const daemons = typeof only === 'string' ? (only.split(',') as DaemonName[]) : ALL;
    const cases: Record<string, CaseResult> = {};
    const notes: string[] = [];
    const failures: string[] = [];
    const warmup = typeof ctx.flags['warmup'] === 'string' ? Number(ctx.flags['warmup']) : messages;
    for (const name of daemons) {
      ctx.log(`fuzz: ${name}, ${messages} messages`);
      const result = await fuzzDaemon(name, messages, { warmup });
      await result.target.daemon[Symbol.asyncDispose]();
      const ratio = result.rssAfterBytes / result.rssBeforeBytes;
      if (result.badCounted !== result.badSent) {
        failures.push(`${name}: ${result.badSent} bad messages sent, ${result.badCounted} counted`);
      }
      if (ratio >= 1.2) failures.push(`${name}: RSS ${ratio.toFixed(2)} x after the warm-up`);
      for (const [path, n] of Object.entries(result.validCounted)) {
        if (n === 0) failures.push(`${name}: ${path}: no valid message taken down this path`);
      }
      for (const shortfall of result.validShortfalls) failures.push(`${name}: ${shortfall}`);
      cases[`fuzz ${name}`] = {
        rps: (result.messages / result.durationMs) * 1000,
        p50Ms: Number.NaN,
        p99Ms: Number.NaN,
        messages: result.messages,
        overLimit: result.overLimit,
        badSent: result.badSent,
        badCounted: result.badCounted,
        rssBeforeMB: result.rssBeforeBytes / MB,
        rssAfterMB: result.rssAfterBytes / MB,
        rssRatio: ratio,
        heapUsedBeforeMB: result.memoryBefore.heapUsedBytes / MB,
        heapUsedAfterMB: result.memoryAfter.heapUsedBytes / MB,
        externalBeforeMB: result.memoryBefore.externalBytes / MB,
        externalAfterMB: result.memoryAfter.externalBytes / MB,
      };
    }
    notes.push('each daemon answered a normal request after its fuzz (the run stops otherwise)');
    notes.push(`warm-up: ${warmup} fuzz messages per daemon before the RSS baseline`);
    for (const failure of failures) notes.push(`FAILED: ${failure}`);
    if (failures.length > 0) process.exitCode = 1;
    return { cases, notes };
  },
};
