/**
 * The worker's per-request frames (`worker-frames.ts`) against the codec: a REQUEST is recognised
 * exactly when `decodeFromBroker` decodes one, with the same client and body, and a reply is the
 * frames `encodeWorkerReply` writes, byte for byte.
 */
import { describe, expect, it } from 'vitest';
import type { Frame } from '@zpatterns/core';
import { decodeFromBroker, encodeWorkerCommand, encodeWorkerReply, type MdpVersion } from '../src/codec.js';
import { replyFrames, requestBody, requestClientAt } from '../src/worker-frames.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hexes = (frames: readonly Frame[]): string[] =>
  frames.map((f) => Buffer.from(typeof f === 'string' ? Buffer.from(f) : f).toString('hex'));
const VERSIONS: MdpVersion[] = ['0.1', '0.2'];

/** Messages a worker's DEALER may receive: valid commands of both versions and broken ones. */
function messages(version: MdpVersion): Buffer[][] {
  const header = version === '0.1' ? [b(''), b('MDPW01')] : [b('MDPW02')];
  const asBuffers = (frames: Frame[]): Buffer[] => frames.map((f) => Buffer.from(f as Uint8Array));
  const request = (body: Buffer[]): Buffer[] =>
    asBuffers(encodeWorkerCommand(version, { type: 'request', client: b('C1'), body }));
  return [
    request([b('one')]),
    request([b('a'), b(''), b('c')]),
    request([]),
    request([b('')]),
    asBuffers(encodeWorkerCommand(version, { type: 'heartbeat' })),
    asBuffers(encodeWorkerCommand(version, { type: 'disconnect' })),
    [...header, Buffer.from([0x02]), b(''), b(''), b('x')], // empty client address
    [...header, Buffer.from([0x02]), b('C1'), b('not empty'), b('x')],
    [...header, Buffer.from([0x02]), b('C1')],
    [...header, Buffer.from([0x02, 0x00]), b('C1'), b(''), b('x')],
    [...header, Buffer.from([0x03]), b('C1'), b(''), b('x')],
    [b('X'), ...header.slice(1), Buffer.from([0x02]), b('C1'), b(''), b('x')],
    [b(''), b('MDPW02'), Buffer.from([0x02]), b('C1'), b(''), b('x')],
    [b('MDPW0'), Buffer.from([0x02]), b('C1'), b(''), b('x')],
    [],
  ];
}

describe('worker frames', () => {
  for (const version of VERSIONS) {
    it(`MDP/${version}: a REQUEST is recognised exactly when the codec decodes one, with its client and body`, () => {
      for (const message of messages(version)) {
        const decoded = decodeFromBroker(version, message);
        const at = requestClientAt(version, message);
        if (typeof decoded !== 'string' && decoded.type === 'request') {
          expect(at).toBeGreaterThanOrEqual(0);
          expect(hexes([message[at] as Buffer])).toEqual(hexes([decoded.client]));
          expect(hexes(requestBody(message, at))).toEqual(hexes(decoded.body));
        } else {
          expect(at).toBe(-1);
        }
      }
    });
  }

  it('a reply is the frames encodeWorkerReply writes, for every body shape and version', () => {
    const bodies: (Frame | Frame[])[] = [
      b('one'),
      'text',
      new Uint8Array([1, 2, 3]),
      [],
      [b('one')],
      ['text'],
      [b('a'), 'b', new Uint8Array([9])],
    ];
    for (const body of bodies) {
      expect(hexes(replyFrames('0.1', b('C1'), body, true))).toEqual(hexes(encodeWorkerReply('0.1', b('C1'), body)));
      for (const final of [true, false]) {
        expect(hexes(replyFrames('0.2', b('C1'), body, final))).toEqual(
          hexes(encodeWorkerReply('0.2', b('C1'), body, final)),
        );
      }
    }
    expect(() => replyFrames('0.1', b('C1'), [b('x')], false)).toThrow(/no partial replies/);
  });
});
