/**
 * The nemesis: faults injected into a running system on a seeded schedule, each recorded in the
 * run's History (process 'nemesis', an invoke/ok pair for its start and another for its stop), and
 * always healed at the end.
 *
 *   const faults = [
 *     partitionFault('pair cut', [stateAtoB, stateBtoA, replication, heartbeats]),
 *     pauseFault('pause primary', primary),
 *     killFault('kill backup', backup),
 *     combineFaults('pair cut + pause client link', [...]),
 *   ];
 *   const schedule = nemesisSchedule(seededRandom(seed), faults, { totalMs: 60_000 });
 *   await runNemesis({ history, faults, schedule, signal });
 *
 * A fault's `start()` breaks something and `stop()` heals it; `stop()` is idempotent, so healing
 * twice (the schedule's end, then a test's teardown) is safe.
 */
import type { Daemon } from './daemon.js';
import type { History, Op } from './history.js';
import type { ProxyDirection, TcpProxy } from './tcp-proxy.js';

export type FaultKind = 'partition' | 'pause' | 'kill' | 'combined' | 'custom';

export interface Fault {
  name: string;
  start(): Promise<void>;
  /** Heal; idempotent, and safe before `start()`. */
  stop(): Promise<void>;
  /** @default 'custom' */
  kind?: FaultKind;
  /** How long the schedule keeps it, [min, max] ms; @default the schedule's `faultMs`. */
  durationMs?: readonly [number, number];
}

/**
 * Black-hole every given proxy: a partition of the links that go through them (connections stay
 * open and bytes are held, as on a real network partition). `direction` makes it one-way:
 * 'up' holds what the connecting side sends, 'down' what the bound side sends.
 */
export function partitionFault(
  name: string,
  proxies: readonly TcpProxy[],
  options: { direction?: ProxyDirection; durationMs?: readonly [number, number] } = {},
): Fault {
  return {
    name,
    kind: 'partition',
    ...(options.durationMs !== undefined && { durationMs: options.durationMs }),
    start: () => {
      for (const proxy of proxies) proxy.blackhole(options.direction ?? 'both');
      return Promise.resolve();
    },
    stop: () => {
      for (const proxy of proxies) proxy.forward();
      return Promise.resolve();
    },
  };
}

/** SIGSTOP a daemon (alive to the kernel, silent to its peers); SIGCONT to heal. */
export function pauseFault(
  name: string,
  daemon: Daemon,
  options: { durationMs?: readonly [number, number] } = {},
): Fault {
  let paused = false;
  return {
    name,
    kind: 'pause',
    ...(options.durationMs !== undefined && { durationMs: options.durationMs }),
    start: () => {
      daemon.pause();
      paused = true;
      return Promise.resolve();
    },
    stop: () => {
      if (paused) daemon.resume();
      paused = false;
      return Promise.resolve();
    },
  };
}

/** SIGKILL a daemon; heal by restarting it with the same arguments (waits for its ready line). */
export function killFault(
  name: string,
  daemon: Daemon,
  options: { durationMs?: readonly [number, number] } = {},
): Fault {
  return {
    name,
    kind: 'kill',
    ...(options.durationMs !== undefined && { durationMs: options.durationMs }),
    start: async () => {
      await daemon.kill('SIGKILL');
    },
    stop: async () => {
      if (!daemon.running) await daemon.restart();
    },
  };
}

