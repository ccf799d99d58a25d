/**
 * The Clone checker: the guarantees of docs/clone.md, as pure functions over a History.
 *
 * What a Clone run records (every `value` is unique to its write, so a value names its write):
 * - a write: `invoke(client, 'write', { key, value, ttlMs? })`, then `ok({ sequence, server })`
 *   (committed: the client saw its sequence come back), `unknown()` (the commit timed out: it may
 *   or may not take effect, at any later time) or `fail()` (it was certainly never sent). A delete
 *   is `f: 'delete'` with no value.
 * - a read: `record({ process: client, type: 'ok', f: 'read', key, value, sequence, server,
 *   snapshot })`, one per change a client's replica makes, in order; `value` undefined = absent.
 *   `snapshot: true` when the change came from a snapshot, whose `sequence` is the snapshot's (an
 *   upper bound of the write's), else it is the update's own.
 * - a server event: `record({ process: 'server-<name>', type: 'ok', f: 'role', value: 'active' |
 *   'passive', server })` and `f: 'split-brain'` with `stays: boolean`.
 * - a replica's final map: `record({ process: replica, type: 'ok', f: 'final', value: { key:
 *   value } })`, for every client and every server.
 *
 * The order of writes. A write's sequence is the one it was committed or published with. Both
 * servers of a split pair number from the same point, so numbers repeat across the two sides; and
 * the side that loses a split brain hands what it sequenced during the split to the winner, which
 * sequences it again. So a write is ordered by (epoch, sequence) of its latest sequencing, where
 * the epoch counts the lost split brains before it was seen, and a write the loser sequenced while
 * both were active belongs to the epoch that loss starts (the loser's value comes last).
 */
import type { Checker, CheckResult, Op } from '../history.js';
import { faultWindows, lastHeal } from '../nemesis.js';

export interface CloneCheckOptions {
  /** Every replica's final map must be read within this of the last heal (and the last write). */
  convergenceMs: number;
  /** The server's TTL flush interval: a TTL fires up to this late. @default 1000 */
  flushIntervalMs?: number;
  /** More lateness allowed for a TTL (failovers, resyncs round the seconds left up). @default 2000 */
  ttlSlackMs?: number;
}

type Ord = readonly [epoch: number, sequence: bigint];

interface Write {
  key: string;
  value: string | undefined;
  invoke: Op;
  completion: Op | undefined;
  ttlMs: number;
  /** Its order: from its commit if committed, else from the first read that shows it (if any). */
  ord: Ord | undefined;
  /** The last time it was seen (invoke, commit, read). */
  seen: number;
  /** Committed by the loser of a split brain while both were active: when that side lost. */
  handedOverAt?: number | undefined;
  /** The server that acknowledged it. */
  ackServer?: string | undefined;
  /** Whether `ord` comes from a read (after the hand-over, for one that was handed over). */
  ordFromRead?: boolean;
  /** Whether a read outside a loser's term placed it (the winner's numbering). */
  ordOutsideLoser?: boolean;
  /**
   * A delete the loser of a split brain committed, never placed by a read on the winner's side
   * (a read of nothing does not say which delete it shows): it may be anywhere after its commit.
   */
  uncertain?: boolean;
}

interface Model {
  writes: Write[];
  byValue: Map<string, Write>;
  keys: Set<string>;
  reads: Op[];
  finals: Op[];
  /** Reads served by the losing side of a split brain while both were active (its own lineage). */
  loserReads: Set<number>;
  /** Commit acknowledgements: (write, order, op). */
  acks: { write: Write; sequence: bigint; server: string | undefined; loserTerm: boolean; op: number }[];
}

const toBig = (v: unknown): bigint | undefined =>
  typeof v === 'bigint' ? v : typeof v === 'string' || typeof v === 'number' ? BigInt(v) : undefined;
const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v);

const cmp = (a: Ord, b: Ord): number => (a[0] !== b[0] ? a[0] - b[0] : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);

