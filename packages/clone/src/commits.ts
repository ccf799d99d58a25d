/**
 * The client's table of `commit()` calls waiting for their sequence: each is keyed by the UUID of
 * its update, settled when that update comes back from the server (as an update or inside a
 * snapshot), and ends early on its budget (core's `CallBudget`: `timeoutMs`, the caller's
 * signal) or the client's close.
 */
import { CallBudget } from '@zpatterns/core';
import type { RequestOptions } from '@zpatterns/core';
import type { KvMsg } from './kvmsg.js';

interface PendingCommit {
  resolve: (sequence: bigint) => void;
  reject: (err: Error) => void;
}

/** Commits waiting for the server's sequence. */
export class PendingCommits {
  readonly #pending = new Map<string, PendingCommit>();

  /** How many commits wait now. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Check `options` and return the budget of a commit of `key`; it starts counting now.
   * @throws InvalidArgumentError for a bad `timeoutMs`
   */
  budget(key: string, options: Pick<RequestOptions, 'timeoutMs' | 'signal'>): CallBudget {
    return new CallBudget(`clone commit of ${key}`, { timeoutMs: options.timeoutMs, signal: options.signal });
  }

  /**
   * Wait, within `budget`, for the update `uuid` (sent once) to come back; resolves with its
   * sequence. Rejects with `TimeoutError` (`attempts: 1`), `AbortError` (its `cause` the
   * signal's reason), or what `rejectAll` gives.
   */
  async wait(uuid: Buffer, budget: CallBudget): Promise<bigint> {
    const id = uuid.toString('hex');
    const settled = new Promise<bigint>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    try {
      budget.next(); // the one send
      for (;;) {
        const outcome = await budget.race(settled);
        if (outcome.ok) return outcome.value;
        // A commit has no per-attempt wait, so this is the wait for the rest of the call ending a
        // moment early (timers are not exact): wait again; the call's deadline rejects the race.
      }
    } finally {
      this.#pending.delete(id);
      budget.dispose();
    }
  }

  /** An update applied to the replica: the commit that sent it, if any, resolves. */
  settle(msg: KvMsg): void {
    if (this.#pending.size === 0 || msg.uuid.length === 0) return;
    const id = msg.uuid.toString('hex');
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    pending.resolve(msg.sequence);
  }

  /** Reject every waiting commit with `err` (the client closes). */
  rejectAll(err: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(err);
  }
}
