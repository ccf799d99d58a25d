import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { alternate, runTrial, summarise, type Contender } from '../src/vs-c/harness.js';
import type { BenchContext } from '../src/lib/types.js';

const run = promisify(execFile);
const ctx: BenchContext = { requests: undefined, window: 100, flags: {}, log: () => undefined };
const printing = (line: string): [string, string[]] => ['sh', ['-c', `echo '${line}'`]];

describe('vs-c trials', () => {
  it('reads every key=value pair a trial prints', async () => {
    const trial = await runTrial('t', ...printing('noise rate=1250.5 cpu_us=12.25 replies=10 expected=10 load=0.5'));
    expect(trial).toEqual({ rate: 1250.5, cpu_us: 12.25, replies: 10, expected: 10, load: 0.5 });
  });

  it('fails a trial that was not fully answered', async () => {
    await expect(runTrial('short', ...printing('rate=100 replies=9 expected=10'))).rejects.toThrow(
      'short: answered 9 of 10',
    );
  });

  it('keeps a short trial only when told to (the C programs), with what it answered', async () => {
    const trial = await runTrial('c', ...printing('rate=100 replies=9 expected=10'), {}, { allowShort: true });
    expect(trial).toEqual({ rate: 100, replies: 9, expected: 10 });
    // More replies than requests is never kept.
    await expect(
      runTrial('over', ...printing('rate=100 replies=11 expected=10'), {}, { allowShort: true }),
    ).rejects.toThrow('over: answered 11 of 10');
  });

  it('fails a trial that printed no rate', async () => {
    await expect(runTrial('mute', ...printing('replies=10'))).rejects.toThrow('mute: the trial printed no result');
  });
});

describe('vs-c summaries', () => {
  it('gives means, spreads and ratios to the C program and to the floor', () => {
    const ours = [
      { rate: 100, cpu_us: 20, p50_us: 300, p99_us: 900, rss_kb: 1000 },
      { rate: 300, cpu_us: 40, p50_us: 500, p99_us: 1100, rss_kb: 3000 },
    ];
    const c = [{ rate: 400, cpu_us: 10, p50_us: 200, p99_us: 500, rss_kb: 500 }];
    const floor = [{ rate: 250, cpu_us: 25, p50_us: 400, p99_us: 1000, rss_kb: 1600 }];
    const row = summarise('ours', ours, c, floor);
    expect(row.rps).toBe(200);
    expect(row.p50Ms).toBeCloseTo(0.4);
    expect(row.p99Ms).toBeCloseTo(1.0);
    expect(row['cpu_us']).toBe(30);
    expect(row['cpu_usMin']).toBe(20);
    expect(row['cpu_usMax']).toBe(40);
    expect(row['xC']).toBe(0.5);
    expect(row['cpuXC']).toBe(3);
    expect(row['p99XC']).toBe(2);
    expect(row['rssXC']).toBe(4);
    expect(row['xFloor']).toBe(0.8);
    expect(row['cpuXFloor']).toBe(1.2);
    expect(row['p50XFloor']).toBe(1);
  });

  it('alternates the contenders round by round and names each row by its shape', async () => {
    const order: string[] = [];
    const contender = (name: string, kind: Contender['kind'], cpu: number): Contender => ({
      name,
      kind,
      trial: (round) => {
        order.push(`${round}:${name}`);
        return Promise.resolve({ rate: 10, cpu_us: cpu });
      },
    });
    const cases = await alternate(ctx, 'shape', [contender('C', 'c', 5), contender('ours', 'ours', 10)], 2);
    expect(order).toEqual(['1:C', '1:ours', '2:C', '2:ours']);
    expect(cases['shape: ours']?.['cpuXC']).toBe(2);
    expect(cases['shape: C']?.['cpuXC']).toBeUndefined();
  });
});

describe('npm run bench -- vs-c without the C programs', () => {
  it('says where it looked and exits 0', async () => {
    const main = join(import.meta.dirname, '..', 'dist', 'main.js');
    const { stdout } = await run(process.execPath, [main, 'vs-c', '--cref', '/nonexistent/cref']);
    expect(stdout).toContain("vs-c: the book's C programs are not in /nonexistent/cref; nothing to compare.");
  });
});
