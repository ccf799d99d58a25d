/**
 * The client's table of `commit()` calls waiting for their sequence: each is keyed by the UUID of
 * its update, settled when that update comes back from the server (as an update or inside a
 * snapshot), and ends early on its deadline, its caller's signal, or the client's close.
 */
import { AbortError, deadline } from '@zpatterns/core';
import type { KvMsg } from './kvmsg.js';

interface PendingCommit {
  resolve: (sequence: bigint) => void;
  reject: (err: Error) => void;
}

/** How one commit may wait: the budget, what a timeout says, and the caller's signal. */
export interface CommitWait {
  /** The key written (for the error messages). */
  key: string;
  /** The budget of the call. */
  timeoutMs: number;
  /** The option the budget came from, named in the `TimeoutError`'s message. */
  optionName: string;
  /** The caller's signal. */
  signal?: AbortSignal | undefined;
}

/** Commits waiting for the server's sequence. */
export class PendingCommits {
  readonly #pending = new Map<string, PendingCommit>();

  /** How many commits wait now. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Wait for the update `uuid` to come back; resolves with its sequence. Rejects with
   * `TimeoutError`, `AbortError` (its `cause` the signal's reason), or what `rejectAll` gives.
   */
  wait(uuid: Buffer, how: CommitWait): Promise<bigint> {
    const id = uuid.toString('hex');
    const settled = new Promise<bigint>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    return deadline(settled, {
      timeoutMs: how.timeoutMs,
      signal: how.signal,
      timeoutMessage: `clone commit of ${how.key}: no sequence within ${how.optionName}=${how.timeoutMs} ms`,
    }).then(
      (sequence) => sequence,
      (err: unknown) => {
        this.#pending.delete(id);
        if (err instanceof AbortError) {
          throw new AbortError(`clone commit of ${how.key} aborted`, { cause: how.signal?.reason });
        }
        throw err;
      },
    );
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
