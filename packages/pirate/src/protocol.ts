/**
 * `@zpatterns/pirate/protocol`: the whole wire format of the Pirate patterns, as constants and pure
 * encode/decode functions, for tools and tests that speak to a queue or a worker directly. Most
 * services need only the main entry.
 *
 * Lazy Pirate (guide ch.4, lpclient/lpserver): plain REQ/REP; the body is whatever frames the
 * caller sends. With `sequenceCheck` the client puts a decimal sequence number first, exactly as
 * lpclient does (`"1"`, `"2"`, ...), and expects the server to echo it back as the first frame.
 *
 * Simple Pirate (spqueue/spworker): a load-balancing queue, ROUTER (frontend) / ROUTER (backend).
 *   worker (REQ) sends      [0x01]                        backend sees [worker-id][""][0x01]
 *   queue sends             [worker-id][""][client-id][""][body...]   worker app sees [client-id][""][body...]
 *   worker replies          [client-id][""][reply...]     backend sees [worker-id][""][client-id][""][reply...]
 *
 * Paranoid Pirate, 6/PPP (ppqueue/ppworker): the worker is a DEALER, control frames are single
 * frames with NO empty delimiter.
 *   worker -> queue   READY [0x01] | HEARTBEAT [0x02] | reply [client-id][""][reply...]
 *   queue  -> worker  HEARTBEAT [worker-id][0x02] | request [worker-id][client-id][""][body...]
 *
 * Where the book's C code decides on the first byte only (`memcmp(data, "\001", 1)`), we decide on
 * the frame count and the exact 1-byte frame: a READY is the only message of its shape, so a client
 * identity or body that happens to start with 0x01 is never misread as a READY (spec §17).
 *
 * The client envelope is "every frame up to and including the first empty frame", so requests that
 * crossed several ROUTER hops (more than one address frame) pass through unchanged.
 *
 * @module protocol
 */
import { type Message } from '@zpatterns/core';
import { EMPTY } from '@zpatterns/core/internal';

/** 6/PPP and Simple Pirate READY: one frame holding the byte 0x01. */
export const PPP_READY: Buffer = Buffer.from([0x01]);
/** 6/PPP HEARTBEAT: one frame holding the byte 0x02. */
export const PPP_HEARTBEAT: Buffer = Buffer.from([0x02]);
/** Simple Pirate's READY is the same byte (spqueue.c `WORKER_READY "\001"`). */
export const SIMPLE_READY: Buffer = PPP_READY;

/** A request or reply split into its return envelope (address frames + the empty frame) and body. */
export interface Enveloped {
  /** Address frames followed by the empty delimiter: `[client-id][""]`, or more hops. */
  envelope: Buffer[];
  /** The frames after the delimiter (at least one). */
  body: Buffer[];
}

/** A decoding failure: the message is dropped and `reason` is logged. */
export interface Invalid {
  type: 'invalid';
  reason: string;
}

/**
 * Split `[addr...][""][body...]` at the first empty frame. Needs at least one address frame
 * before the delimiter and at least one body frame after it.
 */
export function splitEnvelope(frames: readonly Buffer[], from = 0): Enveloped | string {
  const delimiter = envelopeDelimiter(frames, from);
  if (typeof delimiter === 'string') return delimiter;
  return { envelope: frames.slice(from, delimiter + 1), body: frames.slice(delimiter + 1) };
}

/**
 * Where the envelope of `frames` (from frame `from`) ends: the index of its empty delimiter frame,
 * or why `splitEnvelope` would refuse it. The check of `splitEnvelope`, without its copies: what a
 * queue runs on every message it forwards as it came.
 */
export function envelopeDelimiter(frames: readonly Buffer[], from = 0): number | string {
  let delimiter = -1;
  for (let i = from; i < frames.length; i++) {
    if ((frames[i] as Buffer).length === 0) {
      delimiter = i;
      break;
    }
  }
  if (delimiter < 0) return 'no empty delimiter frame';
  if (delimiter === from) return 'no address frame before the delimiter';
  if (delimiter === frames.length - 1) return 'no body after the delimiter';
  return delimiter;
}

