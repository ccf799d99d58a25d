/**
 * The options, defaults, counters and status events of `BinaryStar`, and the check of its
 * options.
 */
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  invalidOption,
  oneOf,
  rules,
  systemClock,
  type Clock,
  type ConnectedEvent,
  type DisconnectedEvent,
  type Logger,
  type OptionRule,
  type RoleEvent,
  type SecurityOptions,
  type SplitBrainEvent,
} from '@zpatterns/core';
import { resolveCurveKeys } from '@zpatterns/core/internal';
import type { BStarRole, BStarState } from './fsm.js';
import { BSTAR_HEARTBEAT_MS } from './protocol.js';

/** Options of `new BinaryStar(options)`; `binaryStarDefaults` holds the defaults. */
export interface BinaryStarOptions {
  /** Which server of the pair this is. */
  role: BStarRole;
  /** Endpoint the state PUB binds (the book's "local"), e.g. `tcp://127.0.0.1:5003`. */
  stateBind: string;
  /** The peer's state PUB, which our state SUB connects to (the book's "remote"). */
  stateConnect: string;
  /**
   * How often the state is published; the peer is dead after two of these of silence. Both
   * servers must use the same value. @default 1000
   */
  heartbeatIntervalMs?: number | undefined;
  /** Time source. @default systemClock */
  clock?: Clock | undefined;
  /** Parent logger. @default silent */
  logger?: Logger | undefined;
  /**
   * Asked when both servers are active (split brain): true = stay active, false = step down. Both
   * servers must answer consistently (e.g. by comparing their data). @default the primary stays
   */
  resolveSplitBrain?: (() => boolean) | undefined;
  /**
   * CURVE on the state channel: `curve` is this server's key pair, and its `serverPublicKey` the
   * peer's public key (when absent, our own: both servers share one key file). Our state PUB then
   * admits only the peer's key (or whom `authorize` admits), and our state SUB only talks to a PUB
   * holding the peer's key. @default undefined (plain)
   */
  security?: SecurityOptions | undefined;
  /**
   * Largest frame the peer's state SUB and our state PUB accept, in bytes: libzmq drops a
   * connection that announces a bigger one. `-1` for no limit. @default 16777216 (16 MiB)
   */
  maxMessageBytes?: number | undefined;
}

/**
 * The book's timing: state published every 1000 ms (the peer is dead after two silent
 * heartbeats), on the system clock; frames up to 16 MiB.
 */
export const binaryStarDefaults = {
  heartbeatIntervalMs: BSTAR_HEARTBEAT_MS,
  clock: systemClock,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
} as const;

const maxMessageBytesRule: OptionRule = {
  must: 'a whole number of bytes >= 1, or -1 for no limit',
  test: (v) => Number.isSafeInteger(v) && ((v as number) >= 1 || v === -1),
};

/** The check of each option. */
export const binaryStarRules = {
  role: oneOf('primary', 'backup'),
  stateBind: rules.nonEmptyString,
  stateConnect: rules.nonEmptyString,
  heartbeatIntervalMs: rules.positive,
  resolveSplitBrain: rules.function,
  maxMessageBytes: maxMessageBytesRule,
};

/**
 * What `status()` yields besides `started` and `closed`: each change of this server's state
 * (`role`, `from`/`to` one of `primary`, `backup`, `active`, `passive`, with the reason in words),
 * each split brain (`split-brain`: both servers were active; `stays` says whether this one stays
 * active), and the peer answering or falling silent: `connected` when its state messages arrive
 * (first heard, or back after silence), `disconnected` (`reason: 'silent'`) once a peer that was
 * heard has been silent for two heartbeats (a client vote now makes this server active). `peer` is
 * the peer's state endpoint (`stateConnect`).
 */
export type BinaryStarStatus = RoleEvent | SplitBrainEvent | ConnectedEvent | DisconnectedEvent;

/** Counters of one `BinaryStar`. */
export interface BinaryStarStats {
  /** State messages published. */
  published: number;
  /** Valid peer state messages received. */
  peerMessages: number;
  /** Peer state messages that were not one frame holding one digit 1-4. */
  malformed: number;
  /** Client votes accepted (served). */
  accepted: number;
  /** Client votes rejected (dropped without a reply). */
  rejected: number;
  /** Split brains seen (both servers active). */
  splitBrains: number;
  /** Dual passives seen (both servers passive). */
  dualPassives: number;
  /** Times the peer was declared dead after two silent heartbeats. */
  peerExpiries: number;
}

/** What `BinaryStar.snapshot()` returns: the pair as this server sees it now. */
export interface BinaryStarSnapshot {
  /** Which server of the pair this is. */
  readonly role: BStarRole;
  /** Its state now. */
  readonly state: BStarState;
  /** How long it has been in that state (ms). */
  readonly stateMs: number;
  /** The peer: `alive`, `dead` (silent two heartbeats), or `unknown` (never heard). */
  readonly peer: 'alive' | 'dead' | 'unknown';
  /** How long ago the peer's last state message came (ms); `null` when never heard. */
  readonly peerLastHeardMs: number | null;
  /** Times this server went from passive to active (took over from its peer). */
  readonly failovers: number;
}

/**
 * The pair's one `security` option as the two sides of the state link: our PUB admits the peer's
 * key (or whom `authorize` admits), our SUB expects the peer's key, our own when none is given.
 */
export function pairSecurity(
  security: SecurityOptions | undefined,
): { bind: SecurityOptions; connect: SecurityOptions } | undefined {
  if (security === undefined) return undefined;
  const keys = resolveCurveKeys(security.curve);
  const peerPublicKey = security.curve.serverPublicKey ?? keys.publicKey;
  return {
    bind: { curve: keys, authorize: security.authorize ?? new Set([peerPublicKey]) },
    connect: { curve: { ...keys, serverPublicKey: peerPublicKey } },
  };
}

/** A required option, checked in core's one message style. */
export function required<T>(option: string, value: T | undefined, rule: OptionRule): T {
  if (value === undefined || !rule.test(value)) throw invalidOption('BinaryStar', option, rule.must, value);
  return value;
}
