/**
 * The whole 12/CHP wire format: the 5-frame kvmsg (key, sequence, uuid, properties, body) and the
 * command keys ICANHAZ?, KTHXBAI, HUGZ. Pure: no sockets here.
 *
 * | # | frame      | encoding                                        |
 * |---|------------|-------------------------------------------------|
 * | 0 | key        | bytes (UTF-8 string)                            |
 * | 1 | sequence   | 8 bytes, big-endian unsigned                    |
 * | 2 | uuid       | 16 bytes, or empty                              |
 * | 3 | properties | zero or more `name=value\n` (newline after each)|
 * | 4 | body       | bytes; empty body = delete the key              |
 */
import { randomBytes } from 'node:crypto';
import { ProtocolError } from '@zpatterns/core';
import { EMPTY, frameEquals, readU64, u64 } from '@zpatterns/core/internal';

/** Snapshot request command (frame 0 of a DEALER -> ROUTER request). */
export const ICANHAZ = Buffer.from('ICANHAZ?', 'latin1');
/** Key of the message that ends a snapshot. */
export const KTHXBAI = Buffer.from('KTHXBAI', 'latin1');
/** Key of the server heartbeat. */
export const HUGZ = Buffer.from('HUGZ', 'latin1');
/** The property holding a time-to-live in seconds (on KVSET/KVPUB). */
export const TTL_PROPERTY = 'ttl';
/** Length of a kvmsg UUID frame. */
export const UUID_BYTES = 16;

/** One decoded kvmsg. Properties keep their wire order. */
export interface KvMsg {
  /** The key (or a command: `ICANHAZ?`, `KTHXBAI`, `HUGZ`). */
  key: string;
  /** The server's sequence number; 0 in a client's KVSET. */
  sequence: bigint;
  /** 16 bytes, or empty. */
  uuid: Buffer;
  /** `name=value` properties such as `ttl` (seconds). */
  properties: Map<string, string>;
  /** Empty = delete. */
  body: Buffer;
}

/** A fresh random 16-byte UUID (version 4 layout). */
export function newUuid(): Buffer {
  const out = randomBytes(UUID_BYTES);
  out[6] = ((out[6] ?? 0) & 0x0f) | 0x40;
  out[8] = ((out[8] ?? 0) & 0x3f) | 0x80;
  return out;
}

/** Encode properties as `name=value\n` lines, in insertion order; none = empty frame. */
export function encodeProperties(properties: ReadonlyMap<string, string>): Buffer {
  if (properties.size === 0) return EMPTY;
  let out = '';
  for (const [name, value] of properties) {
    if (name.includes('=') || name.includes('\n') || value.includes('\n')) {
      throw new ProtocolError(`kvmsg property ${JSON.stringify(name)} cannot be encoded`);
    }
    out += `${name}=${value}\n`;
  }
  return Buffer.from(out, 'utf8');
}

/**
 * Decode a properties frame. Bytes after the last newline are ignored (as the book does); a line
 * without `=` is a protocol error.
 */
export function decodeProperties(frame: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  if (frame.length === 0) return props;
  const textValue = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8');
  const lines = textValue.split('\n');
  lines.pop(); // the part after the last '\n' (empty for a well-formed frame)
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new ProtocolError(`kvmsg property line without a name: ${JSON.stringify(line)}`);
    const name = line.slice(0, eq);
    props.delete(name);
    props.set(name, line.slice(eq + 1));
  }
  return props;
}

/** The five frames of a kvmsg. */
export function encodeKvMsg(msg: KvMsg): Buffer[] {
  if (msg.uuid.length !== 0 && msg.uuid.length !== UUID_BYTES) {
    throw new ProtocolError(`kvmsg uuid must be empty or ${UUID_BYTES} bytes, got ${msg.uuid.length}`);
  }
  return [Buffer.from(msg.key, 'utf8'), u64(msg.sequence), msg.uuid, encodeProperties(msg.properties), msg.body];
}

