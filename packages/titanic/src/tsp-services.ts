/**
 * The three 9/TSP services, as the handlers of Titanic's Majordomo workers:
 *
 *   titanic.request  [service, body...] ── bounds ── GroupCommitter (request) ──> ["200", uuid]
 *   titanic.reply    [uuid]             ── store.get ──> ["200", reply...] | ["300"] | ["400"]
 *   titanic.close    [uuid]             ── GroupCommitter (close) ──> ["200"]
 *
 * A malformed request is answered "400", an internal failure (the store) "500", a submission
 * over a backlog bound "500" too (the client retries later). Where the store allows it (a store in
 * memory commits at once; SQLite reads at once) the answer is given in the same turn, not through
 * a promise.
 */
import { toError, type Frame, type Logger } from '@zpatterns/core';
import type { BacklogGate } from './backlog-gate.js';
import {
  decodeSubmit,
  decodeUuidRequest,
  encodeReplyReady,
  encodeStatus,
  encodeSubmitted,
  generateUuid,
  TSP_SERVICE,
  type SubmitRequest,
} from './codec.js';
import type { GroupCommitter } from './group-commit.js';
import type { StoredState, TitanicStore } from './store.js';

/** What the services need of the dispatcher: to learn of a stored request, and of a closed one. */
export interface DispatchIndex {
  /**
   * A newly stored request (called after its commit), with its body when at hand: a request sent
   * at once then needs no read back from the store. `key`: the service's name as latin1.
   */
  add(uuid: string, service: Buffer, body?: Buffer[], key?: string): void;
  /** A closed request: never dispatch it again. */
  remove(uuid: string): void;
}

/** What the services work with. */
export interface TspServiceParts {
  readonly store: TitanicStore;
  readonly committer: GroupCommitter;
  readonly dispatch: DispatchIndex;
  readonly gate: BacklogGate;
  readonly log: Logger;
}

/** The services' counters, live fields updated in place (the server's `stats` copies them). */
export interface TspServiceCounters {
  submitted: number;
  replyQueries: number;
  closes: number;
  malformed: number;
  internalErrors: number;
  refused: number;
}

/**
 * A TSP service handler: an MDP request body in, the reply body out, at once when the store allows
 * (`writeNow`, `getNow`), else a promise of it. Never throws nor rejects.
 */
export type TspHandler = (body: Buffer[]) => readonly Frame[] | Promise<readonly Frame[]>;

/** The handlers of `titanic.request`, `titanic.reply` and `titanic.close`. */
export class TspServices {
  readonly counters: TspServiceCounters = {
    submitted: 0,
    replyQueries: 0,
    closes: 0,
    malformed: 0,
    internalErrors: 0,
    refused: 0,
  };
  readonly #p: TspServiceParts;
  /** The service of the last submission, a copy of its bytes, and its name as latin1. */
  #lastService: Buffer | undefined;
  #lastKey = '';

  constructor(parts: TspServiceParts) {
    this.#p = parts;
  }

  /** `titanic.request`: store the request (a commit) and answer its UUID. */
  readonly submit: TspHandler = (body) => {
    const request = decodeSubmit(body);
    if (typeof request === 'string') return this.#malformed(TSP_SERVICE.REQUEST, request);
    const key = this.#keyOf(request.service);
    const committer = this.#p.committer;
    if (!committer.immediate) return this.#submitGrouped(request, key);
    // Stored and counted in the backlog in this turn: the bounds need no reservation.
    if (!this.#p.gate.admits(key)) return this.#refused();
    const uuid = generateUuid();
    try {
      committer.writeNow({ type: 'request', uuid, service: request.service, body: request.body });
    } catch (err) {
      return this.#internalError(TSP_SERVICE.REQUEST, err);
    }
    return this.#submitted(uuid, request, key);
  };

  /**
   * The service's name as latin1 (the dispatcher's and the bounds' key): the last one again when
   * the service is the last submission's (clients mostly submit to one service), compared byte by
   * byte rather than a string made per submission.
   */
  #keyOf(service: Buffer): string {
    const last = this.#lastService;
    if (last !== undefined && last.length === service.length) {
      let i = 0;
      while (i < last.length && last[i] === service[i]) i++;
      if (i === last.length) return this.#lastKey;
    }
    const key = service.toString('latin1');
    // Copied: the frame may be a view of a larger buffer, which is not kept alive for this.
    this.#lastService = Buffer.from(service);
    this.#lastKey = key;
    return key;
  }

