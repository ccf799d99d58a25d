/**
 * Frame helpers. A message is a `Buffer[]`; protocol code compares header and command frames
 * against preallocated Buffers and never converts to strings on the hot path.
 */
import { ProtocolError } from './errors.js';

/** What may be sent as one frame. */
export type Frame = Buffer | Uint8Array | string;
/** A multipart message as sent. */
export type Frames = readonly Frame[];
/** A multipart message as received. */
export type Message = Buffer[];

/** The zero-length frame: the REQ/REP envelope delimiter. */
export const EMPTY: Buffer = Buffer.alloc(0);

/** A string as a UTF-8 frame. */
export function frame(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** A frame as a UTF-8 string. */
export function text(frameValue: Frame): string {
  return typeof frameValue === 'string' ? frameValue : Buffer.from(frameValue).toString('utf8');
}

/** A frame as a Buffer, without copying when it already is one. */
export function toBuffer(frameValue: Frame): Buffer {
  if (typeof frameValue === 'string') return Buffer.from(frameValue, 'utf8');
  return Buffer.isBuffer(frameValue)
    ? frameValue
    : Buffer.from(frameValue.buffer, frameValue.byteOffset, frameValue.byteLength);
}

/** Byte equality of two frames. */
export function frameEquals(a: Uint8Array, b: Uint8Array): boolean {
  const length = a.length;
  if (length !== b.length) return false;
  // Protocol headers and commands are a few bytes: a loop beats the native call.
  if (length > 16) return Buffer.compare(a, b) === 0;
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when `value` is a single-byte frame holding `byte`. */
export function isByte(value: Uint8Array | undefined, byte: number): boolean {
  return value !== undefined && value.length === 1 && value[0] === byte;
}

/** An 8-byte big-endian unsigned integer frame (Clone sequence numbers). */
export function u64(value: bigint | number): Buffer {
  const out = Buffer.allocUnsafe(8);
  // Below 2^32 (every sequence in practice): two 32-bit writes, no BigInt arithmetic.
  if (typeof value === 'bigint' && value >= 0n && value <= 0xffffffffn) {
    out.writeUInt32BE(0, 0);
    out.writeUInt32BE(Number(value), 4);
    return out;
  }
  out.writeBigUInt64BE(BigInt(value));
  return out;
}

/** Read an 8-byte big-endian unsigned integer frame. Throws `ProtocolError` on a wrong size. */
export function readU64(value: Uint8Array): bigint {
  if (value.length !== 8) throw new ProtocolError(`expected an 8-byte integer frame, got ${value.length} bytes`);
  // read from the bytes themselves: no Buffer view made per call (a sequence is read per update)
  const hi = (((value[0] ?? 0) << 24) | ((value[1] ?? 0) << 16) | ((value[2] ?? 0) << 8) | (value[3] ?? 0)) >>> 0;
  const lo = (((value[4] ?? 0) << 24) | ((value[5] ?? 0) << 16) | ((value[6] ?? 0) << 8) | (value[7] ?? 0)) >>> 0;
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * Check a message's frame count; throws a `ProtocolError` naming `what` when it is outside
 * `[min, max]`.
 */
export function expectFrames(
  message: readonly unknown[],
  min: number,
  max = Number.POSITIVE_INFINITY,
  what = 'message',
): void {
  if (message.length < min || message.length > max) {
    const want = max === min ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min}..${max}`;
    throw new ProtocolError(`${what}: expected ${want} frames, got ${message.length}`);
  }
}

/** Hex rendering of a peer identity for logs and map keys (identities are binary). */
export function hex(value: Uint8Array): string {
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
}

/** A short printable summary of a message for logs: sizes, and text for small printable frames. */
export function describe(message: readonly Uint8Array[], maxFrames = 8): string[] {
  const out: string[] = [];
  for (const f of message.slice(0, maxFrames)) {
    const b = Buffer.from(f.buffer, f.byteOffset, f.byteLength);
    const printable = b.length <= 32 && /^[\x20-\x7e]*$/.test(b.toString('latin1'));
    out.push(
      printable
        ? JSON.stringify(b.toString('latin1'))
        : `<${b.length}B ${b.subarray(0, 8).toString('hex')}${b.length > 8 ? '...' : ''}>`,
    );
  }
  if (message.length > maxFrames) out.push(`+${message.length - maxFrames} frames`);
  return out;
}