// ---------------------------------------------------------------------------------------------
// Lazy Pirate

/** The sequence frame lpclient sends: the decimal number, no NUL (`sprintf("%d")`). */
export function encodeSequence(sequence: number): Buffer {
  return Buffer.from(String(sequence), 'latin1');
}

/** True when `value` is exactly the decimal rendering of `sequence`. */
export function isSequence(value: Buffer | undefined, sequence: number): boolean {
  return value !== undefined && value.equals(encodeSequence(sequence));
}

// ---------------------------------------------------------------------------------------------
// Queue frontend (both queues): what a client's request looks like on the ROUTER.

/** A frontend message decoded: a client's request with its envelope, or why it is invalid. */
export type ClientRequest = ({ type: 'request' } & Enveloped) | Invalid;

/** Frontend ROUTER input: `[client-id...][""][body...]`. */
export function decodeClientRequest(frames: Message): ClientRequest {
  const split = splitEnvelope(frames);
  return typeof split === 'string'
    ? { type: 'invalid', reason: split }
    : { type: 'request', envelope: split.envelope, body: split.body };
}

// ---------------------------------------------------------------------------------------------
// Paranoid Pirate (6/PPP)

/** What the queue's backend ROUTER reads from a worker, after the worker-id frame. */
export type PppWorkerMessage = { type: 'ready' } | { type: 'heartbeat' } | ({ type: 'reply' } & Enveloped) | Invalid;

/** What the backend ROUTER read: the worker's identity (absent only for an empty message) and its command. */
export interface FromWorker<TMessage> {
  worker: Buffer | undefined;
  message: TMessage;
}

/** Queue side: decode `[worker-id][...]` as read from the backend ROUTER. */
export function decodePppWorkerMessage(frames: Message): FromWorker<PppWorkerMessage> {
  const worker = frames[0];
  const kind = pppWorkerMessageKind(frames);
  if (typeof kind !== 'string') return { worker, message: kind };
  if (kind !== 'reply') return { worker, message: { type: kind } };
  const split = splitEnvelope(frames, 1) as Enveloped;
  return { worker, message: { type: 'reply', envelope: split.envelope, body: split.body } };
}

/**
 * Queue side: what `[worker-id][...]` from the backend ROUTER is, checked as `decodePppWorkerMessage`
 * checks it but without decoding: a reply is forwarded as it came (after the worker's identity).
 */
export function pppWorkerMessageKind(frames: Message): 'ready' | 'heartbeat' | 'reply' | Invalid {
  if (frames.length < 2) return { type: 'invalid', reason: 'no frame after the identity' };
  if (frames.length === 2) {
    const command = frames[1] as Buffer;
    if (command.length === 1 && command[0] === 0x01) return 'ready';
    if (command.length === 1 && command[0] === 0x02) return 'heartbeat';
    return { type: 'invalid', reason: 'single frame is neither READY nor HEARTBEAT' };
  }
  const delimiter = envelopeDelimiter(frames, 1);
  return typeof delimiter === 'string' ? { type: 'invalid', reason: `reply: ${delimiter}` } : 'reply';
}

/** Queue side: a request for a worker, `[worker-id][client-id...][""][body...]` (no extra delimiter). */
export function encodePppRequest(worker: Buffer, request: Enveloped): Buffer[] {
  return [worker, ...request.envelope, ...request.body];
}

/**
 * Queue side: the same, from the request's frames as the frontend read them (`[client-id...][""][body...]`,
 * already checked), in a new array.
 */
export function encodePppRequestFrames(worker: Buffer, request: readonly Buffer[]): Buffer[] {
  const message = new Array<Buffer>(request.length + 1);
  message[0] = worker;
  for (let i = 0; i < request.length; i++) message[i + 1] = request[i] as Buffer;
  return message;
}

