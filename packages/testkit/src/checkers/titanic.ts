/**
 * The Titanic checker: what 9/TSP plus our durability promise guarantee, checked over a whole
 * History. A request is known by its body, which the test makes unique per submission (Titanic
 * sends the worker the body, never the UUID).
 *
 * The operations it reads:
 *
 *   client  submit   invoke { value: body }         ok { key: uuid } | fail | unknown
 *   client  fetch    invoke { key: uuid }           ok { status: 'replied', reply } | ok { status: 'pending' }
 *                                                   | ok { status: 'unknown' } | fail | unknown
 *   client  close    invoke { key: uuid }           ok | fail | unknown
 *   worker  execute  invoke { value: body }         ok { reply }   (one per run of the request)
 *   nemesis start / stop                            (see `faultWindows`)
 *
 * The guarantees, each an error when broken:
 * - every acknowledged UUID names one request: no two acknowledged submissions share a UUID;
 * - every acknowledged UUID is answered: some fetch returns a reply (unless it was closed first);
 * - the reply is one a worker produced for that very request, never another request's reply;
 * - it is the one stored reply: every fetch that returns a reply returns the same one, and once a
 *   reply was fetched no later fetch says "pending";
 * - nothing acknowledged is forgotten: a fetch answers "unknown" (400) only after the UUID was closed;
 * - the worker saw every acknowledged request at least once, and ran nothing nobody submitted;
 * - a request runs again only after a fault: a run beyond the first is allowed when a fault window
 *   overlapped an earlier run of the same request, widened by `inFlightMarginMs` on both sides
 *   (the request travels before the run starts and its reply travels and is committed after it
 *   ends). Runs beyond the first are counted in `stats.duplicates`, and per fault that excused
 *   them in `stats['duplicates: <fault>']`. With `minRepeatGapMs`, a run again must also start that
 *   long after the run before it, except after the faults in `immediateRepeatFaults`.
 */
import type { CheckResult, Checker, Op } from '../history.js';
import { pairOps } from '../history.js';
import { faultWindows, type FaultWindow } from '../nemesis.js';

export interface TitanicCheckOptions {
  /**
   * How far before a run's start and after its end the request still counts as in flight (the
   * request on its way to the worker, the reply on its way back and being committed). @default 2000
   */
  inFlightMarginMs?: number;
  /** Fault kinds that may make a request run again. @default every kind */
  duplicateKinds?: readonly string[];
  /**
   * A run again must start at least this long after the start of the run before it (Titanic sends
   * a request again only once its dispatch timeout has passed), except after the faults named in
   * `immediateRepeatFaults`. @default 0
   */
  minRepeatGapMs?: number;
  /** Faults after which a request may run again at once (SQLite Titanic's restart). @default none */
  immediateRepeatFaults?: readonly string[];
}

interface Run {
  invoke: Op;
  start: number;
  end: number;
  reply: string | undefined;
}

type Err = CheckResult['errors'][number];

const text = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);

