/**
 * A reply as a client's DEALER reads it, recognised in place: `decodeClientReply` without its
 * object, for `ClientConnection`, which reads every reply of every request. Anything this does not
 * take as a well-formed reply goes through `decodeClientReply` for the reason it is dropped
 * (`test/client-frames.test.ts` holds the two together).
 *
 * MDP/0.1  ["", "MDPC01", service, body...]     MDP/0.2  ["MDPC02", 0x02 PARTIAL | 0x03 FINAL, service, body...]
 */
import { MDPC01, MDPC02, C02, type MdpVersion } from './codec.js';
import { isHeader } from './header-frame.js';

/** Not a well-formed reply. */
export const NOT_A_REPLY = -1;
/** An MDP/0.2 PARTIAL. */
export const PARTIAL_REPLY = 0;
/** A FINAL reply (every MDP/0.1 reply). */
export const FINAL_REPLY = 1;

/**
 * What `message` is: `FINAL_REPLY`, `PARTIAL_REPLY` or `NOT_A_REPLY`. For a reply, its service is
 * `message[2]` and its body the frames from `message[3]` (`replyBody`).
 */
export function replyKind(version: MdpVersion, message: readonly Buffer[]): number {
  if (message[2] === undefined) return NOT_A_REPLY;
  if (version === '0.1') {
    const empty = message[0] as Buffer;
    return empty.length === 0 && isHeader(message[1], MDPC01) ? FINAL_REPLY : NOT_A_REPLY;
  }
  const command = message[1] as Buffer;
  if (!isHeader(message[0], MDPC02) || command.length !== 1) return NOT_A_REPLY;
  if (command[0] === C02.FINAL) return FINAL_REPLY;
  return command[0] === C02.PARTIAL ? PARTIAL_REPLY : NOT_A_REPLY;
}

/** The body of a reply: the frames after the service (one frame in an array literal). */
export function replyBody(message: readonly Buffer[]): Buffer[] {
  return message.length === 4 ? [message[3] as Buffer] : message.slice(3);
}
