/**
 * The client's in-place reply check (`client-frames.ts`) against the codec: a message is a FINAL,
 * a PARTIAL or not a reply exactly as `decodeClientReply` says, with the same service and body.
 */
import { describe, expect, it } from 'vitest';
import { decodeClientReply, encodeClientReply, type MdpVersion } from '../src/codec.js';
import { FINAL_REPLY, NOT_A_REPLY, PARTIAL_REPLY, replyBody, replyKind } from '../src/client-frames.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hexes = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('hex'));

function messages(version: MdpVersion): Buffer[][] {
  // As the client's DEALER reads them: the broker's ROUTER strips the identity frame.
  const reply = (body: Buffer[], final = true): Buffer[] =>
    encodeClientReply(version, b('ID'), b('echo'), body, final)
      .slice(1)
      .map((f) => Buffer.from(f as Uint8Array));
  const out = [reply([b('one')]), reply([b('a'), b(''), b('c')]), reply([]), reply([b('')])];
  if (version === '0.2') out.push(reply([b('part')], false));
  return [
    ...out,
    [b(''), b('MDPC01')],
    [b('x'), b('MDPC01'), b('echo'), b('body')],
    [b(''), b('MDPC02'), b('echo'), b('body')],
    [b('MDPC02'), Buffer.from([0x01]), b('echo'), b('body')],
    [b('MDPC02'), Buffer.from([0x03, 0x00]), b('echo'), b('body')],
    [b('MDPC01'), Buffer.from([0x03]), b('echo'), b('body')],
    [b('MDPC02'), Buffer.from([0x03])],
    [],
  ];
}

describe('client frames', () => {
  for (const version of ['0.1', '0.2'] as MdpVersion[]) {
    it(`MDP/${version}: a reply is recognised exactly as the codec decodes it`, () => {
      for (const message of messages(version)) {
        const decoded = decodeClientReply(version, message);
        const kind = replyKind(version, message);
        if (typeof decoded === 'string') {
          expect(kind).toBe(NOT_A_REPLY);
          continue;
        }
        expect(kind).toBe(decoded.final ? FINAL_REPLY : PARTIAL_REPLY);
        expect(hexes([message[2] as Buffer])).toEqual(hexes([decoded.service]));
        expect(hexes(replyBody(message))).toEqual(hexes(decoded.body));
      }
    });
  }
});
