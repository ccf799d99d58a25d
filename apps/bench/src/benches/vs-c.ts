/**
 * vs-c: ours side by side with the book's C programs and with a bare zeromq.js floor of the same
 * shape, under the same peers, alternating in one run. Each shape is a file in `src/vs-c/`;
 * `--shapes a,b` picks some (default: all). A shape whose C programs are not built is skipped
 * with a message; with none built the benchmark says so and exits 0.
 *
 * Each trial runs in its own empty network namespace (`unshare -n`) when that is allowed (root),
 * because the C programs use fixed ports; otherwise those ports must be free.
 */
import { crefDir, isolated, missingPrograms } from '../vs-c/harness.js';
import { shapes } from '../vs-c/shapes.js';
import type { BenchContext, BenchReport, Benchmark, CaseResult } from '../lib/types.js';

function selected(ctx: BenchContext): typeof shapes {
  const flag = ctx.flags['shapes'];
  if (typeof flag !== 'string') return shapes;
  const names = flag.split(',').map((s) => s.trim());
  const unknown = names.filter((n) => !shapes.some((s) => s.name === n));
  if (unknown.length > 0) {
    throw new Error(`vs-c: unknown shape(s) ${unknown.join(', ')} (known: ${shapes.map((s) => s.name).join(', ')})`);
  }
  return shapes.filter((s) => names.includes(s.name));
}

export const benchmark: Benchmark = {
  description: "ours beside the book's C programs and a bare zeromq.js floor, same peers, alternating",
  unavailable(ctx) {
    const dir = crefDir(ctx);
    const chosen = selected(ctx);
    // Shapes with no C program (titanic-scale, clone-client) run without them only when named.
    if (typeof ctx.flags['shapes'] === 'string' && chosen.some((s) => s.programs.length === 0)) return undefined;
    const runnable = chosen.filter((s) => s.programs.length > 0 && missingPrograms(dir, s.programs).length === 0);
    if (runnable.length > 0) return undefined;
    return (
      `vs-c: the book's C programs are not in ${dir}; nothing to compare. ` +
      'Build them as docs/benchmarks.md describes, then pass --cref <dir> or set ZPAT_CREF_BIN. ' +
      `The shapes that need none run when named: --shapes ${shapes
        .filter((s) => s.programs.length === 0)
        .map((s) => s.name)
        .join(',')}.`
    );
  },
  async run(ctx: BenchContext): Promise<BenchReport> {
    const cbin = crefDir(ctx);
    const rounds = typeof ctx.flags['rounds'] === 'string' ? Math.max(1, Number(ctx.flags['rounds'])) : 2;
    const cases: Record<string, CaseResult> = {};
    const notes: string[] = [
      `${rounds} alternating rounds per shape; each figure is the mean over the trials (Min/Max beside it); cpu_us is the CPU (user+sys, all threads, from /proc) of the process under test per message; rss_kb its peak RSS; xC/cpuXC/p50XC/p99XC/rssXC are ratios to the C program, xFloor/cpuXFloor/... to the bare zeromq.js floor`,
      isolated()
        ? 'each trial ran in its own network namespace (unshare -n)'
        : 'trials ran in the host network namespace: the C programs’ fixed ports must be free',
    ];
    let failed = 0;
    for (const shape of selected(ctx)) {
      const absent = missingPrograms(cbin, shape.programs);
      if (absent.length > 0) {
        const line = `vs-c: ${shape.name} skipped: the book's ${absent.join(', ')} not in ${cbin}`;
        ctx.log(line);
        notes.push(line);
        continue;
      }
      ctx.log(`vs-c: ${shape.name}: ${shape.description}`);
      try {
        const report = await shape.run(ctx, cbin, rounds);
        Object.assign(cases, report.cases);
        notes.push(...(report.notes ?? []).map((n) => `${shape.name}: ${n}`));
      } catch (error) {
        // One failed trial fails its shape, not the sitting: the other shapes still run.
        const line = `vs-c: ${shape.name} FAILED: ${error instanceof Error ? error.message : String(error)}`;
        ctx.log(line);
        notes.push(line);
        failed++;
      }
    }
    if (failed > 0) process.exitCode = 1;
    return { cases, notes };
  },
};
