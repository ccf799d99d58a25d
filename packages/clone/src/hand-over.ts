/**
 * A pair's split brain, on one server: it decides with the peer who stays (split-brain.ts), and the
 * server that steps down keeps what it sequenced in its term (`dataDir/split-brain-<time>.jsonl`)
 * and hands all of it to the winner's collector, as client updates with their UUIDs: the winner
 * sequences the ones it never had and drops the others as duplicates.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock, Logger, Message, SecurityOptions } from '@zpatterns/core';
import { toError } from '@zpatterns/core';
import { applyConnectSecurity } from '@zpatterns/core/internal';
import type { BStarRole } from '@zpatterns/bstar';
import * as zmq from 'zeromq';
import type { KvMsg } from './kvmsg.js';
import { encodeKvMsg } from './kvmsg.js';
import { decodeSplitBrainQuery, SplitBrainArbiter, type SplitBrainOutcome } from './split-brain.js';

export interface SplitBrainSideOptions {
  role: BStarRole;
  /** The Binary Star heartbeat. */
  heartbeatMs: number;
  /** The peer's snapshot endpoint (where the question goes) and collector (where a lost term goes). */
  peer: { snapshot: string; collector?: string | undefined };
  /** CURVE toward the peer. */
  security: SecurityOptions | undefined;
  /** The frame limit of the links to the peer. */
  maxMessageBytes: number;
  dataDir: string | undefined;
  clock: Clock;
  log: Logger;
  /** The server's committed sequence. */
  sequence(): bigint;
  /** Whether the server is active now. */
  active(): boolean;
  /** Stop sequencing: commit what is staged (held client updates wait). */
  freeze(): void;
  /** The peer's sequence as its last HUGZ showed it, for the log. */
  peerLastHugz(): bigint | undefined;
  /** How many keys this term changed, for the log. */
  divergent(): number;
  /** A split brain was decided: count it and report it. */
  decided(outcome: SplitBrainOutcome): void;
  /** Updates of a lost term that reached the winner. */
  handedOver(count: number): void;
  /** Decided to stay, still active: sequence what was held meanwhile. */
  resume(): void;
}

/**
 * One server's part: the arbiter, and the outcome until the server changes role. A server that
 * loses stays frozen until Binary Star steps it down; `stepDown` then gives its term to hand over.
 */
export class SplitBrainSide {
  readonly #o: SplitBrainSideOptions;
  readonly arbiter: SplitBrainArbiter;
  #lost = false;

  constructor(options: SplitBrainSideOptions) {
    this.#o = options;
    this.arbiter = new SplitBrainArbiter({
      role: options.role,
      heartbeatMs: options.heartbeatMs,
      peerSnapshot: () => options.peer.snapshot,
      security: options.security,
      maxMessageBytes: options.maxMessageBytes,
      clock: options.clock,
      log: options.log,
      sequence: () => options.sequence(),
      active: () => options.active(),
      freeze: () => options.freeze(),
      decided: (outcome) => this.#decided(outcome),
    });
  }

  /** Nothing is sequenced while a split brain is being decided, or once it is lost. */
  get frozen(): boolean {
    return this.arbiter.frozen;
  }

  /** The peer asks who stays; true if `message` (from the snapshot ROUTER) was that question. */
  answer(
    message: Message,
    post: (frames: Buffer[]) => unknown,
    bad: (err: unknown, identity: Buffer) => void,
  ): boolean {
    const [identity, ...rest] = message;
    if (identity === undefined) return false;
    let peerSequence: bigint | undefined;
    try {
      peerSequence = decodeSplitBrainQuery(rest);
    } catch (err) {
      bad(err, identity);
      return true;
    }
    if (peerSequence === undefined) return false;
    post([identity, ...this.arbiter.answer(peerSequence)]);
    return true;
  }

  /** The server became active: any split brain before is over. */
  becameActive(): void {
    this.#lost = false;
    this.arbiter.reset();
  }

