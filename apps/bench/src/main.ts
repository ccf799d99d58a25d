/**
 * `npm run bench -- <name> [--json] [--requests N] [--window N] [--<flag> value ...]`
 *
 * Runs the raw-echo baseline, then the named benchmark, in one run on one machine, and prints a
 * table with every case's ratio to the baseline. With `--json`, the last line of stdout is one
 * JSON object: {"bench", "cases": {name: {rps, p50Ms, p99Ms, ...}}, "baseline": {rps, ...}, "machine"}.
 */
import { readdirSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configureCommand, createProgram, EXIT_USAGE, intFlag } from '@zpatterns/app-kit';
import * as zmq from 'zeromq';
import { measureRawEcho } from './benches/raw-echo.js';
import type { BenchContext, Benchmark, CaseResult } from './lib/types.js';

const benchesDir = join(dirname(fileURLToPath(import.meta.url)), 'benches');
const available = readdirSync(benchesDir)
  .filter((f) => f.endsWith('.js'))
  .map((f) => f.slice(0, -3))
  .sort();

const program = createProgram('bench', 'Run a benchmark beside the raw-echo baseline measured in the same run')
  .argument('<name>', `benchmark to run: ${available.join(', ')}`)
  .option('--json', 'print one JSON object with all results on the last line', false)
  .option('--requests <n>', 'requests per case (default: the benchmark’s own)', intFlag(1, 100_000_000))
  .option('--window <n>', 'requests in flight for pipelined cases', intFlag(1, 1_000_000), 100)
  .option('--baseline-requests <n>', 'round trips for the raw-echo baseline', intFlag(1000, 100_000_000), 100_000)
  .allowUnknownOption(true)
  .allowExcessArguments(true);
configureCommand(program);
program.parse(process.argv);

const [name, ...rest] = program.args;
const opts = program.opts<{ json: boolean; requests?: number; window: number; baselineRequests: number }>();
if (name === undefined || !available.includes(name)) {
  process.stderr.write(`bench: unknown benchmark '${name ?? ''}' (available: ${available.join(', ')})\n`);
  process.exit(EXIT_USAGE);
}

const flags: Record<string, string | true> = {};
for (let i = 0; i < rest.length; i++) {
  const arg = rest[i] as string;
  if (!arg.startsWith('--')) continue;
  const next = rest[i + 1];
  if (next !== undefined && !next.startsWith('--')) {
    flags[arg.slice(2)] = next;
    i++;
  } else flags[arg.slice(2)] = true;
}

const ctx: BenchContext = {
  requests: opts.requests,
  window: opts.window,
  flags,
  log: (line) => process.stderr.write(`${line}\n`),
};

const module = (await import(join(benchesDir, `${name}.js`))) as { benchmark: Benchmark };
const unavailable = module.benchmark.unavailable?.(ctx);
if (unavailable !== undefined) {
  process.stdout.write(`${unavailable}\n`);
  process.exit(0);
}
ctx.log(`baseline: raw-echo, ${opts.baselineRequests} round trips, window ${opts.window}`);
const baseline = await measureRawEcho(opts.baselineRequests, opts.window);
const report =
  name === 'raw-echo' && opts.requests === undefined
    ? { cases: { 'raw-echo': baseline } as Record<string, CaseResult>, notes: [] }
    : await module.benchmark.run(ctx);

const machine = {
  node: process.version,
  libzmq: zmq.version,
  cpus: availableParallelism(),
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memGiB: Math.round(totalmem() / 2 ** 30),
};

const rows: string[][] = [['case', 'req/s', 'p50 ms', 'p99 ms', 'x raw-echo', 'other']];
const fmt = (n: number): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: 3 }) : '-');
const shown = name === 'raw-echo' ? report.cases : { 'raw-echo (baseline)': baseline, ...report.cases };
for (const [caseName, result] of Object.entries(shown)) {
  const { rps, p50Ms, p99Ms, ...other } = result;
  rows.push([
    caseName,
    fmt(rps),
    fmt(p50Ms),
    fmt(p99Ms),
    (rps / baseline.rps).toFixed(2),
    Object.entries(other)
      .map(([k, v]) => `${k}=${fmt(v)}`)
      .join(' '),
  ]);
}
const widths = rows[0]?.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length))) ?? [];
const out: string[] = [
  `bench ${name}: ${module.benchmark.description}`,
  `machine: ${machine.cpus} cores (${machine.cpuModel}), ${machine.memGiB} GiB, node ${machine.node}, libzmq ${machine.libzmq}`,
  '',
  ...rows.map((r) =>
    r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col] ?? 0) : cell.padStart(widths[col] ?? 0))).join('  '),
  ),
];
for (const note of report.notes ?? []) out.push(`note: ${note}`);
process.stdout.write(`${out.join('\n')}\n`);
if (opts.json) {
  process.stdout.write(`${JSON.stringify({ bench: name, cases: report.cases, baseline, machine })}\n`);
}
process.exit(process.exitCode ?? 0);
