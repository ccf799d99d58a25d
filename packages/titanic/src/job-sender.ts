/**
 * One dispatch of one stored request: read its body (from the store, or the lease that holds it),
 * check the service has a worker when the dispatch is a probe, send it with no resend, and record
 * the reply durably; or count the failure and let the queue (and, with leases, the store) retry it.
 *
 *   body ──(probe: mmi.service "404"? back off)──> request(service, body, retries 0) ──> reply stored
 *                                                        │ timeout, error
 *                                                        └──> queue.failed(): backoff (lease: released)
 */
import { sleep, toError, type Clock, type Logger, type RequestOptions } from '@zpatterns/core';
import { failSpan, SpanKinds, startSpan, tracingActive, type TraceSpan } from '@zpatterns/core/internal';
import { isMmiService } from '@zpatterns/majordomo/protocol';
import type { DispatchClient, DispatcherStats } from './dispatcher-options.js';
import type { DispatchQueue, Job, Taken } from './dispatch-queue.js';
import type { GroupCommitter } from './group-commit.js';
import { releaseAfterFailure } from './lease-handback.js';
import type { LeaseKeeper } from './lease-keeper.js';
import type { TitanicStore } from './store.js';

/** What a `JobSender` works with: the dispatcher's parts, shared. */
export interface JobSenderParts {
  readonly client: DispatchClient;
  readonly store: TitanicStore;
  readonly committer: GroupCommitter;
  readonly queue: DispatchQueue;
  /** Claims, renewals and releases, when the store has leases. */
  readonly keeper: LeaseKeeper | undefined;
  /** The dispatcher's counters, updated in place. */
  readonly stats: DispatcherStats;
  readonly log: Logger;
  readonly clock: Clock;
  /** How long one attempt waits for the service's reply. */
  readonly timeoutMs: number;
  readonly mmiCheck: boolean;
  /** The dispatcher's shutdown: aborts every request in flight (or the client is closed, when it can be). */
  readonly signal: AbortSignal;
  /** Lease stores: when each request in flight was sent (for the hand-back at close). */
  readonly sentAt: Map<string, number>;
}

/** How one dispatch ended, as the span's `titanic.outcome` (failures: `timeout`, `error`, `abandoned`). */
type DispatchOutcome = 'replied' | 'no-worker' | 'skipped' | 'lease-expired';

const MMI_SERVICE = 'mmi.service';
const NOT_FOUND = Buffer.from('404');

/** Sends one taken request at a time per call of `send`; many calls run at once. */
export class JobSender {
  readonly #p: JobSenderParts;

  /** The options of every request: one attempt, no resend. */
  readonly #options: RequestOptions;

