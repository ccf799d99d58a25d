/**
 * The Majordomo checker: the delivery guarantees of docs/majordomo.md, checked over a whole
 * History. A request is known by its body, which the test makes unique per request.
 *
 * The operations it reads:
 *
 *   client  request  invoke { value: body, service }   ok { reply } | fail | unknown
 *   worker  execute  invoke { value: body, service }   ok { reply }   (one per run of the request)
 *   nemesis start / stop                               (see `faultWindows`)
 *
 * The guarantees, each an error when broken:
 * - a request to an idempotent service (`idempotentServices`) is answered: it may fail only if a
 *   fault window overlapped it, from `healMs` before it was sent until it failed (the client's
 *   retries ran out while something was broken or still recovering);
 * - a request to any other service reaches a worker at most once (its client sends it once);
 * - an answer is one a worker produced for that very request, never another request's reply, and
 *   a request that was answered was run by a worker.
 * Runs beyond the first of idempotent requests are counted in `stats.duplicates`.
 */
import type { CheckResult, Checker, Op } from '../history.js';
import { pairOps } from '../history.js';
import { faultWindows } from '../nemesis.js';

export interface MajordomoCheckOptions {
  /** Services whose requests may run more than once and must be answered. */
  idempotentServices: readonly string[];
  /**
   * How long after a fault heals the system may still be recovering (workers re-registering with
   * their backoff, a restarted broker's first heartbeats). @default 2000
   */
  healMs?: number;
}

type Err = CheckResult['errors'][number];

const text = (value: unknown): string | undefined =>
  value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value);

export function checkMajordomo(history: readonly Op[], options: MajordomoCheckOptions): CheckResult {
  const healMs = options.healMs ?? 2000;
  const idempotent = new Set(options.idempotentServices);
  const errors: Err[] = [];
  const pairs = pairOps(history);
  const windows = faultWindows(history);

  const runs = new Map<string, { invoke: Op; reply: string | undefined }[]>();
  const bodyByReply = new Map<string, string>();
  for (const { invoke, completion } of pairs) {
    if (invoke.f !== 'execute') continue;
    const body = text(invoke.value) ?? '';
    const reply = completion?.type === 'ok' ? text(completion['reply']) : undefined;
    runs.set(body, [...(runs.get(body) ?? []), { invoke, reply }]);
    if (reply !== undefined) bodyByReply.set(reply, body);
  }

  const seen = new Map<string, Op>();
  let requests = 0;
  let answered = 0;
  let failedInFaults = 0;
  let duplicates = 0;
  for (const { invoke, completion } of pairs) {
    if (invoke.f !== 'request') continue;
    requests++;
    const body = text(invoke.value) ?? '';
    const service = text(invoke['service']) ?? '';
    const earlier = seen.get(body);
    if (earlier !== undefined) {
      errors.push({
        message: `two requests share the body ${body}: the history cannot tell them apart`,
        ops: [earlier.index, invoke.index],
      });
    }
    seen.set(body, invoke);
    const ran = runs.get(body) ?? [];

    if (completion?.type === 'ok') {
      answered++;
      const reply = text(completion['reply']) ?? '';
      if (!ran.some((run) => run.reply === reply)) {
        const owner = bodyByReply.get(reply);
        errors.push({
          message:
            owner !== undefined
              ? `${body} was answered with the reply of another request (${owner})`
              : ran.length === 0
                ? `${body} was answered but no worker ran it`
                : `${body} was answered with a reply no worker produced for it: ${reply}`,
          ops: [invoke.index, completion.index],
        });
      }
    } else if (idempotent.has(service)) {
      const end = completion?.time ?? Infinity;
      const excused = windows.some((w) => w.start <= end && w.end + healMs >= invoke.time);
      if (excused) failedInFaults++;
      else {
        errors.push({
          message: `${body} to idempotent service ${service} was not answered, and no fault overlapped it`,
          ops: completion === undefined ? [invoke.index] : [invoke.index, completion.index],
        });
      }
    }

    if (ran.length > 1) {
      if (idempotent.has(service)) duplicates += ran.length - 1;
      else {
        errors.push({
          message: `${body} to non-idempotent service ${service} reached a worker ${ran.length} times`,
          ops: [invoke.index, ...ran.map((run) => run.invoke.index)],
        });
      }
    }
  }

  for (const [body, ran] of runs) {
    if (!seen.has(body)) {
      errors.push({ message: `a worker ran ${body}, which no client sent`, ops: ran.map((run) => run.invoke.index) });
    }
  }

  return {
    valid: errors.length === 0,
    errors,
    stats: { requests, answered, failedInFaults, duplicates, faults: windows.length },
  };
}

/** `checkMajordomo` with its options bound, for `assertHistory`. */
export function majordomoChecker(options: MajordomoCheckOptions): Checker {
  return (history) => checkMajordomo(history, options);
}
