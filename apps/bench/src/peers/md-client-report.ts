/**
 * What the Majordomo client drivers of the `mdclient` vs-c shape share (no Majordomo code here):
 * the request bodies (11 bytes like the book's "Hello world", the request's index in the first
 * four so a reply finds its send time in any order), the clock, and the one `key=value` line.
 */
import { performance } from 'node:perf_hooks';

const HELLO = Buffer.from('Hello world');

/** The body of request `i`: "Hello world" with `i` (uint32, big-endian) over its first 4 bytes. */
export function body(i: number): Buffer {
  const b = Buffer.allocUnsafe(HELLO.length);
  HELLO.copy(b);
  b.writeUInt32BE(i, 0);
  return b;
}

/** The request index a reply body carries. */
export const indexOf = (reply: Buffer): number => reply.readUInt32BE(0);

export const now = (): number => performance.now();

/**
 * Requests sent and answered before the measured run, not counted (`WARMUP`, default 0): the
 * trial script gives every contender the same number, C ones included.
 */
export const warmup = Math.max(0, Math.floor(Number(process.env['WARMUP'] ?? 0)) || 0);

/** The CPU this process has used so far (user+sys, all threads), in microseconds. */
export const cpuNow = (): number => {
  const cpu = process.cpuUsage();
  return cpu.user + cpu.system;
};

/**
 * The measured run: wall clock and this process's CPU (user+sys, all threads) from its start.
 * Made after the warm-up; `coldCpu` is the CPU reading taken before it (for `cold_cpu_us`).
 */
export class Measure {
  readonly #cpu0 = cpuNow();
  readonly #t0 = now();
  readonly #coldCpu: number;
  /** Round trips in ms, in the order they completed. */
  readonly latencies: Float64Array;
  replies = 0;

  constructor(
    readonly expected: number,
    coldCpu?: number,
  ) {
    this.latencies = new Float64Array(expected);
    this.#coldCpu = coldCpu ?? this.#cpu0;
  }

  done(latencyMs: number): void {
    this.latencies[this.replies++] = latencyMs;
  }

  /** Print `rate cpu_us cold_cpu_us replies expected p50_us p99_us rss_kb`. */
  print(): void {
    const seconds = (now() - this.#t0) / 1000;
    const cpu = cpuNow();
    const sorted = this.latencies.slice(0, this.replies).sort();
    const at = (q: number): number => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 1000;
    const n = Math.max(1, this.replies);
    process.stdout.write(
      `rate=${(this.replies / seconds).toFixed(1)} cpu_us=${((cpu - this.#cpu0) / n).toFixed(2)} ` +
        `cold_cpu_us=${((cpu - this.#coldCpu) / (n + warmup)).toFixed(2)} ` +
        `replies=${this.replies} expected=${this.expected} p50_us=${at(0.5).toFixed(0)} p99_us=${at(0.99).toFixed(0)} ` +
        `rss_kb=${process.resourceUsage().maxRSS}\n`,
    );
  }
}

/** Print what was answered and exit if the run has not ended after `ms` (a lost request). */
export function giveUpAfter(measure: Measure, ms: number): void {
  setTimeout(() => {
    measure.print();
    process.exit(1);
  }, ms).unref();
}

/** Exit with status 1 (and no figures, so the trial fails) if the warm-up has not ended after `ms`. */
export function warmupWatchdog(ms: number): () => void {
  const timer = setTimeout(() => process.exit(1), ms);
  return () => clearTimeout(timer);
}