/** Decode exactly five frames into a kvmsg; anything else is a `ProtocolError`. */
export function decodeKvMsg(frames: readonly Buffer[]): KvMsg {
  if (frames.length !== 5) throw new ProtocolError(`kvmsg: expected 5 frames, got ${frames.length}`);
  const [key, seq, uuid, props, body] = frames as [Buffer, Buffer, Buffer, Buffer, Buffer];
  if (key.length === 0) throw new ProtocolError('kvmsg: empty key');
  if (uuid.length !== 0 && uuid.length !== UUID_BYTES) {
    throw new ProtocolError(`kvmsg: uuid must be empty or ${UUID_BYTES} bytes, got ${uuid.length}`);
  }
  return {
    key: key.toString('utf8'),
    sequence: readU64(seq),
    uuid,
    properties: decodeProperties(props),
    body,
  };
}

/**
 * The properties of every decoded client update that has none: one map, shared, which the server
 * never changes (it copies a message's properties before changing any: a TTL left, an expiry).
 */
const NO_PROPERTIES: Map<string, string> = new Map();

/**
 * A client's KVSET as the server's collector decodes it: `decodeKvMsg`'s checks, without reading
 * the sequence (a client sends 0 and the server gives its own; the frame must still be 8 bytes),
 * and with one shared empty properties map for the update that has none. Nothing but the server
 * sees the result: a user never gets it to change.
 */
export function decodeClientUpdate(frames: readonly Buffer[]): KvMsg {
  if (frames.length !== 5) throw new ProtocolError(`kvmsg: expected 5 frames, got ${frames.length}`);
  const [key, seq, uuid, props, body] = frames as [Buffer, Buffer, Buffer, Buffer, Buffer];
  if (key.length === 0) throw new ProtocolError('kvmsg: empty key');
  if (seq.length !== 8) throw new ProtocolError(`expected an 8-byte integer frame, got ${seq.length} bytes`);
  if (uuid.length !== 0 && uuid.length !== UUID_BYTES) {
    throw new ProtocolError(`kvmsg: uuid must be empty or ${UUID_BYTES} bytes, got ${uuid.length}`);
  }
  return {
    key: key.toString('utf8'),
    sequence: 0n,
    uuid,
    properties: props.length === 0 ? NO_PROPERTIES : decodeProperties(props),
    body,
  };
}

/**
 * Keys a client must not set: a stored `KTHXBAI` would end every snapshot early and a published
 * `HUGZ` would be taken for a heartbeat (and leave a hole in every replica's sequence).
 */
export function isReservedKey(key: string): boolean {
  return key === 'HUGZ' || key === 'KTHXBAI' || key === 'ICANHAZ?';
}

/** `["ICANHAZ?", subtree]` as a client's DEALER sends it. */
export function encodeIcanhaz(subtree: string): Buffer[] {
  return [ICANHAZ, Buffer.from(subtree, 'utf8')];
}

/** Decode a snapshot request (after the ROUTER identity): returns the subtree. */
export function decodeIcanhaz(frames: readonly Buffer[]): string {
  const [command, subtree] = frames;
  if (command === undefined || !frameEquals(command, ICANHAZ))
    throw new ProtocolError('snapshot request: not ICANHAZ?');
  // Models 2-3 send one frame (no subtree): serve everything.
  if (frames.length > 2) throw new ProtocolError(`snapshot request: expected 1..2 frames, got ${frames.length}`);
  return subtree === undefined ? '' : subtree.toString('utf8');
}

/** KTHXBAI: ends a snapshot, carrying the server's sequence; body = subtree (as CHP says). */
export function encodeKthxbai(sequence: bigint, subtree: string): Buffer[] {
  return [KTHXBAI, u64(sequence), EMPTY, EMPTY, Buffer.from(subtree, 'utf8')];
}

/** HUGZ: the server heartbeat; carries the current sequence as the book's clonesrv6 does. */
export function encodeHugz(sequence: bigint): Buffer[] {
  return [HUGZ, u64(sequence), EMPTY, EMPTY, EMPTY];
}

/** True when a kvmsg key falls inside a subtree (byte prefix; empty subtree = all). */
export function inSubtree(key: string, subtree: string): boolean {
  return key.startsWith(subtree);
}

/** The `ttl` property in seconds, or 0 when absent or not a positive number. */
export function ttlSeconds(properties: ReadonlyMap<string, string>): number {
  const raw = properties.get(TTL_PROPERTY);
  if (raw === undefined) return 0;
  const value = Number(raw);
  return Number.isFinite(value) && value > 0 ? value : 0;
}