/** Queue side: a heartbeat for a worker, `[worker-id][0x02]`. */
export function encodePppHeartbeat(worker: Buffer): Buffer[] {
  return [worker, PPP_HEARTBEAT];
}

/** What a PPP worker's DEALER reads from the queue. */
export type PppQueueMessage = { type: 'heartbeat' } | ({ type: 'request' } & Enveloped) | Invalid;

/** Worker side: decode a message from the queue. */
export function decodePppQueueMessage(frames: Message): PppQueueMessage {
  if (frames.length === 1) {
    const only = frames[0] as Buffer;
    if (only.length === 1 && only[0] === 0x02) return { type: 'heartbeat' };
    return { type: 'invalid', reason: 'single frame is not HEARTBEAT' };
  }
  const split = splitEnvelope(frames);
  return typeof split === 'string' ? { type: 'invalid', reason: `request: ${split}` } : { type: 'request', ...split };
}

/** Worker side: READY `[0x01]`. */
export function encodePppReady(): Buffer[] {
  return [PPP_READY];
}

/** Worker side: HEARTBEAT `[0x02]`. */
export function encodePppWorkerHeartbeat(): Buffer[] {
  return [PPP_HEARTBEAT];
}

/** Worker side (PPP and Simple Pirate): a reply is the request's envelope followed by the reply frames. */
export function encodeReply(envelope: readonly Buffer[], reply: readonly Buffer[]): Buffer[] {
  return [...envelope, ...reply];
}

/** Queue side: what goes back to the client on the frontend: the reply exactly as the worker sent it. */
export function encodeClientReply(reply: Enveloped): Buffer[] {
  return [...reply.envelope, ...reply.body];
}

// ---------------------------------------------------------------------------------------------
// Simple Pirate

/** What the Simple Pirate backend ROUTER reads from a REQ worker. */
export type SimpleWorkerMessage = { type: 'ready' } | ({ type: 'reply' } & Enveloped) | Invalid;

/**
 * Queue side: decode `[worker-id][""][0x01]` (READY) or `[worker-id][""][client-id...][""][reply...]`.
 * READY is recognised by its exact shape (3 frames, 1-byte 0x01), never by a first-byte test.
 */
export function decodeSimpleWorkerMessage(frames: Message): FromWorker<SimpleWorkerMessage> {
  const worker = frames[0];
  if (frames.length < 3) return { worker, message: { type: 'invalid', reason: 'too few frames' } };
  if ((frames[1] as Buffer).length !== 0) return { worker, message: { type: 'invalid', reason: 'no REQ delimiter' } };
  if (frames.length === 3) {
    const command = frames[2] as Buffer;
    if (command.length === 1 && command[0] === 0x01) return { worker, message: { type: 'ready' } };
    return { worker, message: { type: 'invalid', reason: 'single frame is not READY' } };
  }
  const split = splitEnvelope(frames, 2);
  if (typeof split === 'string') return { worker, message: { type: 'invalid', reason: `reply: ${split}` } };
  return { worker, message: { type: 'reply', ...split } };
}

/** Queue side: `[worker-id][""][client-id...][""][body...]` (zmsg_wrap of the client request). */
export function encodeSimpleRequest(worker: Buffer, request: Enveloped): Buffer[] {
  return [worker, EMPTY, ...request.envelope, ...request.body];
}

/** Queue side: the same, from the request's frames as the frontend read them (already checked). */
export function encodeSimpleRequestFrames(worker: Buffer, request: readonly Buffer[]): Buffer[] {
  return [worker, EMPTY, ...request];
}

/** Worker side (REQ app frames; REQ adds and strips its own delimiter): READY is `[0x01]`. */
export function encodeSimpleReady(): Buffer[] {
  return [SIMPLE_READY];
}

/** Worker side: a request as the REQ worker app reads it, `[client-id...][""][body...]`. */
export function decodeSimpleRequest(frames: Message): ({ type: 'request' } & Enveloped) | Invalid {
  const split = splitEnvelope(frames);
  return typeof split === 'string' ? { type: 'invalid', reason: split } : { type: 'request', ...split };
}