  /**
   * The server became passive. After a lost split brain, `term` is kept on disk and returned as
   * the hand-over to send once the winner's snapshot is in; else undefined.
   */
  steppedDown(term: () => KvMsg[]): TermHandOver | undefined {
    this.arbiter.reset();
    if (!this.#lost) return undefined;
    this.#lost = false;
    const updates = term();
    keepDivergent(this.#o.dataDir, updates, this.#o.log);
    const { peer, security, log } = this.#o;
    return new TermHandOver(updates, async (some) => {
      if (peer.collector === undefined) return [];
      const sent = await handOver(peer.collector, some, security, log);
      this.#o.handedOver(sent);
      return some.slice(sent);
    });
  }

  close(): void {
    this.arbiter.close();
  }

  #decided(outcome: SplitBrainOutcome): void {
    const { stays, sequence, peerSequence } = outcome;
    this.#o.log.error(
      {
        sequence,
        peerSequence,
        peerLastHugz: this.#o.peerLastHugz(),
        role: this.#o.role,
        stays,
        divergent: this.#o.divergent(),
      },
      stays
        ? 'split brain: both servers active; this one has more, it stays active'
        : 'split brain: both servers active; the peer has more, this one steps down',
    );
    if (!stays) this.#lost = true;
    this.#o.decided(outcome);
    if (stays && this.#o.active()) this.#o.resume();
  }
}

/**
 * A lost term on its way to the winner: sent after each snapshot of the winner, what a failed
 * hand-over did not send goes again with the next (a resync).
 */
export class TermHandOver {
  #rest: readonly KvMsg[];
  #sending = false;
  readonly #send: (updates: readonly KvMsg[]) => Promise<readonly KvMsg[]>;

  /** `send` sends what it can and resolves with what it did not send. */
  constructor(updates: readonly KvMsg[], send: (updates: readonly KvMsg[]) => Promise<readonly KvMsg[]>) {
    this.#rest = updates;
    this.#send = send;
  }

  /** The winner's snapshot is in: send what is left (one hand-over at a time). */
  afterSnapshot(): void {
    if (this.#rest.length === 0 || this.#sending) return;
    const updates = this.#rest;
    this.#rest = [];
    this.#sending = true;
    void this.#send(updates).then((rest) => {
      this.#rest = [...rest, ...this.#rest];
      this.#sending = false;
    });
  }
}

/**
 * The loser's updates kept in `dataDir/split-brain-<time>.jsonl` (key, sequence, uuid, properties,
 * base64 body per line) and logged; returns the file, if written.
 */
export function keepDivergent(dataDir: string | undefined, updates: readonly KvMsg[], log: Logger): string | undefined {
  let file: string | undefined;
  if (dataDir !== undefined && updates.length > 0) {
    file = join(dataDir, `split-brain-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
    try {
      const lines = updates.map((m) =>
        JSON.stringify({
          key: m.key,
          sequence: String(m.sequence),
          uuid: m.uuid.toString('hex'),
          properties: Object.fromEntries(m.properties),
          body: m.body.toString('base64'),
        }),
      );
      writeFileSync(file, `${lines.join('\n')}\n`);
    } catch (err) {
      log.error({ err: toError(err), file }, 'split brain: could not write the divergent updates');
      file = undefined;
    }
  }
  log.error(
    { updates: updates.length, file, keys: updates.slice(0, 20).map((m) => m.key) },
    'split brain lost: handing the updates sequenced here to the active',
  );
  return file;
}

/**
 * Send the loser's updates, all of them, to the winner's collector as client updates with their
 * UUIDs. Each send waits for room, so any number goes through; resolves with how many were sent.
 */
export async function handOver(
  collector: string,
  updates: readonly KvMsg[],
  security: SecurityOptions | undefined,
  log: Logger,
): Promise<number> {
  // noDrop: past the high-water mark a send waits for room instead of dropping
  const pub = new zmq.XPublisher({
    linger: 2000,
    noDrop: true,
    sendHighWaterMark: 1000,
    sendTimeout: 10_000,
    receiveTimeout: 10_000,
  });
  applyConnectSecurity(pub, security);
  let sent = 0;
  try {
    pub.connect(collector);
    await pub.receive(); // the winner's collector has subscribed: nothing sent is dropped
    for (const msg of updates) {
      await pub.send(encodeKvMsg({ ...msg, sequence: 0n }));
      sent += 1;
    }
  } catch (err) {
    log.error(
      { err: toError(err), updates: updates.length, sent },
      'split brain: hand-over failed; the rest goes again with the next snapshot of the active',
    );
  } finally {
    pub.close();
  }
  return sent;
}
