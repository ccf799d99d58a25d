/**
 * A history of a test run, as Jepsen records one: every operation a client, worker or the nemesis
 * performed, as an `invoke` followed by its completion (`ok`, `fail`, or `unknown` when the outcome
 * cannot be known, e.g. a write whose acknowledgement timed out), with the process that did it, the
 * key, value and server involved, and the time. A checker is a pure function over the whole
 * history; when it finds the history invalid, `assertHistory` writes it as JSON lines next to its
 * seed so the run can be read and replayed.
 *
 *   const history = new History({ seed, name: 'clone' });
 *   const op = history.invoke('client-1', 'write', { key: 'k', value: 'v' });
 *   try { await client.set('k', 'v'); op.ok({ server: 'primary' }); }
 *   catch { op.unknown(); }
 *   assertHistory(history, checkClone);
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';

/**
 * `invoke`: the operation started. `ok`: it took effect. `fail`: it certainly did not.
 * `unknown`: it may or may not have taken effect (a timeout, a crash before the reply).
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'unknown';

export interface Op {
  /** Position in the history, 0..n-1. */
  index: number;
  /** The actor: 'client-3', 'worker-1', 'nemesis'. */
  process: string;
  type: OpType;
  /** 'write' | 'read' | 'delete' | 'submit' | 'fetch' | 'start' | 'stop' | ... */
  f: string;
  key?: string | undefined;
  value?: unknown;
  /** Which server answered, when known. */
  server?: string | undefined;
  /** Milliseconds since the history started (performance.now based). */
  time: number;
  /**
   * On a completion (`ok`, `fail`, `unknown`) made through `invoke(...)`: the index of its invoke.
   * Other fields: e.g. sequence (as a string), uuid, ttlMs.
   */
  [field: string]: unknown;
}

/** The completion of an invoked operation; exactly one of the three may be called. */
export interface PendingOp {
  /** The invoke this completes. */
  readonly invocation: Op;
  ok(fields?: Partial<Op>): Op;
  fail(fields?: Partial<Op>): Op;
  unknown(fields?: Partial<Op>): Op;
}

export interface CheckResult {
  valid: boolean;
  /** What is wrong, each with the indexes of the operations that show it. */
  errors: { message: string; ops: number[] }[];
  stats?: Record<string, number>;
}

export type Checker = (history: readonly Op[]) => CheckResult;

/** Where histories are written unless told: `$ZPATTERNS_HISTORY_DIR`, else `<tmpdir>/zpatterns-histories`. */
export function defaultHistoryDir(): string {
  return process.env['ZPATTERNS_HISTORY_DIR'] ?? join(tmpdir(), 'zpatterns-histories');
}

export class History {
  readonly seed: number;
  readonly name: string;
  readonly #ops: Op[] = [];
  readonly #start = performance.now();

  constructor(options: { seed?: number; name?: string } = {}) {
    this.seed = options.seed ?? 0;
    this.name = options.name ?? 'history';
  }

  get ops(): readonly Op[] {
    return this.#ops;
  }

  /** Milliseconds since the history started, on the clock the operations are stamped with. */
  now(): number {
    return performance.now() - this.#start;
  }

  /** Record the invoke of an operation; complete it through the returned handle. */
  invoke(process: string, f: string, fields: Partial<Op> = {}): PendingOp {
    const invocation = this.#append({ ...fields, process, type: 'invoke', f });
    let done = false;
    const complete = (type: Exclude<OpType, 'invoke'>, more: Partial<Op> = {}): Op => {
      if (done) throw new Error(`operation ${invocation.index} (${process} ${f}) is already complete`);
      done = true;
      const { index: _index, time: _time, type: _type, ...carried } = invocation;
      return this.#append({ ...carried, ...more, process, type, f, invoke: invocation.index });
    };
    return {
      invocation,
      ok: (more) => complete('ok', more),
      fail: (more) => complete('fail', more),
      unknown: (more) => complete('unknown', more),
    };
  }

  /** Record an operation that has no separate invoke (an observed read, a nemesis event). */
  record(op: Omit<Op, 'index' | 'time'>): Op {
    return this.#append(op);
  }

  #append(op: Omit<Op, 'index' | 'time'> & Partial<Pick<Op, 'index' | 'time'>>): Op {
    const full = { ...op, index: this.#ops.length, time: op.time ?? this.now() } as Op;
    this.#ops.push(full);
    return full;
  }

  /** The file name this history is written under: `<name>-seed-<seed>.jsonl`. */
  get fileName(): string {
    return `${this.name}-seed-${this.seed}.jsonl`;
  }

  /**
   * Write every operation as one JSON line (bigint as a decimal string, Buffer as its bytes) to
   * `<dir>/<name>-seed-<seed>.jsonl`, and return the path.
   */
  writeJsonl(dir: string = defaultHistoryDir()): string {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, this.fileName);
    writeFileSync(path, this.#ops.map((op) => JSON.stringify(op, jsonReplacer)).join('\n') + '\n');
    return path;
  }

  /** Read a history written by `writeJsonl` (name and seed come from the file name). */
  static readJsonl(path: string): History {
    const match = /^(.*)-seed-(-?\d+)\.jsonl$/.exec(basename(path));
    const history = new History(
      match?.[1] !== undefined ? { name: match[1], seed: Number(match[2]) } : { name: basename(path) },
    );
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const op = JSON.parse(line) as Op;
      history.#ops.push({ ...op, index: history.#ops.length });
    }
    return history;
  }
}

function jsonReplacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value).toString('utf8');
  // JSON.stringify has already turned a Buffer into { type: 'Buffer', data }: keep its text.
  if (
    typeof value === 'object' &&
    value !== null &&
    (value as { type?: unknown }).type === 'Buffer' &&
    Array.isArray((value as { data?: unknown }).data)
  ) {
    return Buffer.from((value as { data: number[] }).data).toString('utf8');
  }
  return value;
}

/** Each invoke with its completion (undefined when the run ended before it completed), in invoke order. */
export function pairOps(history: readonly Op[]): { invoke: Op; completion: Op | undefined }[] {
  const completions = new Map<number, Op>();
  for (const op of history) {
    if (op.type !== 'invoke' && typeof op['invoke'] === 'number') completions.set(op['invoke'], op);
  }
  return history
    .filter((op) => op.type === 'invoke')
    .map((invoke) => ({ invoke, completion: completions.get(invoke.index) }));
}

/**
 * Run `checker` over the history. When the history is invalid, write it as JSON lines and throw an
 * Error that names the seed, the path and the first errors.
 */
export function assertHistory(history: History, checker: Checker): CheckResult {
  const result = checker(history.ops);
  if (result.valid) return result;
  const path = history.writeJsonl();
  const shown = result.errors
    .slice(0, 10)
    .map((e) => `  - ${e.message} (ops ${e.ops.slice(0, 8).join(', ')})`)
    .join('\n');
  const more = result.errors.length > 10 ? `\n  ... and ${result.errors.length - 10} more` : '';
  throw new Error(
    `${history.name} history with seed ${history.seed} is invalid: ${result.errors.length} error(s); ` +
      `history written to ${path}\n${shown}${more}`,
  );
}