/** Build the model of a history: writes and their order, reads, finals. */
function model(history: readonly Op[]): Model {
  const writes: Write[] = [];
  const byValue = new Map<string, Write>();
  const byInvoke = new Map<number, Write>();
  const keys = new Set<string>();
  const reads: Op[] = [];
  const finals: Op[] = [];
  const losses: { server: string; time: number }[] = [];
  const roles: { server: string; time: number; active: boolean }[] = [];
  for (const op of history) {
    if ((op.f === 'write' || op.f === 'delete') && op.type === 'invoke' && op.key !== undefined) {
      const value = op.f === 'delete' ? undefined : str(op.value);
      const w: Write = {
        key: op.key,
        value,
        invoke: op,
        completion: undefined,
        ttlMs: typeof op['ttlMs'] === 'number' ? op['ttlMs'] : 0,
        ord: undefined,
        seen: op.time,
      };
      writes.push(w);
      byInvoke.set(op.index, w);
      if (value !== undefined) byValue.set(value, w);
      keys.add(op.key);
    } else if ((op.f === 'write' || op.f === 'delete') && op.type !== 'invoke') {
      const w = typeof op['invoke'] === 'number' ? byInvoke.get(op['invoke']) : undefined;
      if (w !== undefined) w.completion = op;
    } else if (op.f === 'read' && op.type === 'ok') {
      reads.push(op);
      if (op.key !== undefined) keys.add(op.key);
    } else if (op.f === 'final' && op.type === 'ok') {
      finals.push(op);
    } else if (op.f === 'split-brain' && op['stays'] === false) {
      losses.push({ server: op.server ?? op.process, time: op.time });
    } else if (op.f === 'role') {
      roles.push({ server: op.server ?? op.process, time: op.time, active: op.value === 'active' });
    }
  }

  const epochAt = (time: number) => losses.filter((l) => l.time <= time).length;
  /** When `server` became active for the term that includes `time` (undefined if not active then). */
  const activeSince = (server: string, time: number): number | undefined => {
    const last = roles.filter((r) => r.server === server && r.time <= time).at(-1);
    return last?.active === true ? last.time : undefined;
  };
  const faults = faultWindows(history);
  /**
   * Each lost split brain, as the window in which the two sides diverged: from the start of the
   * fault under way when the winner became active (or from then) to the loss, within the loser's
   * term as active.
   */
  const splits = losses.flatMap((loss) => {
    const loserSince = activeSince(loss.server, loss.time);
    const winner = roles.filter((r) => r.server !== loss.server && r.time <= loss.time).at(-1);
    if (loserSince === undefined || winner?.active !== true) return [];
    const cause = faults.filter((f) => f.start <= winner.time && f.end >= winner.time).at(0);
    const from = Math.max(loserSince, Math.min(winner.time, cause?.start ?? winner.time));
    return [{ server: loss.server, from, to: loss.time }];
  });
  /** When `server` lost the split brain it was in at `time`, if it was the loser of one then. */
  const loserTermEnd = (server: string | undefined, time: number): number | undefined =>
    splits.find((sp) => sp.server === server && sp.from <= time && time <= sp.to)?.to;
  const ordAt = (server: string | undefined, time: number, sequence: bigint) => {
    const end = loserTermEnd(server, time);
    return { ord: [end !== undefined ? epochAt(end) : epochAt(time), sequence] as Ord, end };
  };
  const acks: Model['acks'] = [];
  for (const w of writes) {
    const c = w.completion;
    const seq = toBig(c?.['sequence']);
    if (c?.type !== 'ok' || seq === undefined) continue;
    const { ord, end } = ordAt(c.server, c.time, seq);
    w.ord = ord;
    w.handedOverAt = end;
    w.ackServer = c.server;
    w.seen = Math.max(w.seen, c.time);
    acks.push({ write: w, sequence: seq, server: c.server, loserTerm: end !== undefined, op: c.index });
  }
  const loserReads = new Set<number>();
  for (const r of reads) if (loserTermEnd(r.server, r.time) !== undefined) loserReads.add(r.index);
  // A read of an unacknowledged write at sequence S shows it was the key's latest write at S: it
  // comes after every write of the key below S, before every one above (S is exact for an update,
  // the snapshot's for a snapshot: either way no other write of the key lies between). Reads the
  // loser of a split brain served number its own lineage, which the winner sequences again in an
  // order of its own (late copies from the clients may come before the hand-over): they place a
  // write only when no read outside a loser's term does, so the loser's numbers and the winner's
  // are never compared.
  const outsideFirst = [
    ...reads.filter((r) => !loserReads.has(r.index)),
    ...reads.filter((r) => loserReads.has(r.index)),
  ];
  for (const r of outsideFirst) {
    const value = str(r.value);
    const w = value === undefined ? undefined : byValue.get(value);
    const seq = toBig(r['sequence']);
    if (w === undefined || seq === undefined) continue;
    w.seen = Math.max(w.seen, r.time);
    if (loserReads.has(r.index) && w.ordFromRead === true && w.ordOutsideLoser === true) continue;
    // A committed write is ordered by its commit, unless the loser of a split brain committed it:
    // then by where the winner put it (it may have had a copy before the hand-over), as reads on
    // the winner's side show; with none, after everything the winner had sequenced when it won.
    if (
      w.completion?.type === 'ok' &&
      (w.handedOverAt === undefined || (r.server === w.ackServer && r.time < w.handedOverAt) || loserReads.has(r.index))
    ) {
      continue;
    }
    const { ord } = ordAt(r.server, r.time, seq);
    if (w.ord === undefined || w.ordFromRead !== true || cmp(ord, w.ord) < 0) w.ord = ord;
    w.ordFromRead = true;
    if (!loserReads.has(r.index)) w.ordOutsideLoser = true;
  }
  for (const w of writes) {
    if (w.handedOverAt !== undefined && w.value === undefined && w.ordFromRead !== true) w.uncertain = true;
  }
  return { writes, byValue, keys, reads, finals, acks, loserReads };
}

