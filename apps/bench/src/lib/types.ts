/** The contract between the harness and each benchmark in `src/benches/<name>.ts`. */

/** One measured case. `rps`, `p50Ms` and `p99Ms` are required; add any other figures. */
export interface CaseResult {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  [metric: string]: number;
}

export interface BenchContext {
  /** Requests per case, from `--requests` (each benchmark has its own default). */
  readonly requests: number | undefined;
  /** Requests in flight at once for pipelined cases, from `--window`. */
  readonly window: number;
  /** Extra `--flag value` pairs given after the name, for benchmark-specific switches. */
  readonly flags: Readonly<Record<string, string | true>>;
  /** Progress output (stderr), never part of the results. */
  log(line: string): void;
}

export interface BenchReport {
  cases: Record<string, CaseResult>;
  /** Free-form lines printed under the table (what was measured, caveats). */
  notes?: string[];
}

/** What `src/benches/<name>.ts` exports. */
export interface Benchmark {
  readonly description: string;
  /**
   * A reason the benchmark cannot run here (e.g. missing external programs), checked before the
   * baseline: the harness prints it and exits 0. `undefined` when it can run.
   */
  unavailable?(ctx: BenchContext): string | undefined;
  run(ctx: BenchContext): Promise<BenchReport>;
}
