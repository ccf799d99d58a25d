/**
 * What every `vs-c` shape shares: where the book's C programs are, how one trial runs (in its own
 * network namespace when allowed, since the C programs use fixed ports), and how trials become
 * one row per contender with ratios to the C program and to the bare zeromq.js floor.
 *
 * A trial is any command that prints `key=value` pairs on its stdout (the last occurrence of a key
 * wins). The keys every shape uses, so the table reads the same for each:
 *
 *   rate      messages (requests, updates) per second over the measured part
 *   cpu_us    CPU (user+sys, all threads, from /proc) of the process under test, per message
 *   replies   messages answered (delivered); must equal `expected`, or the trial fails
 *   expected  messages sent
 *   p50_us    median latency, microseconds (where the driver times each message)
 *   p99_us    99th percentile latency, microseconds
 *   rss_kb    peak resident set of the process under test (VmHWM), KiB
 *   load      the machine's 1-minute load average at the end of the trial
 *
 * A shape may print more keys (e.g. `gaps`, `snapshot_ms`): they are averaged and shown as well.
 */
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, CaseResult } from '../lib/types.js';

/** Where the C binaries are looked for without `--cref` or `ZPAT_CREF_BIN`. */
export const DEFAULT_CREF_BIN = '/work/cref/bin';

/** `apps/bench/scripts/<name>`: the shell side of the trials. */
export function trialScript(name: string): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', name);
}

export function crefDir(ctx: BenchContext): string {
  const flag = ctx.flags['cref'];
  return typeof flag === 'string' ? flag : (process.env['ZPAT_CREF_BIN'] ?? DEFAULT_CREF_BIN);
}

/** The programs of `programs` that are not executable in `dir`. */
export function missingPrograms(dir: string, programs: readonly string[]): string[] {
  return programs.filter((name) => {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

let unshareAllowed: boolean | undefined;
/** Whether each trial can run in its own empty network namespace (root with `unshare -n`). */
export function isolated(): boolean {
  if (unshareAllowed !== undefined) return unshareAllowed;
  unshareAllowed = false;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
      unshareAllowed = true;
    } catch {
      // not allowed here: trials share the host's network namespace
    }
  }
  return unshareAllowed;
}

export type Trial = Record<string, number>;

/** Options of `runTrial`. */
export interface TrialOptions {
  /**
   * Keep a trial whose `replies` fall short of `expected` instead of failing it: only for the
   * book's C programs, whose losses are a finding to report, never for ours or a floor.
   */
  readonly allowShort?: boolean;
}

/**
 * Run one trial: `command` with `args` (in `unshare -n` when allowed, with the loopback
 * interface up), returning its `key=value` figures. Fails when it prints no `rate`, or when
 * `replies` differs from `expected` (every trial must be fully answered) unless `allowShort`.
 */
export function runTrial(
  label: string,
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
  options: TrialOptions = {},
): Promise<Trial> {
  const inner = ['sh', '-c', 'ip link set lo up 2>/dev/null; exec "$@"', 'trial', command, ...args];
  const [cmd, argv] = isolated() ? ['unshare', ['-n', ...inner]] : [inner[0] as string, inner.slice(1)];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', () => {
      const trial: Trial = {};
      for (const match of out.matchAll(/\b([a-z][a-z0-9_]*)=(-?[0-9.]+(?:e[-+]?[0-9]+)?)\b/g)) {
        trial[match[1] as string] = Number(match[2]);
      }
      if (trial['rate'] === undefined) {
        reject(new Error(`vs-c: ${label}: the trial printed no result: ${out.trim().slice(-400)}`));
        return;
      }
      const short = trial['expected'] !== undefined && trial['replies'] !== trial['expected'];
      if (short && !(options.allowShort === true && (trial['replies'] ?? 0) < (trial['expected'] ?? 0))) {
        reject(new Error(`vs-c: ${label}: answered ${trial['replies'] ?? 0} of ${trial['expected']}`));
        return;
      }
      resolve(trial);
    });
  });
}

