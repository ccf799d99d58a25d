/**
 * vs-c: our daemons side by side with the book's C programs, under the same C peers, alternating
 * in one run. Needs the guide's C examples built (see docs/benchmarks.md); without them it says
 * so and exits 0.
 *
 *   mdp: C `mdworker` x 10 and `mdclient2_n` (100,000 requests) against the C `mdbroker`, our
 *        `mdbroker`, and `bare-mdbroker` (the same socket calls with no bookkeeping: the floor of
 *        a zeromq.js broker)
 *   flp: C `flclient3` (10,000 sequential requests) against one C `flserver3`, our `flserver`, and
 *        `bare-flserver` (a bare zeromq.js echo with the same routing id: the floor)
 *
 * Each trial runs in its own empty network namespace (`unshare -n`) when that is allowed (root),
 * because the C programs use fixed ports (5555); otherwise the ports must be free. The server's CPU
 * is user+sys from /proc, read before and after the client runs.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appScript, peerScript } from '../lib/peer.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

/** Where the C binaries are looked for without `--cref` or `ZPAT_CREF_BIN`. */
export const DEFAULT_CREF_BIN = '/work/cref/bin';
const MD_PROGRAMS = ['mdbroker', 'mdworker', 'mdclient2_n'];
const FL_PROGRAMS = ['flserver3', 'flclient3'];
const trialScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'vs-c-trial.sh');

interface Trial {
  rate: number;
  cpuUs: number;
  replies: number;
  rttUs?: number;
  load?: number;
}

function crefDir(ctx: BenchContext): string {
  const flag = ctx.flags['cref'];
  return typeof flag === 'string' ? flag : (process.env['ZPAT_CREF_BIN'] ?? DEFAULT_CREF_BIN);
}

function missing(dir: string, programs: readonly string[]): string[] {
  return programs.filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

function canUnshare(): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runTrial(shape: 'md' | 'fl', cbin: string, server: string[], env: Record<string, string>): Promise<Trial> {
  const argv = [trialScript, shape, cbin, ...server];
  const [command, args] = isolated ? ['unshare', ['-n', 'sh', ...argv]] : ['sh', argv];
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      const field = (name: string): number | undefined => {
        const match = new RegExp(`${name}=([0-9.]+)`).exec(out);
        return match === null ? undefined : Number(match[1]);
      };
      const rate = field('rate');
      const cpuUs = field('cpu_us');
      const replies = field('replies');
      if (rate === undefined || cpuUs === undefined || replies === undefined) {
        reject(new Error(`vs-c: trial printed no result: ${out.trim()}`));
        return;
      }
      const trial: Trial = { rate, cpuUs, replies };
      const rttUs = field('rtt_us');
      if (rttUs !== undefined) trial.rttUs = rttUs;
      const load = field('load');
      if (load !== undefined) trial.load = load;
      resolve(trial);
    });
  });
}

let isolated = false;

function summarise(trials: readonly Trial[], reference: readonly Trial[] | undefined): CaseResult {
  const rates = trials.map((t) => t.rate);
  const cpus = trials.map((t) => t.cpuUs);
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const result: CaseResult = {
    rps: mean(rates),
    p50Ms: Number.NaN,
    p99Ms: Number.NaN,
    rpsMin: Math.min(...rates),
    rpsMax: Math.max(...rates),
    cpuUsPerReqMin: Math.min(...cpus),
    cpuUsPerReqMax: Math.max(...cpus),
  };
  const loads = trials.flatMap((t) => (t.load === undefined ? [] : [t.load]));
  if (loads.length > 0) {
    result['loadMin'] = Math.min(...loads);
    result['loadMax'] = Math.max(...loads);
  }
  const rtts = trials.flatMap((t) => (t.rttUs === undefined ? [] : [t.rttUs]));
  if (rtts.length > 0) {
    result['rttUsMin'] = Math.min(...rtts);
    result['rttUsMax'] = Math.max(...rtts);
  }
  if (reference !== undefined) {
    result['xC'] = mean(rates) / mean(reference.map((t) => t.rate));
    result['cpuXC'] = mean(cpus) / mean(reference.map((t) => t.cpuUs));
  }
  return result;
}

