/**
 * One DEALER socket of the client pool, carrying at most one outstanding request. MDP/0.1 has no
 * request id on the wire, so "one request per socket" is what makes a reply attributable: any
 * reply read on this socket belongs to the one request it carries. A socket whose request timed
 * out or was aborted is closed (linger 0), never reused, because the late reply would otherwise
 * be taken for the reply of the next request.
 */
import * as zmq from 'zeromq';
import {
  InvalidStateError,
  AbortError,
  ClosedError,
  TimeoutError,
  type Clock,
  type TimerHandle,
  type Logger,
  type SecurityOptions,
} from '@zpatterns/core';
import { applyConnectSecurity, Channel, frameEquals } from '@zpatterns/core/internal';
import type { InboundGuard } from './inbound-limits.js';
import { decodeClientReply, type MdpVersion } from './codec.js';
import { NOT_A_REPLY, PARTIAL_REPLY, replyBody, replyKind } from './client-frames.js';

/** Counters shared by every socket of one client. */
export interface ClientStats {
  /** `request()` calls made. */
  requests: number;
  /** Requests answered with a FINAL (or 0.1) reply. */
  replies: number;
  /** Resends after a timeout (each on a fresh socket). */
  retries: number;
  /** Requests that gave up with `MajordomoTimeoutError`. */
  timeouts: number;
  /** Requests aborted by their signal. */
  aborted: number;
  /** Replies dropped: bad header or command, service frame not the one requested, or no request waiting. */
  malformed: number;
  /** Of `malformed`: over `maxFramesPerMessage` or `maxMessageBytes`. */
  oversize: number;
  /** DEALER sockets created so far. */
  socketsCreated: number;
}

export function newClientStats(): ClientStats {
  return {
    requests: 0,
    replies: 0,
    retries: 0,
    timeouts: 0,
    aborted: 0,
    malformed: 0,
    oversize: 0,
    socketsCreated: 0,
  };
}

/** The one request a socket carries. */
class Outstanding {
  /** When the attempt times out, in the clock's milliseconds. */
  deadline: number;
  partials = 0;
  resolve: () => void = noop;
  reject: (err: Error) => void = noop;
  constructor(
    readonly service: Buffer,
    readonly timeoutMs: number,
    readonly signal: AbortSignal | undefined,
    readonly onPartial: ((body: Buffer[]) => void) | undefined,
    readonly clock: Clock,
  ) {
    this.deadline = clock.now() + timeoutMs;
  }
}

const noop = (): void => undefined;

/** Thrown (as the `cause` chain's head) when an attempt ran out of time. */
export class AttemptTimeout extends TimeoutError {
  override name = 'AttemptTimeout';
  /** PARTIAL replies delivered before the timeout (0.2); a request with partials is not resent. */
  readonly partials: number;
  constructor(timeoutMs: number, partials: number) {
    super(`no reply within timeoutMs (${timeoutMs} ms)`);
    this.partials = partials;
  }
}

export class ClientConnection {
  readonly id: number;
  readonly #channel: Channel<zmq.Dealer>;
  readonly #version: MdpVersion;
  readonly #log: Logger;
  readonly #stats: ClientStats;
  readonly #guard: InboundGuard;
  #outstanding: Outstanding | undefined;
  /** The FINAL body of the last request, until `takeReply()`. */
  #reply: Buffer[] | undefined;
  /** The signal this socket listens to (that of its last request with one). */
  #signal: AbortSignal | undefined;
  /** The log fields of a warning about this socket's messages. */
  readonly #fields: { readonly socket: number };
  #timer: TimerHandle | undefined;
  #timerClock: Clock | undefined;
  /** When the armed timer fires, in its clock's milliseconds. */
  #timerDue = 0;

  constructor(
    id: number,
    readonly endpoint: string,
    version: MdpVersion,
    log: Logger,
    stats: ClientStats,
    guard: InboundGuard,
    security?: SecurityOptions,
  ) {
    this.id = id;
    this.#fields = { socket: id };
    this.#version = version;
    this.#log = log;
    this.#stats = stats;
    this.#guard = guard;
    // Sends go straight to libzmq (`directSend`: no send-queue hop per request). `sendTimeout: 0`
    // makes libzmq take or refuse a message inside `send()`; with no high-water mark it always
    // takes it (a socket carries one request at a time, so nothing piles up).
    const socket = new zmq.Dealer({ linger: 0, sendTimeout: 0, sendHighWaterMark: 0 });
    guard.prepare(socket);
    applyConnectSecurity(socket, security);
    socket.connect(endpoint);
    this.#channel = new Channel(socket, { name: 'mdp-client', logger: log, directSend: true });
    stats.socketsCreated++;
    void this.#channel.start(this.#onMessage);
  }

  get busy(): boolean {
    return this.#outstanding !== undefined;
  }

  get closed(): boolean {
    return this.#channel.isClosed;
  }