/** Several faults at once: started in order, healed in reverse order (every one, even if one fails). */
export function combineFaults(
  name: string,
  faults: readonly Fault[],
  options: { durationMs?: readonly [number, number] } = {},
): Fault {
  return {
    name,
    kind: 'combined',
    ...(options.durationMs !== undefined && { durationMs: options.durationMs }),
    start: async () => {
      for (const fault of faults) await fault.start();
    },
    stop: async () => {
      const errors: unknown[] = [];
      for (const fault of [...faults].reverse()) {
        try {
          await fault.stop();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, `healing ${name} failed`);
    },
  };
}

/** One planned fault: start `atMs` after the run starts, heal `forMs` later. */
export interface ScheduledFault {
  fault: string;
  atMs: number;
  forMs: number;
}

export interface ScheduleOptions {
  /** The run's length: no fault starts or lasts beyond it. */
  totalMs: number;
  /** How long a fault lasts when it does not say, [min, max]. @default [1000, 5000] */
  faultMs?: readonly [number, number];
  /** The quiet time before each fault, [min, max]. @default [1000, 3000] */
  gapMs?: readonly [number, number];
  /** Faults that come first, in this order, before the random ones (to make sure each is seen). */
  first?: readonly string[];
}

/** A seeded plan: faults one after another (a combined fault is several at once), with gaps. */
export function nemesisSchedule(
  random: () => number,
  faults: readonly Fault[],
  options: ScheduleOptions,
): ScheduledFault[] {
  if (faults.length === 0) return [];
  const between = (range: readonly [number, number]) => Math.round(range[0] + random() * (range[1] - range[0]));
  const byName = new Map(faults.map((f) => [f.name, f]));
  const schedule: ScheduledFault[] = [];
  let t = 0;
  for (let i = 0; ; i++) {
    const wanted = options.first?.[i];
    const fault =
      wanted !== undefined ? byName.get(wanted) : faults[Math.floor(random() * faults.length) % faults.length];
    if (fault === undefined) throw new Error(`no fault named ${wanted}`);
    const gap = between(options.gapMs ?? [1000, 3000]);
    const forMs = between(fault.durationMs ?? options.faultMs ?? [1000, 5000]);
    if (t + gap + forMs > options.totalMs) {
      if (wanted !== undefined) throw new Error(`fault ${wanted} does not fit in ${options.totalMs} ms`);
      break;
    }
    schedule.push({ fault: fault.name, atMs: t + gap, forMs });
    t += gap + forMs;
  }
  return schedule;
}

export interface RunNemesisOptions {
  history: History;
  faults: readonly Fault[];
  schedule: readonly ScheduledFault[];
  /** Stops the schedule early; the fault under way is healed. */
  signal?: AbortSignal;
}

/**
 * Play the schedule against the system, recording each start and stop in the history. Whatever
 * happens (abort, a fault that fails to start or heal), every fault is healed before this returns.
 */
export async function runNemesis(options: RunNemesisOptions): Promise<void> {
  const { history, schedule, signal } = options;
  const byName = new Map(options.faults.map((f) => [f.name, f]));
  const startedAt = history.now();
  let active: Fault | undefined;
  const heal = async (fault: Fault) => {
    const op = history.invoke('nemesis', 'stop', { fault: fault.name, kind: fault.kind ?? 'custom' });
    try {
      await fault.stop();
      op.ok();
    } catch (err) {
      op.fail({ error: String(err) });
      throw err;
    }
  };
  try {
    for (const planned of schedule) {
      const fault = byName.get(planned.fault);
      if (fault === undefined) throw new Error(`no fault named ${planned.fault}`);
      if (!(await sleepUntil(history, startedAt + planned.atMs, signal))) break;
      const op = history.invoke('nemesis', 'start', { fault: fault.name, kind: fault.kind ?? 'custom' });
      active = fault;
      try {
        await fault.start();
        op.ok();
      } catch (err) {
        op.fail({ error: String(err) });
        throw err;
      }
      await sleepUntil(history, startedAt + planned.atMs + planned.forMs, signal);
      active = undefined;
      await heal(fault);
    }
  } finally {
    if (active !== undefined) await heal(active);
    // Heal everything else too: idempotent, and a partial start leaves nothing behind.
    for (const fault of options.faults) await fault.stop();
  }
}

/** Sleep until the history's clock reads `atMs`; false if aborted. (The schedule, not a sync.) */
function sleepUntil(history: History, atMs: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  const waitMs = Math.max(0, Math.ceil(atMs - history.now()));
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      // Timers may fire a fraction of a millisecond early against performance.now().
      resolve(history.now() >= atMs ? true : sleepUntil(history, atMs, signal));
    }, waitMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A fault as it happened: from its start's invoke to its stop's completion (Infinity if never healed). */
export interface FaultWindow {
  fault: string;
  kind: string;
  start: number;
  end: number;
  ops: number[];
}

/** The nemesis's fault windows in a history, in start order. */
export function faultWindows(history: readonly Op[]): FaultWindow[] {
  const windows: FaultWindow[] = [];
  const open = new Map<string, FaultWindow>();
  for (const op of history) {
    if (op.process !== 'nemesis') continue;
    const fault = typeof op['fault'] === 'string' ? op['fault'] : op.f;
    if (op.f === 'start' && op.type === 'invoke') {
      const window: FaultWindow = {
        fault,
        kind: typeof op['kind'] === 'string' ? op['kind'] : 'custom',
        start: op.time,
        end: Infinity,
        ops: [op.index],
      };
      windows.push(window);
      open.set(fault, window);
    } else if (op.f === 'stop' && op.type !== 'invoke') {
      const window = open.get(fault);
      if (window === undefined) continue;
      window.end = op.time;
      window.ops.push(op.index);
      open.delete(fault);
    }
  }
  return windows;
}

/** When the last fault was healed (0 if there was none; Infinity if one never was). */
export function lastHeal(history: readonly Op[]): number {
  return faultWindows(history).reduce((latest, w) => Math.max(latest, w.end), 0);
}