  /**
   * A submission whose commit waits for its group, its room in the backlog reserved meanwhile
   * (a `then`, not an async function: one promise fewer per submission).
   */
  #submitGrouped(request: SubmitRequest, key: string): readonly Frame[] | Promise<readonly Frame[]> {
    const reservation = this.#p.gate.reserve(key);
    if (reservation === undefined) return this.#refused();
    const uuid = generateUuid();
    return this.#p.committer.write({ type: 'request', uuid, service: request.service, body: request.body }).then(
      () => {
        // Nothing between the two: the request moves from the reservation to the backlog at once.
        reservation.release();
        return this.#submitted(uuid, request, key);
      },
      (err: unknown) => {
        reservation.release();
        return this.#internalError(TSP_SERVICE.REQUEST, err);
      },
    );
  }

  /** The request is stored: into the backlog, answered "200" + UUID. */
  #submitted(uuid: string, request: SubmitRequest, key: string): readonly Frame[] {
    this.#p.dispatch.add(uuid, request.service, request.body, key);
    this.counters.submitted++;
    return encodeSubmitted(uuid);
  }

  #refused(): readonly Frame[] {
    this.counters.refused++;
    return encodeStatus('500');
  }

  /** `titanic.reply`: the reply if stored, else pending or unknown. Never consumes it. */
  readonly reply: TspHandler = (body) => {
    const uuid = decodeUuidRequest(body);
    if (typeof uuid !== 'string') return this.#malformed(TSP_SERVICE.REPLY, uuid.error);
    this.counters.replyQueries++;
    const store = this.#p.store;
    if (store.getNow === undefined) return this.#replyLater(store, uuid);
    try {
      return answer(store.getNow(uuid));
    } catch (err) {
      return this.#internalError(TSP_SERVICE.REPLY, err);
    }
  };

  async #replyLater(store: TitanicStore, uuid: string): Promise<readonly Frame[]> {
    try {
      return answer(await store.get(uuid));
    } catch (err) {
      return this.#internalError(TSP_SERVICE.REPLY, err);
    }
  }

  /** `titanic.close`: forget the request and its reply (a commit). Idempotent. */
  readonly close: TspHandler = (body) => {
    const uuid = decodeUuidRequest(body);
    if (typeof uuid !== 'string') return this.#malformed(TSP_SERVICE.CLOSE, uuid.error);
    this.#p.dispatch.remove(uuid);
    const committer = this.#p.committer;
    if (!committer.immediate) return this.#closeGrouped(uuid);
    try {
      committer.writeNow({ type: 'close', uuid });
    } catch (err) {
      return this.#internalError(TSP_SERVICE.CLOSE, err);
    }
    this.counters.closes++;
    return encodeStatus('200');
  };

  #closeGrouped(uuid: string): Promise<readonly Frame[]> {
    return this.#p.committer.write({ type: 'close', uuid }).then(
      () => {
        this.counters.closes++;
        return encodeStatus('200');
      },
      (err: unknown) => this.#internalError(TSP_SERVICE.CLOSE, err),
    );
  }

  #malformed(service: string, reason: string): readonly Frame[] {
    this.counters.malformed++;
    this.#p.log.warn({ service, reason }, 'malformed request answered 400');
    return encodeStatus('400');
  }

  #internalError(service: string, caught: unknown): readonly Frame[] {
    this.counters.internalErrors++;
    this.#p.log.error({ err: toError(caught), service }, 'internal error answered 500');
    return encodeStatus('500');
  }
}

/** The answer of `titanic.reply` for what the store holds. */
function answer(stored: StoredState): readonly Frame[] {
  switch (stored.state) {
    case 'replied':
      return encodeReplyReady(stored.body);
    case 'pending':
      return encodeStatus('300');
    case 'unknown':
      return encodeStatus('400');
  }
}
