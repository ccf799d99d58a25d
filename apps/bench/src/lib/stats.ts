/** Latency samples and percentiles, allocation-free while recording. */
export class Latencies {
  readonly #samples: Float64Array;
  #count = 0;

  constructor(capacity: number) {
    this.#samples = new Float64Array(capacity);
  }

  get count(): number {
    return this.#count;
  }

  record(ms: number): void {
    if (this.#count < this.#samples.length) this.#samples[this.#count++] = ms;
  }

  /** The p-th percentile (0..100) of what was recorded. */
  percentile(p: number): number {
    if (this.#count === 0) return Number.NaN;
    const sorted = this.#samples.slice(0, this.#count).sort();
    const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[index] as number;
  }
}

/** Resident set size of a process in KiB (Linux `/proc`), or NaN when unavailable. */
export async function rssKb(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match === null ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}
