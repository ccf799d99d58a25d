/** Golden frames: every 9/TSP body, byte for byte, and the MDP/0.1 frames the book's ticlient sends. */
import { encodeClientRequest } from '@zpatterns/majordomo/protocol';
import { describe, expect, it } from 'vitest';
import {
  decodeSubmit,
  decodeSubmitted,
  decodeTspReply,
  decodeUuidRequest,
  encodeReplyReady,
  encodeStatus,
  encodeSubmit,
  encodeSubmitted,
  encodeUuidRequest,
  generateUuid,
  isUuid,
  parseUuid,
  TSP_SERVICE,
} from '../src/protocol.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hexes = (frames: readonly (Buffer | Uint8Array | string)[]): string[] =>
  frames.map((f) => Buffer.from(typeof f === 'string' ? Buffer.from(f) : f).toString('hex'));
const UUID = '0123456789ABCDEF0123456789ABCDEF';
const UUID_HEX = Buffer.from(UUID).toString('hex');

describe('9/TSP golden frames', () => {
  it('titanic.request as the book ticlient sends it: ["", "MDPC01", "titanic.request", "echo", "Hello world"]', () => {
    const frames = encodeClientRequest('0.1', TSP_SERVICE.REQUEST, encodeSubmit('echo', ['Hello world']));
    expect(hexes(frames)).toEqual([
      '',
      '4d4450433031',
      '746974616e69632e72657175657374',
      '6563686f',
      '48656c6c6f20776f726c64',
    ]);
  });

  it('titanic.request reply: ["200", uuid]', () => {
    expect(hexes(encodeSubmitted(UUID))).toEqual(['323030', UUID_HEX]);
  });

  it('titanic.reply and titanic.close bodies: [uuid]', () => {
    expect(hexes(encodeUuidRequest(UUID))).toEqual([UUID_HEX]);
    expect(hexes(encodeClientRequest('0.1', TSP_SERVICE.REPLY, encodeUuidRequest(UUID)))).toEqual([
      '',
      '4d4450433031',
      '746974616e69632e7265706c79',
      UUID_HEX,
    ]);
    expect(hexes(encodeClientRequest('0.1', TSP_SERVICE.CLOSE, encodeUuidRequest(UUID)))).toEqual([
      '',
      '4d4450433031',
      '746974616e69632e636c6f7365',
      UUID_HEX,
    ]);
  });

  it('status replies: ["200", body...], ["200"], ["300"], ["400"], ["500"]', () => {
    expect(hexes(encodeReplyReady([b('Hello'), Buffer.from([0, 1])]))).toEqual(['323030', '48656c6c6f', '0001']);
    expect(hexes(encodeStatus('200'))).toEqual(['323030']);
    expect(hexes(encodeStatus('300'))).toEqual(['333030']);
    expect(hexes(encodeStatus('400'))).toEqual(['343030']);
    expect(hexes(encodeStatus('500'))).toEqual(['353030']);
  });
});

describe('TSP decoding', () => {
  it('decodes titanic.request bodies and rejects a missing or empty service', () => {
    expect(decodeSubmit([b('echo'), b('a'), b('b')])).toEqual({ service: b('echo'), body: [b('a'), b('b')] });
    expect(decodeSubmit([b('echo')])).toEqual({ service: b('echo'), body: [] });
    expect(decodeSubmit([])).toBe('missing service frame');
    expect(decodeSubmit([b('')])).toBe('empty service name');
  });

  it('accepts 32 hex characters in either case and normalises to upper case', () => {
    expect(decodeUuidRequest([b(UUID)])).toBe(UUID);
    expect(decodeUuidRequest([b(UUID.toLowerCase())])).toBe(UUID);
    expect(parseUuid('abcdefABCDEF0123456789abcdef0123')).toBe('ABCDEFABCDEF0123456789ABCDEF0123');
  });

  it.each([
    ['too short', [b(UUID.slice(1))]],
    ['too long', [b(`${UUID}0`)]],
    ['not hex', [b(`${UUID.slice(0, 31)}G`)]],
    ...['/', ':', '@', '`', 'g'].map((c): [string, Buffer[]] => [
      `next to a hex range (${c})`,
      [b(`${c}${UUID.slice(1)}`)],
    ]),
    ['dashed', [b('01234567-89AB-CDEF-0123-456789ABCDEF')]],
    ['path traversal', [b('../../../../etc/passwd/.........')]],
    ['binary', [Buffer.alloc(32, 0xff)]],
    ['no frame', []],
    ['two frames', [b(UUID), b(UUID)]],
  ])('rejects a malformed UUID request (%s)', (_name, frames) => {
    expect(decodeUuidRequest(frames)).toHaveProperty('error');
  });

  it('decodes status replies and rejects unknown statuses', () => {
    expect(decodeTspReply([b('300')])).toEqual({ status: '300', body: [] });
    expect(decodeTspReply([b('200'), b('x')])).toEqual({ status: '200', body: [b('x')] });
    expect(decodeTspReply([b('201')])).toMatch(/unknown status/);
    expect(decodeTspReply([])).toBe('empty reply');
    expect(decodeSubmitted([b('200'), b(UUID.toLowerCase())])).toBe(UUID);
    expect(decodeSubmitted([b('500')])).toEqual({ error: 'status 500', status: '500' });
    expect(decodeSubmitted([b('200')])).toHaveProperty('error');
  });

  it('generates 32 upper-case hex UUIDs, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const uuid = generateUuid();
      expect(uuid).toMatch(/^[0-9A-F]{32}$/);
      expect(isUuid(uuid)).toBe(true);
      seen.add(uuid);
    }
    expect(seen.size).toBe(1000);
  });
});