const committed = (w: Write) => w.completion?.type === 'ok';
const failed = (w: Write) => w.completion?.type === 'fail';
const label = (w: Write) => `${w.invoke.process} ${w.key}=${w.value ?? '(delete)'}`;

/** The values a replica may hold for `key` when read at `time`: `undefined` stands for absent. */
function allowedFinal(m: Model, key: string, time: number, o: Required<CloneCheckOptions>): Set<string | undefined> {
  const forKey = m.writes.filter((w) => w.key === key && !failed(w));
  // The highest-ordered committed write, and every other write that may come after it: one seen
  // after it, or one never seen at all (an unacknowledged write may take effect at any time).
  let last: Write | undefined;
  for (const w of forKey) {
    if (!committed(w) || w.uncertain === true || w.ord === undefined) continue;
    if (last?.ord === undefined || cmp(w.ord, last.ord) > 0) last = w;
  }
  const placed = (w: Write) => (w.uncertain === true ? undefined : w.ord);
  const lastOrd = last?.ord;
  let candidates = forKey.filter((w) => {
    if (w === last) return true;
    if (committed(w) && w.uncertain !== true) return false;
    const o = placed(w);
    return o === undefined || lastOrd === undefined || cmp(o, lastOrd) > 0;
  });
  // Among those placed, only the highest can be last; the others stay possible.
  const top = candidates.reduce<Ord | undefined>((t, w) => {
    const o = placed(w);
    return o !== undefined && (t === undefined || cmp(o, t) > 0) ? o : t;
  }, undefined);
  candidates = candidates.filter((w) => {
    const o = placed(w);
    return o === undefined || top === undefined || cmp(o, top) === 0;
  });
  const allowed = new Set<string | undefined>();
  if (last === undefined) allowed.add(undefined);
  for (const w of candidates) {
    if (w.value === undefined) {
      allowed.add(undefined);
      continue;
    }
    if (w.ttlMs > 0) {
      const latestExpiry = w.seen + Math.ceil(w.ttlMs / 1000) * 1000 + o.flushIntervalMs + o.ttlSlackMs;
      if (time >= w.invoke.time + w.ttlMs) allowed.add(undefined);
      if (time > latestExpiry) continue;
    }
    allowed.add(w.value);
  }
  return allowed;
}

