/**
 * One connection of a worker to the broker: a fresh DEALER (so a fresh identity), READY sent at
 * once, heartbeats both ways through core `Heartbeat` (any message from the broker is a sign of
 * life), and an `ended` promise that says why the session is over. A worker never reuses a
 * session: after DISCONNECT or a dead broker it opens a new one, as 7/MDP requires.
 */
import * as zmq from 'zeromq';
import { type Frames, type Logger } from '@zpatterns/core';
import { applyConnectSecurity, Channel, Heartbeat } from '@zpatterns/core/internal';
import {
  decodeFromBroker,
  encodeWorkerCommand,
  WORKER_DISCONNECT,
  WORKER_HEARTBEAT,
  type WorkerCommand,
} from './codec.js';
import type { InboundGuard } from './inbound-limits.js';
import { requestBody, requestClientAt } from './worker-frames.js';
import type { ResolvedWorkerOptions, WorkerStats } from './worker-options.js';

/**
 * Why a session ended: the broker was `silent` for `silentMs`, it sent DISCONNECT (`disconnect`),
 * we left after a failure of ours (`error`: a handler with no reply, an oversize message), or the
 * worker closed (`close`).
 */
export type SessionEnd =
  | { readonly reason: 'silent'; readonly silentMs: number }
  | { readonly reason: 'disconnect' }
  | { readonly reason: 'error' }
  | { readonly reason: 'close' };

export interface SessionPort {
  /** A well-formed REQUEST from the broker (already counted as a sign of life). */
  request(session: WorkerSession, client: Buffer, body: Buffer[]): void;
  /** Any other valid command from the broker (already counted as a sign of life). */
  command(session: WorkerSession, command: WorkerCommand): void;
}

export class WorkerSession {
  readonly id: number;
  readonly ended: Promise<SessionEnd>;
  /** True once anything at all was heard from the broker in this session. */
  heard = false;
  /** Requests answered in this session. */
  served = 0;
  /** The worker's `ready` state on this session: one object, not one per request answered. */
  readonly readyState: { readonly state: 'ready'; readonly session: WorkerSession };
  readonly #o: ResolvedWorkerOptions;
  readonly #log: Logger;
  readonly #socket: zmq.Dealer;
  readonly #channel: Channel<zmq.Dealer>;
  readonly #heartbeat: Heartbeat;
  #end: SessionEnd | undefined;
  #resolveEnded: (end: SessionEnd) => void = () => undefined;

  constructor(
    id: number,
    options: ResolvedWorkerOptions,
    log: Logger,
    stats: WorkerStats,
    guard: InboundGuard,
    port: SessionPort,
  ) {
    this.id = id;
    this.readyState = { state: 'ready', session: this };
    this.#o = options;
    this.#log = log;
    this.ended = new Promise<SessionEnd>((resolve) => (this.#resolveEnded = resolve));
    // Sends go straight to libzmq (`directSend`: no send-queue hop per reply). `sendTimeout: 0`
    // makes libzmq take or refuse a message inside `send()`, and with no high-water mark it always
    // takes it: what the channel's queue held beyond the mark (a burst of MDP/0.2 partials) libzmq
    // holds instead, in order, and nothing is dropped; both are dropped when the session ends.
    this.#socket = new zmq.Dealer({ linger: 0, sendTimeout: 0, sendHighWaterMark: 0 });
    guard.prepare(this.#socket);
    applyConnectSecurity(this.#socket, options.security);
    this.#socket.connect(options.broker);
    this.#channel = new Channel(this.#socket, { name: 'mdp-worker', logger: log, directSend: true });
    this.#heartbeat = new Heartbeat(
      {
        beat: () => {
          if (this.#channel.post(WORKER_HEARTBEAT[options.version])) stats.heartbeatsSent++;
        },
        expired: (silentMs) => {
          stats.brokerExpiries++;
          this.end({ reason: 'silent', silentMs });
        },
      },
      { intervalMs: options.heartbeatIntervalMs, liveness: options.liveness, clock: options.clock },
    );
    stats.sessions++;
    this.#channel.post(encodeWorkerCommand(options.version, { type: 'ready', service: Buffer.from(options.service) }));
    this.#heartbeat.start();
    const fields = { session: id }; // of an oversize warning: made once, not per message
    void this.#channel.start((message) => {
      if (this.#end !== undefined) return;
      this.#heartbeat.touch();
      this.heard = true;
      if (guard.oversize(message, fields)) {
        stats.malformed++;
        stats.oversize++;
        // As with a request the handler could not answer: leave and register again, or the
        // broker would count this worker busy with the dropped request for ever.
        void this.leave({ reason: 'error' }, options.lingerMs);
        return;
      }
      // The message of every request, recognised in place; the rest through the codec.
      const clientAt = requestClientAt(options.version, message);
      if (clientAt >= 0) {
        port.request(this, message[clientAt] as Buffer, requestBody(message, clientAt));
        return;
      }
      const command = decodeFromBroker(options.version, message);
      if (typeof command === 'string') {
        stats.malformed++;
        log.warn({ session: id, reason: command, frames: message.length }, 'malformed message from broker dropped');
        return;
      }
      port.command(this, command);
    });
  }

  get isEnded(): boolean {
    return this.#end !== undefined;
  }

  /** Queue a message to the broker; false when the session is over. */
  post(message: Frames): boolean {
    return this.#end === undefined && this.#channel.post(message);
  }

  /** End abruptly: socket closed with linger 0, nothing more is sent. Idempotent. */
  end(end: SessionEnd): void {
    if (this.#end !== undefined) return;
    this.#end = end;
    this.#heartbeat.stop();
    this.#socket.linger = 0;
    void this.#channel.close().then(() => this.#resolveEnded(end));
  }

  /**
   * End politely: send DISCONNECT after everything already queued (the last REPLY), wait until
   * libzmq has it, and close with `lingerMs` so it reaches the broker. With no connection to send
   * on (a refused handshake) libzmq never takes it: the wait ends after `lingerMs` too. Idempotent.
   */
  async leave(end: SessionEnd, lingerMs: number): Promise<void> {
    if (this.#end !== undefined) {
      await this.ended;
      return;
    }
    this.#channel.post(WORKER_DISCONNECT[this.#o.version]);
    this.#end = end;
    this.#heartbeat.stop();
    this.#socket.linger = lingerMs;
    this.#log.debug({ session: this.id, reason: end.reason }, 'leaving: DISCONNECT sent');
    await this.#channel.drain({ timeoutMs: lingerMs });
    this.#resolveEnded(end);
    await this.ended;
  }
}
