/**
 * The whole Titanic wire format: 9/TSP, the Titanic Service Protocol, carried as MDP/0.1 request
 * and reply bodies. Pure functions, no sockets; every layout is checked byte for byte in
 * `protocol.test.ts`.
 *
 *   service            request body                    reply body
 *   titanic.request    [service, body...]              ["200", uuid]       (stored durably)
 *   titanic.reply      [uuid]                          ["200", reply...]   (reply is ready)
 *                                                      ["300"]             (pending)
 *                                                      ["400"]             (unknown uuid)
 *   titanic.close      [uuid]                          ["200"]             (idempotent)
 *
 * Every service answers ["400"] to a malformed request (a UUID that is not 32 hex characters, a
 * missing service frame) and ["500"] when Titanic fails internally (e.g. the disk is full).
 *
 * UUIDs are 32 hexadecimal characters with no dashes. Titanic generates them in upper case, as the
 * book's `s_generate_uuid` does; on input it accepts either case and normalises to upper case, so
 * `"0123abcd..."` and `"0123ABCD..."` name the same request.
 */
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { type Frame } from '@zpatterns/core';
import { frameEquals, toBuffer } from '@zpatterns/core/internal';

/** The three MDP service names of 9/TSP. */
export const TSP_SERVICE = {
  REQUEST: 'titanic.request',
  REPLY: 'titanic.reply',
  CLOSE: 'titanic.close',
} as const;

/** 9/TSP status codes. */
export const TSP_STATUS = {
  OK: '200',
  PENDING: '300',
  UNKNOWN: '400',
  ERROR: '500',
} as const;

/** A 9/TSP status code: `'200'` ok, `'300'` pending, `'400'` unknown, `'500'` error. */
export type TspStatus = (typeof TSP_STATUS)[keyof typeof TSP_STATUS];

/** Preallocated status frames, compared with `frameEquals` and sent as they are. */
export const STATUS_OK: Buffer = Buffer.from(TSP_STATUS.OK);
/** The frame `300`: the request is stored but has no reply yet. */
export const STATUS_PENDING: Buffer = Buffer.from(TSP_STATUS.PENDING);
/** The frame `400`: Titanic does not know the request (never stored, or closed). */
export const STATUS_UNKNOWN: Buffer = Buffer.from(TSP_STATUS.UNKNOWN);
/** The frame `500`: the server failed (for example its store). */
export const STATUS_ERROR: Buffer = Buffer.from(TSP_STATUS.ERROR);

/** Length of a TSP UUID in characters. */
export const UUID_LENGTH = 32;

const UUID_PATTERN = /^[0-9A-Fa-f]{32}$/;

/** Upper-case hex digits, as bytes. */
const HEX_DIGITS = Buffer.from('0123456789ABCDEF', 'latin1');
/** Random bytes for the next UUIDs (16 each), refilled from the CSPRNG as `randomUUID` does its own. */
const randomPool = Buffer.alloc(16 * 256);
let randomAt = randomPool.length;
/** The hex characters of the UUID being made. */
const uuidChars = Buffer.alloc(UUID_LENGTH);

/**
 * A new UUID as the book makes it: 16 random bytes (a version 4 UUID, as `crypto.randomUUID`
 * makes) as 32 upper-case hex characters. Written straight into hex, not through `randomUUID()`
 * then removing its dashes and upper-casing it: one string made instead of three.
 */
export function generateUuid(): string {
  if (randomAt === randomPool.length) {
    randomFillSync(randomPool);
    randomAt = 0;
  }
  const pool = randomPool;
  const at = randomAt;
  randomAt += 16;
  for (let i = 0; i < 16; i++) {
    let byte = pool[at + i] as number;
    // Version 4, RFC 4122 variant.
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    uuidChars[2 * i] = HEX_DIGITS[byte >> 4] as number;
    uuidChars[2 * i + 1] = HEX_DIGITS[byte & 0x0f] as number;
  }
  return uuidChars.toString('latin1');
}

/** True for 32 hex characters (either case). */
export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/**
 * A UUID frame as the canonical upper-case string, or `undefined` when the frame is not exactly
 * 32 hex characters. Frames longer than 32 bytes are rejected before any conversion.
 */
