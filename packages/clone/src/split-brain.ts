/**
 * Split brain in a Clone pair: both servers active (their Binary Star link was cut and clients
 * voted for each). Which one stays is decided on numbers both sides agree on, and the one that
 * steps down hands everything it sequenced in its term to the other.
 *
 * ```
 *  each side, on seeing the peer active:  freeze (sequence nothing more; client updates are held)
 *                                         S = its sequence, final from now on
 *  A DEALER --SPLITBRAIN? S_A-->  B's snapshot ROUTER      B, frozen too, decides on (S_A, S_B)
 *  A        <--SPLITBRAIN S_B settled--                    A decides on the same (S_A, S_B)
 *           <--SPLITBRAIN S_B active--   B has not seen the split brain yet: ask again next heartbeat
 *           <--SPLITBRAIN S_B passive--  B is not active: A stays
 *  the higher sequence stays; on a tie, the primary. The winner replays what it held; the loser
 *  steps down at the peer's next heartbeat and hands its term over.
 * ```
 *
 * Both sides freeze before they answer or ask, so the two numbers cannot move once exchanged, and
 * whichever side asks first, both compare the same pair. A side that cannot reach the other stays
 * frozen (it sequences nothing) until it can, or until the peer stops being active.
 */
import type { Clock, Logger, SecurityOptions, TimerHandle } from '@zpatterns/core';
import { ProtocolError, toError } from '@zpatterns/core';
import { applyConnectSecurity, frameEquals, readU64, u64, applyPeerLimits } from '@zpatterns/core/internal';
import type { BStarRole } from '@zpatterns/bstar';
import * as zmq from 'zeromq';

/** The question one server of a pair asks the other on its snapshot port. */
export const SPLITBRAIN_QUERY = Buffer.from('SPLITBRAIN?', 'latin1');
/** The answer. */
export const SPLITBRAIN_REPLY = Buffer.from('SPLITBRAIN', 'latin1');

/**
 * Where the answering server stands: `settled` (frozen for a split brain: its sequence is final),
 * `active` (active, no split brain seen: its sequence still moves) or `passive`.
 */
export type SplitBrainStand = 'settled' | 'active' | 'passive';

/** `["SPLITBRAIN?", sequence]`: the asker's frozen sequence. */
export function encodeSplitBrainQuery(sequence: bigint): Buffer[] {
  return [SPLITBRAIN_QUERY, u64(sequence)];
}

/** The asker's sequence, or undefined when `frames` (after the ROUTER identity) are not a query. */
export function decodeSplitBrainQuery(frames: readonly Buffer[]): bigint | undefined {
  const [command, sequence] = frames;
  if (command === undefined || !frameEquals(command, SPLITBRAIN_QUERY)) return undefined;
  if (frames.length !== 2 || sequence === undefined) throw new ProtocolError('split-brain query: expected 2 frames');
  return readU64(sequence);
}

/** `["SPLITBRAIN", sequence, stand]`. */
export function encodeSplitBrainReply(sequence: bigint, stand: SplitBrainStand): Buffer[] {
  return [SPLITBRAIN_REPLY, u64(sequence), Buffer.from(stand, 'latin1')];
}

export function decodeSplitBrainReply(frames: readonly Buffer[]): { sequence: bigint; stand: SplitBrainStand } {
  const [command, sequence, stand] = frames;
  if (
    frames.length !== 3 ||
    command === undefined ||
    !frameEquals(command, SPLITBRAIN_REPLY) ||
    sequence === undefined
  ) {
    throw new ProtocolError('split-brain reply: expected SPLITBRAIN, sequence, stand');
  }
  const text = stand?.toString('latin1');
  if (text !== 'settled' && text !== 'active' && text !== 'passive') {
    throw new ProtocolError(`split-brain reply: unknown stand ${JSON.stringify(text)}`);
  }
  return { sequence: readU64(sequence), stand: text };
}

/** The rule, the same on both sides: the higher sequence stays; on a tie, the primary. */
export function staysActive(mine: bigint, peer: bigint, role: BStarRole): boolean {
  return mine > peer || (mine === peer && role === 'primary');
}

/** How a split brain ended for this server. */
export interface SplitBrainOutcome {
  /** This server stays active (the other steps down and hands its term over). */
  stays: boolean;
  /** This server's sequence, frozen when it saw the split brain. */
  sequence: bigint;
  /** The peer's, as it answered (frozen too); undefined when it stopped being active first. */
  peerSequence: bigint | undefined;
}