  /**
   * Send one request (`message`, the request's frames as encoded for the wire, to `service`) and
   * resolve once its FINAL body is in: `takeReply()` then gives it (a promise resolved with an
   * array costs V8 a generic lookup of its `then`; one resolved with nothing does not). Rejects
   * with `AttemptTimeout` after `timeoutMs` of silence (re-armed by each PARTIAL), `AbortError` on
   * `signal`, `ClosedError` when the socket closes first. Arguments, not an options object: an
   * attempt made one object fewer.
   */
  exchange(
    service: Buffer,
    message: readonly Buffer[],
    timeoutMs: number,
    signal: AbortSignal | undefined,
    onPartial: ((body: Buffer[]) => void) | undefined,
    clock: Clock,
  ): Promise<void> {
    if (this.#outstanding !== undefined)
      return Promise.reject(new InvalidStateError('ClientConnection: one request at a time'));
    if (this.#channel.isClosed) return Promise.reject(new ClosedError('client socket'));
    // The signal may have fired while the caller waited for this socket: its event is gone.
    if (signal?.aborted === true) return Promise.reject(new AbortError('request aborted', { cause: signal.reason }));
    const outstanding = new Outstanding(service, timeoutMs, signal, onPartial, clock);
    const reply = new Promise<void>((resolve, reject) => {
      outstanding.resolve = resolve;
      outstanding.reject = reject;
    });
    this.#outstanding = outstanding;
    this.#arm(clock, outstanding.deadline);
    if (signal !== this.#signal) this.#watch(signal);
    if (!this.#channel.post(message)) this.#settle(outstanding, new ClosedError('client socket'));
    return reply;
  }

  /**
   * Listen to `signal` for this socket's requests. The listener stays while the next requests
   * come with the same signal (a caller's long-lived one: no listener added and removed per
   * request) and is moved when one comes with another signal, or removed when the socket closes.
   */
  #watch(signal: AbortSignal | undefined): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  readonly #onAbort = (): void => {
    const signal = this.#signal;
    this.#signal = undefined;
    const outstanding = this.#outstanding;
    if (outstanding !== undefined && outstanding.signal === signal) {
      this.#settle(outstanding, new AbortError('request aborted', { cause: signal?.reason }));
    }
  };

  /** End `outstanding` (if it is still this socket's request): its reply, or `err`. */
  #settle(outstanding: Outstanding, err: Error | undefined, reply?: Buffer[]): void {
    if (this.#outstanding !== outstanding) return;
    this.#outstanding = undefined;
    if (err === undefined) {
      this.#reply = reply;
      outstanding.resolve();
    } else outstanding.reject(err);
  }

  /** The FINAL body of the request whose `exchange()` just resolved (once). */
  takeReply(): Buffer[] {
    const reply = this.#reply as Buffer[];
    this.#reply = undefined;
    return reply;
  }

  /**
   * The attempt timeout. One timer per socket, left running across requests and checked against
   * the outstanding request's deadline when it fires, instead of a timer set and cleared per
   * request: Node frees its timer list for a duration when the list empties, and the set/clear
   * pair cost several us of a ~50 us request. A timer that fires with nothing due re-arms for the
   * deadline, or stops when no request is outstanding.
   */
  #arm(clock: Clock, deadline: number): void {
    if (this.#timer !== undefined) {
      // Still armed from an earlier request: keep it unless it fires after this deadline.
      if (this.#timerClock === clock && this.#timerDue <= deadline) return;
      this.#timerClock?.clearTimeout(this.#timer);
    }
    this.#timerClock = clock;
    this.#timerDue = deadline;
    this.#timer = clock.setTimeout(this.#onTimer, deadline - clock.now());
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    const outstanding = this.#outstanding;
    const clock = this.#timerClock;
    if (outstanding === undefined || clock === undefined) return;
    const left = outstanding.deadline - clock.now();
    if (left <= 0) this.#settle(outstanding, new AttemptTimeout(outstanding.timeoutMs, outstanding.partials));
    else this.#arm(clock, outstanding.deadline);
  };

  readonly #onMessage = (message: Buffer[]): void => {
    if (this.#guard.oversize(message, this.#fields)) {
      this.#stats.malformed++;
      this.#stats.oversize++;
      return;
    }
    // Recognised in place (no reply object); the codec says why anything else is dropped.
    const kind = replyKind(this.#version, message);
    const outstanding = this.#outstanding;
    if (kind === NOT_A_REPLY) {
      const reason = decodeClientReply(this.#version, message);
      this.#stats.malformed++;
      this.#log.warn({ socket: this.id, reason, frames: message.length }, 'malformed reply dropped');
      return;
    }
    const service = message[2] as Buffer;
    if (outstanding === undefined) {
      this.#stats.malformed++;
      this.#log.warn({ socket: this.id }, 'reply with no request waiting dropped');
      return;
    }
    if (!frameEquals(service, outstanding.service)) {
      this.#stats.malformed++;
      this.#log.warn(
        {
          socket: this.id,
          expected: outstanding.service.toString('latin1'),
          got: service.subarray(0, 64).toString('latin1'),
        },
        'reply for another service dropped',
      );
      return;
    }
    if (kind === PARTIAL_REPLY) {
      outstanding.partials++;
      outstanding.deadline = outstanding.clock.now() + outstanding.timeoutMs;
      try {
        outstanding.onPartial?.(replyBody(message));
      } catch (err) {
        this.#log.warn({ err, socket: this.id }, 'onPartial callback threw');
      }
      return;
    }
    this.#settle(outstanding, undefined, replyBody(message));
  };

  /** Close at once (linger 0); the outstanding request, if any, rejects with `ClosedError`. */
  async close(): Promise<void> {
    if (this.#timer !== undefined) this.#timerClock?.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watch(undefined);
    const outstanding = this.#outstanding;
    if (outstanding !== undefined) this.#settle(outstanding, new ClosedError('client'));
    await this.#channel.close();
  }
}