export const benchmark: Benchmark = {
  description: "our mdbroker and flserver against the book's C programs, same C peers, alternating",
  unavailable(ctx) {
    const dir = crefDir(ctx);
    const absent = missing(dir, [...MD_PROGRAMS, ...FL_PROGRAMS]);
    if (absent.length === 0) return undefined;
    return (
      `vs-c: the book's C programs are not in ${dir} (missing: ${absent.join(', ')}); nothing to compare. ` +
      'Build them as docs/benchmarks.md describes, then pass --cref <dir> or set ZPAT_CREF_BIN.'
    );
  },
  async run(ctx: BenchContext): Promise<BenchReport> {
    const cbin = crefDir(ctx);
    isolated = canUnshare();
    const rounds = typeof ctx.flags['rounds'] === 'string' ? Math.max(1, Number(ctx.flags['rounds'])) : 2;
    const workers = typeof ctx.flags['workers'] === 'string' ? ctx.flags['workers'] : '10';
    const requests = String(ctx.requests ?? 100_000);
    const env = { WORKERS: workers, REQUESTS: requests };
    const node = process.execPath;
    const mdServers: Record<string, string[]> = {
      'C mdbroker': [join(cbin, 'mdbroker')],
      mdbroker: [node, appScript('mdbroker'), '--bind', 'tcp://127.0.0.1:5555', '--log-level', 'warn'],
      'bare-mdbroker (zeromq.js floor)': [node, peerScript('bare-mdbroker'), 'tcp://127.0.0.1:5555'],
    };
    const flServers: Record<string, string[]> = {
      'C flserver3': [join(cbin, 'flserver3')],
      flserver: [node, appScript('flserver'), '--bind', 'tcp://localhost:5555', '--log-level', 'warn'],
      'bare-flserver (zeromq.js floor)': [node, peerScript('bare-flserver'), 'tcp://localhost:5555'],
    };
    const md = new Map<string, Trial[]>(Object.keys(mdServers).map((k) => [k, []]));
    const fl = new Map<string, Trial[]>(Object.keys(flServers).map((k) => [k, []]));
    const notes: string[] = [];
    let aborted = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const [name, server] of Object.entries(mdServers)) {
        const trial = await runTrial('md', cbin, server, env);
        ctx.log(
          `round ${round} mdp ${name}: ${trial.rate.toFixed(0)} req/s, ${trial.cpuUs.toFixed(1)} us CPU/request, load ${trial.load ?? '?'}`,
        );
        if (trial.replies !== Number(requests))
          throw new Error(`vs-c: ${name} answered ${trial.replies} of ${requests}`);
        md.get(name)?.push(trial);
      }
      for (const [name, server] of Object.entries(flServers)) {
        // flclient3 (the book's) sometimes aborts before printing its figure; such a trial is rerun.
        let trial = await runTrial('fl', cbin, server, env);
        for (let attempt = 1; trial.replies === 0 && attempt < 3; attempt++) {
          aborted++;
          ctx.log(`round ${round} flp ${name}: flclient3 printed no result, rerun`);
          trial = await runTrial('fl', cbin, server, env);
        }
        if (trial.replies === 0) throw new Error(`vs-c: flclient3 got no answer from ${name} in 3 attempts`);
        ctx.log(
          `round ${round} flp ${name}: ${trial.rttUs ?? '?'} us per round trip, ${trial.cpuUs.toFixed(1)} us CPU, load ${trial.load ?? '?'}`,
        );
        fl.get(name)?.push(trial);
      }
    }
    const cases: Record<string, CaseResult> = {};
    const mdC = md.get('C mdbroker');
    for (const [name, trials] of md) cases[`mdp ${workers} workers: ${name}`] = summarise(trials, mdC);
    const flC = fl.get('C flserver3');
    for (const [name, trials] of fl) cases[`flp flclient3: ${name}`] = summarise(trials, flC);
    notes.push(
      `${rounds} alternating rounds; rps is the mean, min/max per trial; cpuUsPerReq is the server's user+sys CPU per request from /proc; xC and cpuXC are ratios to the C server of the same shape`,
      isolated
        ? 'each trial ran in its own network namespace (unshare -n)'
        : 'trials ran in the host network namespace: ports 5555-5557 must be free',
    );
    if (aborted > 0) notes.push(`${aborted} flclient3 run(s) ended without a result and were rerun`);
    return { cases, notes };
  },
};