const finalMap = (op: Op): Map<string, string> =>
  new Map(
    Object.entries((op.value ?? {}) as Record<string, unknown>).flatMap(([k, v]) => {
      const s = str(v);
      return s === undefined ? [] : [[k, s] as const];
    }),
  );

/** Every replica ends with, for each key, the value of its highest-ordered committed write (or a write that may follow it), or nothing after a delete or its TTL. */
export function checkFinalState(history: readonly Op[], options: CloneCheckOptions): CheckResult {
  const o = withDefaults(options);
  const m = model(history);
  const errors: CheckResult['errors'] = [];
  if (m.finals.length === 0) errors.push({ message: 'no replica recorded its final map', ops: [] });
  for (const final of m.finals) {
    const held = finalMap(final);
    for (const key of new Set([...m.keys, ...held.keys()])) {
      const value = held.get(key);
      const allowed = allowedFinal(m, key, final.time, o);
      if (allowed.has(value)) continue;
      const expected = [...allowed].map((v) => v ?? '(absent)').join(' or ');
      const writer = value === undefined ? undefined : m.byValue.get(value);
      errors.push({
        message: `${final.process} ends with ${key}=${value ?? '(absent)'}, expected ${expected}${
          value !== undefined && writer === undefined ? ' (a value nobody wrote)' : ''
        }`,
        ops: [final.index, ...(writer === undefined ? [] : [writer.invoke.index])],
      });
    }
  }
  return { valid: errors.length === 0, errors, stats: { replicas: m.finals.length, keys: m.keys.size } };
}

/**
 * A committed write is never lost unless a later write replaced it: some write to its key is
 * ordered after it, or its TTL ran out, or a replica ends with a write that may follow it.
 */
export function checkNoLostWrites(history: readonly Op[], options: CloneCheckOptions): CheckResult {
  withDefaults(options);
  const m = model(history);
  const errors: CheckResult['errors'] = [];
  const finalTime = Math.max(0, ...m.finals.map((f) => f.time));
  let acknowledged = 0;
  for (const w of m.writes.filter(committed)) {
    acknowledged += 1;
    const wOrd = w.ord;
    if (wOrd === undefined || w.value === undefined) continue;
    const replaced = m.writes.some(
      (u) =>
        u !== w &&
        u.key === w.key &&
        !failed(u) &&
        u.ord !== undefined &&
        (u.uncertain === true || cmp(u.ord, wOrd) > 0),
    );
    if (replaced) continue;
    if (w.ttlMs > 0 && finalTime >= w.invoke.time + w.ttlMs) continue;
    for (const final of m.finals) {
      const value = finalMap(final).get(w.key);
      if (value === w.value) continue;
      const holder = value === undefined ? undefined : m.byValue.get(value);
      // An unacknowledged write never seen before the replica ends with it may have replaced it.
      if (holder !== undefined && !committed(holder) && !failed(holder) && holder.ord === undefined) continue;
      errors.push({
        message: `acknowledged write ${label(w)} (sequence ${wOrd[1]}) lost: ${final.process} ends with ${
          value ?? '(absent)'
        }`,
        ops: [w.invoke.index, ...(w.completion === undefined ? [] : [w.completion.index]), final.index],
      });
    }
  }
  return { valid: errors.length === 0, errors, stats: { acknowledged } };
}

/**
 * No client reads a value older than one it already read for that key (reads of values), except
 * what the losing side of a split brain served while both were active: that lineage is undone.
 */
