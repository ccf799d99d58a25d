/**
 * The two messages a worker handles per request, without the general codec's objects: a REQUEST
 * from the broker recognised where it stands (`requestClientAt`), and the REPLY (or MDP/0.2
 * FINAL/PARTIAL) built in one array of its final length (`replyFrames`). Byte for byte what
 * `decodeFromBroker` accepts as a REQUEST and what `encodeWorkerReply` writes (`test/codec.test.ts`
 * and `test/worker-frames.test.ts` hold both); every other message goes through the codec.
 *
 * MDP/0.1  REQUEST ["", "MDPW01", 0x02, client, "", body...]   REPLY ["", "MDPW01", 0x03, client, "", body...]
 * MDP/0.2  REQUEST ["MDPW02", 0x02, client, "", body...]       FINAL ["MDPW02", 0x04, client, "", body...]
 */
import { InvalidArgumentError, type Frame } from '@zpatterns/core';
import { EMPTY, toBuffer } from '@zpatterns/core/internal';
import { MDPW01, MDPW02, W01, W02, type MdpVersion } from './codec.js';
import { isHeader } from './header-frame.js';

const REPLY01: Buffer = Buffer.from([W01.REPLY]);
const FINAL02: Buffer = Buffer.from([W02.FINAL]);
const PARTIAL02: Buffer = Buffer.from([W02.PARTIAL]);

/**
 * Where the client address of a well-formed REQUEST of `version` stands in `message` (its body
 * starts two frames later), or -1 for anything else, which the caller decodes with
 * `decodeFromBroker` (for the other commands, and for the reason a malformed message is dropped).
 */
export function requestClientAt(version: MdpVersion, message: readonly Buffer[]): number {
  let at: number;
  if (version === '0.1') {
    const empty = message[0];
    if (empty === undefined || empty.length !== 0 || !isHeader(message[1], MDPW01)) return -1;
    at = 2;
  } else {
    if (!isHeader(message[0], MDPW02)) return -1;
    at = 1;
  }
  const command = message[at];
  // REQUEST is 0x02 in both versions.
  if (command === undefined || command.length !== 1 || command[0] !== W01.REQUEST) return -1;
  const client = message[at + 1];
  const delimiter = message[at + 2];
  if (client === undefined || client.length === 0 || delimiter === undefined || delimiter.length !== 0) return -1;
  return at + 1;
}

/** The body of a REQUEST whose client stands at `clientAt`: the frames after the empty delimiter. */
export function requestBody(message: readonly Buffer[], clientAt: number): Buffer[] {
  const at = clientAt + 2;
  // The common one-frame body: an array literal, not a `slice()` call.
  return message.length === at + 1 ? [message[at] as Buffer] : message.slice(at);
}

/**
 * A worker's REPLY (0.1) or FINAL/PARTIAL (0.2) to `client`: the frames `encodeWorkerReply`
 * writes (body frames as Buffers, an empty body as one empty frame), with a one-frame body (the
 * common case) in one array literal instead of an array grown by `push`.
 */
export function replyFrames(
  version: MdpVersion,
  client: Buffer,
  body: readonly Frame[] | Frame,
  final: boolean,
): Buffer[] {
  const v1 = version === '0.1';
  if (v1 && !final) throw new InvalidArgumentError('MDP/0.1 has no partial replies');
  let one: Buffer | undefined;
  if (!Array.isArray(body)) one = toBuffer(body as Frame);
  else if (body.length === 0) one = EMPTY;
  else if (body.length === 1) one = toBuffer(body[0] as Frame);
  if (one !== undefined) {
    return v1
      ? [EMPTY, MDPW01, REPLY01, client, EMPTY, one]
      : [MDPW02, final ? FINAL02 : PARTIAL02, client, EMPTY, one];
  }
  const out = v1 ? [EMPTY, MDPW01, REPLY01, client, EMPTY] : [MDPW02, final ? FINAL02 : PARTIAL02, client, EMPTY];
  for (const part of body as readonly Frame[]) out.push(toBuffer(part));
  return out;
}