export function checkTitanic(history: readonly Op[], options: TitanicCheckOptions = {}): CheckResult {
  const margin = options.inFlightMarginMs ?? 2000;
  const errors: Err[] = [];
  const pairs = pairOps(history);
  const lastTime = history.reduce((t, op) => Math.max(t, op.time), 0);
  const byIndex = new Map(history.map((op) => [op.index, op]));

  // --- submissions: body -> its submit; uuid -> its acknowledged submit -----------------------
  const submitByBody = new Map<string, Op>();
  const acknowledged = new Map<string, { body: string; ok: Op }>();
  let unknownSubmits = 0;
  for (const { invoke, completion } of pairs) {
    if (invoke.f !== 'submit') continue;
    const body = text(invoke.value) ?? '';
    const earlier = submitByBody.get(body);
    if (earlier !== undefined) {
      errors.push({
        message: `two submissions share the body ${body}: the history cannot tell them apart`,
        ops: [earlier.index, invoke.index],
      });
    }
    submitByBody.set(body, invoke);
    if (completion?.type !== 'ok') {
      if (completion?.type !== 'fail') unknownSubmits++;
      continue;
    }
    const uuid = completion.key;
    if (uuid === undefined) {
      errors.push({ message: 'an acknowledged submission has no UUID', ops: [completion.index] });
      continue;
    }
    const other = acknowledged.get(uuid);
    if (other !== undefined) {
      errors.push({
        message: `UUID ${uuid} was acknowledged for two requests`,
        ops: [other.ok.index, completion.index],
      });
      continue;
    }
    acknowledged.set(uuid, { body, ok: completion });
  }

  // --- worker runs, per body, in start order ----------------------------------------------------
  const runsByBody = new Map<string, Run[]>();
  const bodyByReply = new Map<string, string>();
  for (const { invoke, completion } of pairs) {
    if (invoke.f !== 'execute') continue;
    const body = text(invoke.value) ?? '';
    const reply = completion?.type === 'ok' ? text(completion['reply']) : undefined;
    const run: Run = { invoke, start: invoke.time, end: completion?.time ?? lastTime, reply };
    runsByBody.set(body, [...(runsByBody.get(body) ?? []), run]);
    if (reply !== undefined) bodyByReply.set(reply, body);
    if (!submitByBody.has(body)) {
      errors.push({ message: `a worker ran ${body}, which no client submitted`, ops: [invoke.index] });
    }
  }

  // --- fetches and closes per UUID ----------------------------------------------------------------
  const closesByUuid = new Map<string, Op[]>();
  for (const { invoke } of pairs) {
    if (invoke.f === 'close' && invoke.key !== undefined) {
      closesByUuid.set(invoke.key, [...(closesByUuid.get(invoke.key) ?? []), invoke]);
    }
  }
  const fetchesByUuid = new Map<string, Op[]>();
  for (const { invoke, completion } of pairs) {
    if (invoke.f !== 'fetch' || completion?.type !== 'ok' || invoke.key === undefined) continue;
    fetchesByUuid.set(invoke.key, [...(fetchesByUuid.get(invoke.key) ?? []), completion]);
  }

  let answered = 0;
  for (const [uuid, { body, ok }] of acknowledged) {
    const closes = closesByUuid.get(uuid) ?? [];
    const closedBefore = (time: number) => closes.some((close) => close.time <= time);
    const runs = runsByBody.get(body) ?? [];
    const replies = new Set(runs.flatMap((run) => (run.reply === undefined ? [] : [run.reply])));
    let stored: { reply: string; op: Op } | undefined;
    for (const fetch of fetchesByUuid.get(uuid) ?? []) {
      const status = fetch['status'];
      const fetchInvoke = byIndex.get(fetch['invoke'] as number);
      if (status === 'replied') {
        const reply = text(fetch['reply']) ?? '';
        if (!replies.has(reply)) {
          const owner = bodyByReply.get(reply);
          errors.push({
            message:
              owner !== undefined
                ? `UUID ${uuid} (${body}) was answered with the reply of another request (${owner})`
                : `UUID ${uuid} (${body}) was answered with a reply no worker produced for it: ${reply}`,
            ops: [ok.index, fetch.index],
          });
        } else if (stored !== undefined && stored.reply !== reply) {
          errors.push({
            message: `UUID ${uuid} (${body}) has two stored replies: ${stored.reply} then ${reply}`,
            ops: [stored.op.index, fetch.index],
          });
        }
        stored ??= { reply, op: fetch };
      } else if (status === 'pending') {
        if (stored !== undefined && fetchInvoke !== undefined && fetchInvoke.time > stored.op.time) {
          errors.push({
            message: `UUID ${uuid} (${body}) said "pending" after its reply had been fetched`,
            ops: [stored.op.index, fetch.index],
          });
        }
      } else if (status === 'unknown' && !closedBefore(fetch.time)) {
        errors.push({
          message: `acknowledged UUID ${uuid} (${body}) was lost: a fetch answered "unknown" before any close`,
          ops: [ok.index, fetch.index],
        });
      }
    }
    if (stored !== undefined) answered++;
    else if (!closedBefore(lastTime)) {
      errors.push({ message: `acknowledged UUID ${uuid} (${body}) was never answered`, ops: [ok.index] });
    }
    if (runs.length === 0) {
      errors.push({ message: `no worker ever ran acknowledged UUID ${uuid} (${body})`, ops: [ok.index] });
    }
  }

  // --- duplicates: a run beyond the first needs a fault while an earlier run was in flight -------
  const windows = faultWindows(history).filter(
    (w) => options.duplicateKinds === undefined || options.duplicateKinds.includes(w.kind),
  );
  const overlapping = (run: Run): FaultWindow[] =>
    windows.filter((w) => w.start <= run.end + margin && w.end >= run.start - margin);
  let executions = 0;
  let duplicates = 0;
  let explained = 0;
  const minGap = options.minRepeatGapMs ?? 0;
  const immediate = new Set(options.immediateRepeatFaults ?? []);
  const byFault: Record<string, number> = {};
  for (const [body, runs] of runsByBody) {
    executions += runs.length;
    runs.sort((a, b) => a.start - b.start);
    for (let k = 1; k < runs.length; k++) {
      duplicates++;
      const run = runs[k] as Run;
      const excuses = runs.slice(0, k).flatMap(overlapping);
      const window = excuses[0];
      const ops = [...runs.slice(0, k).map((r) => r.invoke.index), run.invoke.index];
      if (window === undefined) {
        errors.push({ message: `${body} ran ${k + 1} times with no fault while an earlier run was in flight`, ops });
        continue;
      }
      const gap = run.start - (runs[k - 1] as Run).start;
      if (gap < minGap && !excuses.some((w) => immediate.has(w.fault))) {
        errors.push({
          message: `${body} ran again ${Math.round(gap)} ms after its previous run (after ${window.fault}), sooner than ${minGap} ms`,
          ops,
        });
        continue;
      }
      explained++;
      byFault[`duplicates: ${window.fault}`] = (byFault[`duplicates: ${window.fault}`] ?? 0) + 1;
    }
  }

  return {
    valid: errors.length === 0,
    errors,
    stats: {
      submitted: submitByBody.size,
      acknowledged: acknowledged.size,
      unknownSubmits,
      answered,
      executions,
      duplicates,
      duplicatesInFaultWindows: explained,
      faults: windows.length,
      ...byFault,
    },
  };
}

/** `checkTitanic` with its options bound, for `assertHistory`. */
export function titanicChecker(options: TitanicCheckOptions = {}): Checker {
  return (history) => checkTitanic(history, options);
}