  constructor(parts: JobSenderParts) {
    this.#p = parts;
    // One attempt bounded by its own wait (no resend): the client then needs no whole-call budget
    // (an AbortController, a timer and a listener per request). A client that can be closed is
    // closed at shutdown instead of being handed the shutdown signal with every request.
    this.#options = {
      attemptTimeoutMs: parts.timeoutMs,
      retries: 0,
      ...(parts.client.close === undefined ? { signal: parts.signal } : {}),
    };
  }

  /**
   * Dispatch `taken` once, with its stored body (`fresh`) when the caller has it at hand (a request just
   * committed), else read from the store. Never rejects: a failure is counted, logged and left to
   * the queue.
   */
  async send({ job, probe }: Taken, fresh?: Buffer[]): Promise<void> {
    const { client, keeper, stats, signal } = this.#p;
    const options = this.#options;
    let sent = false;
    // With a tracer provider registered: one CLIENT span per dispatch, its outcome as
    // `titanic.outcome`. Without one, neither its name nor its attributes are made.
    const span = tracingActive() ? this.#startSpan(job, probe) : undefined;
    try {
      // The body to send: held with the lease, at hand (just committed), or read from the store.
      let body: Buffer[] | undefined;
      if (keeper !== undefined) {
        body = keeper.holds(job.uuid);
        if (body === undefined) {
          // The lease ran out (renewals failed): another instance may hold it now. Not ours to send.
          keeper.drop(job.uuid, 'lease expired before dispatch');
          endSpan(span, 'lease-expired');
          return;
        }
      } else if (fresh !== undefined) {
        body = fresh;
      } else {
        body = (await this.#p.store.getRequest(job.uuid))?.body;
      }
      if (body === undefined) {
        // Closed (or already answered) since it was queued.
        stats.skipped++;
        this.#p.queue.remove(job.uuid);
        endSpan(span, 'skipped');
        return;
      }
      // The broker answers mmi.* itself: there is no worker to ask about.
      if (probe && this.#p.mmiCheck && !isMmiService(job.service)) {
        const status = await client.request(MMI_SERVICE, [job.service], options);
        const code = status.at(-1);
        if (code !== undefined && code.equals(NOT_FOUND)) {
          stats.noWorker++;
          this.#p.log.debug({ uuid: job.uuid, service: serviceName(job) }, 'no worker for the service yet');
          const now = this.#p.clock.now();
          this.#p.queue.failed(job, now, false);
          // Hand it (and the service's other queued requests) back with the circuit's backoff:
          // held here they would fill this instance's claim room and stall every other service.
          if (keeper !== undefined) releaseAfterFailure(this.#p.queue, keeper, job, now);
          endSpan(span, 'no-worker');
          return;
        }
      }
      if (keeper !== undefined && keeper.holds(job.uuid) === undefined) {
        keeper.drop(job.uuid, 'lease expired before dispatch');
        endSpan(span, 'lease-expired');
        return;
      }
      sent = true;
      stats.sent++;
      if (keeper !== undefined) this.#p.sentAt.set(job.uuid, this.#p.clock.now());
      const reply = await client.request(job.service, body, options);
      const committer = this.#p.committer;
      if (keeper !== undefined) await this.#storeReply(job, reply, keeper);
      else if (committer.immediate) committer.writeNow({ type: 'reply', uuid: job.uuid, body: reply });
      else await committer.write({ type: 'reply', uuid: job.uuid, body: reply });
      stats.replies++;
      keeper?.forget(job.uuid);
      this.#p.queue.succeeded(job);
      endSpan(span, 'replied');
    } catch (caught) {
      const err = toError(caught);
      if (span !== undefined) {
        const code = (err as { code?: unknown }).code;
        span.setAttribute(
          'titanic.outcome',
          signal.aborted ? 'abandoned' : code === 'ERR_TIMEOUT' ? 'timeout' : 'error',
        );
        failSpan(span, err);
      }
      this.#failed(job, sent, err);
    } finally {
      // Kept through close(): a request abandoned in flight is handed back with what remains of its
      // timeout. Only lease stores record it.
      if (keeper !== undefined && !signal.aborted) this.#p.sentAt.delete(job.uuid);
    }
  }

  #startSpan(job: Job, probe: boolean): TraceSpan | undefined {
    const name = serviceName(job);
    return startSpan('@zpatterns/titanic', name, SpanKinds.client, {
      'rpc.system': 'majordomo',
      'rpc.service': name,
      'titanic.uuid': job.uuid,
      'titanic.probe': probe,
    });
  }

  /**
   * Lease stores: record the reply, retrying while the database is unreachable, as long as the
   * lease holds; sending the request again instead would run it twice.
   */
  async #storeReply(job: Job, reply: Buffer[], keeper: LeaseKeeper): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#p.committer.write({ type: 'reply', uuid: job.uuid, body: reply });
        return;
      } catch (err) {
        if (this.#p.signal.aborted || keeper.holds(job.uuid) === undefined) throw err;
        this.#p.stats.replyRetries++;
        const delayMs = keeper.storeDelay(attempt);
        // Request UUIDs are bearer tokens (titanic.reply, titanic.close): named at debug level only.
        this.#p.log.warn(
          { err: toError(err), service: serviceName(job), attempt, delayMs },
          'reply not stored, will retry',
        );
        this.#p.log.debug({ uuid: job.uuid, attempt }, 'reply not stored');
        await sleep(delayMs, { clock: this.#p.clock, signal: this.#p.signal });
      }
    }
  }

  #failed(job: Job, sent: boolean, err: Error): void {
    const { queue, log, stats } = this.#p;
    if (this.#p.signal.aborted) {
      queue.released(job);
      return;
    }
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_TIMEOUT') {
      stats.timeouts++;
      log.debug({ uuid: job.uuid, sent }, 'attempt timed out');
      log.info(
        { service: serviceName(job), attempts: job.attempts + (sent ? 1 : 0), timeoutMs: this.#p.timeoutMs },
        sent ? 'no reply from the service, will retry' : 'broker did not answer mmi.service, will retry',
      );
    } else {
      stats.errors++;
      log.debug({ uuid: job.uuid }, 'dispatch failed');
      log.error({ err, service: serviceName(job) }, 'dispatch failed, will retry');
    }
    const now = this.#p.clock.now();
    queue.failed(job, now, sent);
    if (this.#p.keeper !== undefined) releaseAfterFailure(queue, this.#p.keeper, job, now);
  }
}

/** End the dispatch's span, when there is one, with its outcome (a function: no closure per dispatch). */
function endSpan(span: TraceSpan | undefined, outcome: DispatchOutcome): void {
  if (span === undefined) return;
  span.setAttribute('titanic.outcome', outcome);
  span.end();
}

function serviceName(job: Job): string {
  return job.service.toString('utf8');
}