export function checkMonotonicReads(history: readonly Op[]): CheckResult {
  const m = model(history);
  const errors: CheckResult['errors'] = [];
  const latest = new Map<string, { ord: Ord; op: Op }>();
  for (const r of m.reads) {
    const value = str(r.value);
    if (value === undefined || m.loserReads.has(r.index)) continue;
    const w = m.byValue.get(value);
    if (w === undefined || w.key !== r.key) {
      errors.push({ message: `${r.process} read ${r.key}=${value}, which nobody wrote there`, ops: [r.index] });
      continue;
    }
    if (failed(w)) errors.push({ message: `${r.process} read ${label(w)}, a write that failed`, ops: [r.index] });
    const ord = w.ord;
    if (ord === undefined) continue;
    const id = `${r.process}\u0000${w.key}`;
    const before = latest.get(id);
    if (before !== undefined && cmp(ord, before.ord) < 0) {
      errors.push({
        message: `${r.process} read ${label(w)} (order ${ord.join('/')}) after a newer value ${String(before.op.value)} (order ${before.ord.join('/')})`,
        ops: [before.op.index, r.index],
      });
    }
    if (before === undefined || cmp(ord, before.ord) >= 0) latest.set(id, { ord, op: r });
  }
  return { valid: errors.length === 0, errors, stats: { reads: m.reads.length } };
}

/**
 * No sequence number names two committed updates, except across the two sides of a split brain
 * for an update the losing side committed while both were active (both sides number from the
 * same point; the winner sequences the loser's updates again when they are handed over).
 */
export function checkSequences(history: readonly Op[]): CheckResult {
  const m = model(history);
  const errors: CheckResult['errors'] = [];
  const bySequence = new Map<bigint, Model['acks']>();
  for (const ack of m.acks) {
    const list = bySequence.get(ack.sequence) ?? [];
    list.push(ack);
    bySequence.set(ack.sequence, list);
  }
  let shared = 0;
  for (const [sequence, list] of bySequence) {
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const a = list[i];
        const b = list[j];
        if (a === undefined || b === undefined || a.write === b.write) continue;
        if (a.server !== b.server && (a.loserTerm || b.loserTerm)) {
          shared += 1;
          continue;
        }
        errors.push({
          message: `sequence ${sequence} names two updates: ${label(a.write)} on ${a.server} and ${label(b.write)} on ${b.server}`,
          ops: [a.op, b.op],
        });
      }
    }
  }
  return { valid: errors.length === 0, errors, stats: { sequences: bySequence.size, splitBrainSequences: shared } };
}

/**
 * Every replica's final map is read within `convergenceMs` of the last heal (or of the last
 * write's completion, whichever is later), and every replica recorded one.
 */
export function checkConvergence(history: readonly Op[], options: CloneCheckOptions): CheckResult {
  const m = model(history);
  const errors: CheckResult['errors'] = [];
  const heal = lastHeal(history);
  const open = faultWindows(history).filter((w) => w.end === Infinity);
  for (const w of open) errors.push({ message: `fault ${w.fault} was never healed`, ops: w.ops });
  const lastWrite = Math.max(0, ...m.writes.map((w) => w.completion?.time ?? w.invoke.time));
  const from = Math.max(heal, lastWrite);
  let worst = 0;
  for (const final of m.finals) {
    const took = final.time - from;
    worst = Math.max(worst, took);
    if (took > options.convergenceMs) {
      errors.push({
        message: `${final.process} converged ${Math.round(took)} ms after the last heal, more than ${options.convergenceMs} ms`,
        ops: [final.index],
      });
    }
  }
  if (m.finals.length === 0) errors.push({ message: 'no replica recorded its final map', ops: [] });
  return { valid: errors.length === 0, errors, stats: { convergenceMs: Math.round(worst) } };
}

function withDefaults(options: CloneCheckOptions): Required<CloneCheckOptions> {
  return { flushIntervalMs: 1000, ttlSlackMs: 2000, ...options };
}

/** Every Clone check at once; the errors of each, prefixed with its name. */
export function cloneChecker(options: CloneCheckOptions): Checker {
  return (history) => {
    const results = {
      'final state': checkFinalState(history, options),
      'lost writes': checkNoLostWrites(history, options),
      'monotonic reads': checkMonotonicReads(history),
      sequences: checkSequences(history),
      convergence: checkConvergence(history, options),
    };
    const errors = Object.entries(results).flatMap(([name, r]) =>
      r.errors.map((e) => ({ ...e, message: `${name}: ${e.message}` })),
    );
    const stats = Object.assign({}, ...Object.values(results).map((r) => r.stats ?? {})) as Record<string, number>;
    return { valid: errors.length === 0, errors, stats };
  };
}