/** What the arbiter needs from its server. */
export interface SplitBrainArbiterOptions {
  role: BStarRole;
  /** The Binary Star heartbeat: the peer is asked at most once per heartbeat. */
  heartbeatMs: number;
  /** The peer's snapshot endpoint, where the question goes. */
  peerSnapshot(): string;
  security: SecurityOptions | undefined;
  /** The frame limit of the link that asks. */
  maxMessageBytes: number;
  clock: Clock;
  log: Logger;
  /** The server's committed sequence. */
  sequence(): bigint;
  /** Whether the server is active now. */
  active(): boolean;
  /** Stop sequencing: commit what is staged, hold client updates from now on. */
  freeze(): void;
  /** Decided. A server that stays resumes (and replays what it held); one that loses stays frozen. */
  decided(outcome: SplitBrainOutcome): void;
}

type Phase = 'none' | 'settling' | 'won' | 'lost';

/** The peer counts as no longer active after this many heartbeats without its ACTIVE state. */
const QUIET_HEARTBEATS = 3;

/**
 * One server's side of the decision. `onPeerActive()` is Binary Star's `resolveSplitBrain`: it
 * freezes the server at the first call and answers true (stay, for now) until the decision, then
 * the decision. `answer()` serves the peer's question.
 */
export class SplitBrainArbiter {
  readonly #o: SplitBrainArbiterOptions;
  #phase: Phase = 'none';
  #mine = 0n;
  #asking: zmq.Dealer | undefined;
  #quiet: TimerHandle | undefined;

  constructor(options: SplitBrainArbiterOptions) {
    this.#o = options;
  }

  /** True between the first sight of a split brain and a decision to stay: sequence nothing. */
  get frozen(): boolean {
    return this.#phase === 'settling' || this.#phase === 'lost';
  }

  /** Both servers are active (the peer's ACTIVE state arrived while we are active). */
  onPeerActive(): boolean {
    this.#armQuiet();
    if (this.#phase === 'lost') return false;
    if (this.#phase === 'won') return true;
    if (this.#phase === 'none') {
      this.#o.freeze();
      this.#mine = this.#o.sequence();
      this.#phase = 'settling';
      this.#o.log.warn(
        { sequence: this.#mine, role: this.#o.role },
        'split brain: both servers active; frozen until both agree on who stays',
      );
    }
    void this.#ask();
    return true; // for now: a decision to step down comes with the peer's next heartbeat
  }

  /** The peer asks, with its frozen sequence: the answer to send back. */
  answer(peerSequence: bigint): Buffer[] {
    if (this.#phase === 'settling') this.#decide(peerSequence);
    if (this.#phase !== 'none') return encodeSplitBrainReply(this.#mine, 'settled');
    return encodeSplitBrainReply(this.#o.sequence(), this.#o.active() ? 'active' : 'passive');
  }

  /** The server changed role (stepped down, or became active anew): forget this split brain. */
  reset(): void {
    this.#phase = 'none';
    this.#stopAsking();
    if (this.#quiet !== undefined) this.#o.clock.clearTimeout(this.#quiet);
    this.#quiet = undefined;
  }

  close(): void {
    this.reset();
  }

  #decide(peerSequence: bigint | undefined): void {
    if (this.#phase !== 'settling') return;
    const stays = peerSequence === undefined || staysActive(this.#mine, peerSequence, this.#o.role);
    this.#phase = stays ? 'won' : 'lost';
    this.#stopAsking();
    this.#o.decided({ stays, sequence: this.#mine, peerSequence });
  }

  /** Ask the peer once (one question in flight); no answer within two heartbeats: ask next time. */
  async #ask(): Promise<void> {
    if (this.#asking !== undefined || this.#phase !== 'settling') return;
    const dealer = new zmq.Dealer({ linger: 0, receiveTimeout: 2 * this.#o.heartbeatMs });
    this.#asking = dealer;
    applyConnectSecurity(dealer, this.#o.security);
    applyPeerLimits(dealer, this.#o.maxMessageBytes);
    try {
      dealer.connect(this.#o.peerSnapshot());
      await dealer.send(encodeSplitBrainQuery(this.#mine));
      const reply = decodeSplitBrainReply(await dealer.receive());
      if (reply.stand === 'settled') this.#decide(reply.sequence);
      else if (reply.stand === 'passive') this.#decide(undefined);
      // 'active': the peer has not seen the split brain yet; ask again at its next heartbeat
    } catch (err) {
      if (!dealer.closed) this.#o.log.debug({ err: toError(err) }, 'split brain: no answer from the peer yet');
    } finally {
      if (this.#asking === dealer) this.#asking = undefined;
      dealer.close();
    }
  }

  #stopAsking(): void {
    this.#asking?.close();
    this.#asking = undefined;
  }

  /** No ACTIVE state from the peer for a while: it stepped down or died, and the split brain is over. */
  #armQuiet(): void {
    const clock = this.#o.clock;
    if (this.#quiet !== undefined) clock.clearTimeout(this.#quiet);
    this.#quiet = clock.setTimeout(() => {
      this.#quiet = undefined;
      if (this.#phase === 'settling') this.#decide(undefined);
      if (this.#phase === 'won') this.reset();
    }, QUIET_HEARTBEATS * this.#o.heartbeatMs);
  }
}