export function parseUuid(value: Frame | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return isUuid(value) ? value.toUpperCase() : undefined;
  if (value.length !== UUID_LENGTH) return undefined;
  // Checked byte by byte (no string is made for a frame that is not a UUID, no pattern run).
  let lower = false;
  for (let i = 0; i < UUID_LENGTH; i++) {
    const c = value[i] as number;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46)) continue; // 0-9, A-F
    if (c >= 0x61 && c <= 0x66)
      lower = true; // a-f
    else return undefined;
  }
  const text = toBuffer(value).toString('latin1');
  return lower ? text.toUpperCase() : text;
}

// ---------------------------------------------------------------------------------------------
// Requests (client -> Titanic), as MDP request bodies

/** `titanic.request` body: the target service, then the request frames. */
export function encodeSubmit(service: Frame, body: readonly Frame[]): Frame[] {
  return [service, ...body];
}

/** A decoded `titanic.request` body. */
export interface SubmitRequest {
  /** The service the request is for. */
  service: Buffer;
  /** The request body frames. */
  body: Buffer[];
}

/** Decode a `titanic.request` body, or return the reason it is malformed. */
export function decodeSubmit(message: readonly Buffer[]): SubmitRequest | string {
  const [service] = message;
  if (service === undefined) return 'missing service frame';
  if (service.length === 0) return 'empty service name';
  return { service, body: message.slice(1) };
}

/** `titanic.reply` / `titanic.close` body: the UUID alone. */
export function encodeUuidRequest(uuid: string): Frame[] {
  return [Buffer.from(uuid, 'latin1')];
}

/** Decode a `titanic.reply` or `titanic.close` body to its normalised UUID, or a reason. */
export function decodeUuidRequest(message: readonly Buffer[]): string | { error: string } {
  if (message.length !== 1) return { error: `expected 1 frame, got ${message.length}` };
  const uuid = parseUuid(message[0]);
  return uuid ?? { error: 'not a 32-character hex UUID' };
}

// ---------------------------------------------------------------------------------------------
// Replies (Titanic -> client), as MDP reply bodies

/** `["200", uuid]`: the request is stored. */
export function encodeSubmitted(uuid: string): Frame[] {
  return [STATUS_OK, Buffer.from(uuid, 'latin1')];
}

/** `["200", body...]`: the service's reply. */
export function encodeReplyReady(body: readonly Frame[]): Frame[] {
  return [STATUS_OK, ...body];
}

/** `["300"]`, `["400"]`, `["500"]`, or a bare `["200"]` (close). */
export function encodeStatus(status: TspStatus): Frame[] {
  switch (status) {
    case '200':
      return [STATUS_OK];
    case '300':
      return [STATUS_PENDING];
    case '400':
      return [STATUS_UNKNOWN];
    case '500':
      return [STATUS_ERROR];
  }
}

/** A TSP reply as the client reads it: the status and the frames after it. */
export interface TspReply {
  /** The status frame. */
  status: TspStatus;
  /** The frames after the status (the reply body for a "200" to `titanic.reply`). */
  body: Buffer[];
}

const STATUS_FRAMES: readonly [Buffer, TspStatus][] = [
  [STATUS_OK, '200'],
  [STATUS_PENDING, '300'],
  [STATUS_UNKNOWN, '400'],
  [STATUS_ERROR, '500'],
];

/** Split a TSP reply into status and body, or return the reason it is malformed. */
export function decodeTspReply(message: readonly Buffer[]): TspReply | string {
  const [head] = message;
  if (head === undefined) return 'empty reply';
  for (const [bytes, status] of STATUS_FRAMES) {
    if (frameEquals(head, bytes)) return { status, body: message.slice(1) };
  }
  return `unknown status frame ${JSON.stringify(head.subarray(0, 16).toString('latin1'))}`;
}

/** The UUID of a `titanic.request` reply (`["200", uuid]`), or the reason it is not one. */
export function decodeSubmitted(message: readonly Buffer[]): string | { error: string; status?: TspStatus } {
  const reply = decodeTspReply(message);
  if (typeof reply === 'string') return { error: reply };
  if (reply.status !== '200') return { error: `status ${reply.status}`, status: reply.status };
  if (reply.body.length !== 1) return { error: `expected ["200", uuid], got ${message.length} frames` };
  return parseUuid(reply.body[0]) ?? { error: 'reply carries no valid UUID' };
}