/** A row of a shape's table: who is measured, and what kind of contender it is. */
export interface Contender {
  readonly name: string;
  /** `c`: the book's C program; `floor`: bare zeromq.js of the same shape; `ours`: ours. */
  readonly kind: 'c' | 'floor' | 'ours';
  /** One trial of this contender. */
  trial(round: number): Promise<Trial>;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function meanOf(trials: readonly Trial[], key: string): number | undefined {
  const values = trials.flatMap((t) => (t[key] === undefined ? [] : [t[key]]));
  return values.length === 0 ? undefined : mean(values);
}

/**
 * One row per contender: every figure's mean with its min and max over the trials, then the
 * ratios of the means to the C program (`xC`: rate; `cpuXC`, `p50XC`, `p99XC`, `rssXC`) and to the
 * floor (`xFloor`, `cpuXFloor`, ...), when the shape has them.
 */
export function summarise(
  name: string,
  trials: readonly Trial[],
  c?: readonly Trial[],
  floor?: readonly Trial[],
): CaseResult {
  const keys = [...new Set(trials.flatMap((t) => Object.keys(t)))];
  const result: CaseResult = {
    rps: meanOf(trials, 'rate') ?? Number.NaN,
    p50Ms: (meanOf(trials, 'p50_us') ?? Number.NaN) / 1000,
    p99Ms: (meanOf(trials, 'p99_us') ?? Number.NaN) / 1000,
  };
  for (const key of keys) {
    if (key === 'expected' || key === 'replies') continue;
    const values = trials.flatMap((t) => (t[key] === undefined ? [] : [t[key]]));
    if (key !== 'rate' && key !== 'p50_us' && key !== 'p99_us') result[key] = mean(values);
    if (values.length > 1) {
      result[`${key}Min`] = Math.min(...values);
      result[`${key}Max`] = Math.max(...values);
    }
  }
  const ratios = (suffix: string, reference: readonly Trial[] | undefined): void => {
    if (reference === undefined || reference === trials) return;
    const pairs: [string, string][] = [
      ['rate', 'x'],
      ['cpu_us', 'cpuX'],
      ['p50_us', 'p50X'],
      ['p99_us', 'p99X'],
      ['rss_kb', 'rssX'],
    ];
    for (const [key, prefix] of pairs) {
      const ours = meanOf(trials, key);
      const theirs = meanOf(reference, key);
      if (ours !== undefined && theirs !== undefined && theirs !== 0) result[`${prefix}${suffix}`] = ours / theirs;
    }
  };
  ratios('C', c);
  ratios('Floor', floor);
  void name;
  return result;
}

/**
 * Run `rounds` alternating rounds of every contender (each round runs each contender once, in the
 * order given), logging each trial, and return one summarised row per contender, named
 * `<shape>: <contender>`.
 */
export async function alternate(
  ctx: BenchContext,
  shape: string,
  contenders: readonly Contender[],
  rounds: number,
): Promise<Record<string, CaseResult>> {
  const trials = new Map<string, Trial[]>(contenders.map((c) => [c.name, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const contender of contenders) {
      const trial = await contender.trial(round);
      const shown = Object.entries(trial)
        .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(2)}`)
        .join(' ');
      ctx.log(`round ${round} ${shape} ${contender.name}: ${shown}`);
      trials.get(contender.name)?.push(trial);
    }
  }
  const c = contenders.find((x) => x.kind === 'c');
  const floor = contenders.find((x) => x.kind === 'floor');
  const cases: Record<string, CaseResult> = {};
  for (const contender of contenders) {
    const own = trials.get(contender.name) ?? [];
    cases[`${shape}: ${contender.name}`] = summarise(
      contender.name,
      own,
      c === undefined ? undefined : trials.get(c.name),
      floor === undefined ? undefined : trials.get(floor.name),
    );
  }
  return cases;
}

/** What each file in `src/vs-c/` (but this one and `shapes.ts`) exports. */
export interface Shape {
  /** Short name, used by `--shapes` (e.g. `mdbroker`, `mdworker`). */
  readonly name: string;
  readonly description: string;
  /** The book's C programs (file names in the cref directory) this shape needs. */
  readonly programs: readonly string[];
  run(
    ctx: BenchContext,
    cbin: string,
    rounds: number,
  ): Promise<{ cases: Record<string, CaseResult>; notes?: string[] }>;
}
