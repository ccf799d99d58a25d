/**
 * `npm run bench -- fuzz [--requests N] [--daemons mdbroker,ppqueue]`: the protocol fuzzer against
 * every daemon (100,000 messages each by default, after a warm-up of 10,000), reporting the rate,
 * the RSS after the warm-up and after the fuzz, and that each daemon still answered a normal request.
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
    for (const name of daemons) {
      ctx.log(`fuzz: ${name}, ${messages} messages`);
      const result = await fuzzDaemon(name, messages, { warmup: 10_000 });
      await result.target.daemon[Symbol.asyncDispose]();
      cases[`fuzz ${name}`] = {
        rps: (result.messages / result.durationMs) * 1000,
        p50Ms: Number.NaN,
        p99Ms: Number.NaN,
        messages: result.messages,
        overLimit: result.overLimit,
        rssBeforeMB: result.rssBeforeBytes / MB,
        rssAfterMB: result.rssAfterBytes / MB,
        rssRatio: result.rssAfterBytes / result.rssBeforeBytes,
      };
    }
    notes.push('each daemon answered a normal request after its fuzz (the run stops otherwise)');
    return { cases, notes };
  },
};
