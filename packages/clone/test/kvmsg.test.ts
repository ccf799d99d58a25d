/** Golden frames for 12/CHP: the byte layouts of the spec, frame by frame. */
import { ProtocolError } from '@zpatterns/core';
import { describe, expect, it } from 'vitest';
import {
  decodeClientUpdate,
  decodeIcanhaz,
  decodeKvMsg,
  decodeProperties,
  encodeHugz,
  encodeIcanhaz,
  encodeKthxbai,
  encodeKvMsg,
  encodeProperties,
  inSubtree,
  isReservedKey,
  newUuid,
  ttlSeconds,
} from '../src/kvmsg.js';

const hexes = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('hex'));
const UUID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('kvmsg golden frames', () => {
  it('KVPUB: key, 8-byte big-endian sequence, 16-byte uuid, name=value\\n props, body', () => {
    const frames = encodeKvMsg({
      key: '/client/1',
      sequence: 258n,
      uuid: UUID,
      properties: new Map([['ttl', '30']]),
      body: Buffer.from('hello'),
    });
    expect(hexes(frames)).toEqual([
      Buffer.from('/client/1').toString('hex'),
      '0000000000000102',
      '00112233445566778899aabbccddeeff',
      Buffer.from('ttl=30\n').toString('hex'),
      '68656c6c6f',
    ]);
  });

  it('a delete is an empty body; no props is an empty frame; no uuid is an empty frame', () => {
    const frames = encodeKvMsg({
      key: 'k',
      sequence: 0n,
      uuid: Buffer.alloc(0),
      properties: new Map(),
      body: Buffer.alloc(0),
    });
    expect(hexes(frames)).toEqual(['6b', '0000000000000000', '', '', '']);
  });

  it('ICANHAZ? with a subtree', () => {
    expect(hexes(encodeIcanhaz('/client/'))).toEqual([
      Buffer.from('ICANHAZ?').toString('hex'),
      Buffer.from('/client/').toString('hex'),
    ]);
  });

  it('KTHXBAI carries the sequence and the subtree', () => {
    expect(hexes(encodeKthxbai(0x0102030405060708n, '/a/'))).toEqual([
      Buffer.from('KTHXBAI').toString('hex'),
      '0102030405060708',
      '',
      '',
      Buffer.from('/a/').toString('hex'),
    ]);
  });

  it('HUGZ carries the current sequence and empty frames', () => {
    expect(hexes(encodeHugz(7n))).toEqual([Buffer.from('HUGZ').toString('hex'), '0000000000000007', '', '', '']);
  });
});

describe('kvmsg decode', () => {
  it('round-trips', () => {
    const msg = {
      key: '/x/y',
      sequence: 2n ** 40n,
      uuid: newUuid(),
      properties: new Map([
        ['a', '1'],
        ['ttl', '5'],
      ]),
      body: Buffer.from('v'),
    };
    expect(decodeKvMsg(encodeKvMsg(msg))).toEqual(msg);
  });

  it('rejects wrong frame counts, sequence sizes and uuid sizes', () => {
    const [key, seq, uuid, props, body] = encodeKvMsg({
      key: 'k',
      sequence: 1n,
      uuid: UUID,
      properties: new Map(),
      body: Buffer.from('v'),
    }) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    expect(() => decodeKvMsg([key, seq, uuid, props])).toThrow(ProtocolError);
    expect(() => decodeKvMsg([key, Buffer.alloc(7), uuid, props, body])).toThrow(ProtocolError);
    expect(() => decodeKvMsg([key, seq, Buffer.alloc(15), props, body])).toThrow(ProtocolError);
    expect(() => decodeKvMsg([Buffer.alloc(0), seq, uuid, props, body])).toThrow(ProtocolError);
    expect(decodeKvMsg([key, seq, uuid, props, body]).key).toBe('k');
  });

  it("a client's KVSET as the collector decodes it: the same checks, sequence 0, properties as sent", () => {
    const frames = encodeKvMsg({
      key: '/k',
      sequence: 7n,
      uuid: UUID,
      properties: new Map([['ttl', '5']]),
      body: Buffer.from('v'),
    }) as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const [key, seq, uuid, props, body] = frames;
    expect(decodeClientUpdate(frames)).toEqual({ ...decodeKvMsg(frames), sequence: 0n });
    expect(decodeClientUpdate([key, seq, uuid, Buffer.alloc(0), body]).properties.size).toBe(0);
    expect(() => decodeClientUpdate([key, seq, uuid, props])).toThrow(ProtocolError);
    expect(() => decodeClientUpdate([key, Buffer.alloc(7), uuid, props, body])).toThrow(ProtocolError);
    expect(() => decodeClientUpdate([key, seq, Buffer.alloc(15), props, body])).toThrow(ProtocolError);
    expect(() => decodeClientUpdate([Buffer.alloc(0), seq, uuid, props, body])).toThrow(ProtocolError);
    expect(() => decodeClientUpdate([key, seq, uuid, Buffer.from('noequals\n'), body])).toThrow(ProtocolError);
  });

  it('properties: trailing bytes after the last newline are ignored; a later duplicate wins', () => {
    expect([...decodeProperties(Buffer.from('a=1\nb=2\na=3\ngarbage'))]).toEqual([
      ['b', '2'],
      ['a', '3'],
    ]);
    expect(() => decodeProperties(Buffer.from('noequals\n'))).toThrow(ProtocolError);
    expect(encodeProperties(new Map())).toHaveLength(0);
  });

  it('ICANHAZ? with and without a subtree (models 2-3 send one frame)', () => {
    expect(decodeIcanhaz(encodeIcanhaz('/a/'))).toBe('/a/');
    expect(decodeIcanhaz([Buffer.from('ICANHAZ?')])).toBe('');
    expect(() => decodeIcanhaz([Buffer.from('NOPE')])).toThrow(ProtocolError);
  });

  it('subtree is a byte prefix; ttl parsing treats missing or junk as 0', () => {
    expect(inSubtree('/a/x', '/a/')).toBe(true);
    expect(inSubtree('/ab', '/a/')).toBe(false);
    expect(inSubtree('/b/x', '')).toBe(true);
    expect(ttlSeconds(new Map([['ttl', '30']]))).toBe(30);
    expect(ttlSeconds(new Map([['ttl', 'x']]))).toBe(0);
    expect(ttlSeconds(new Map())).toBe(0);
  });
});

describe('reserved keys', () => {
  it('HUGZ, KTHXBAI and ICANHAZ? are commands, not keys', () => {
    for (const key of ['HUGZ', 'KTHXBAI', 'ICANHAZ?']) expect(isReservedKey(key)).toBe(true);
    for (const key of ['hugz', '/HUGZ', 'KTHXBAI2', '']) expect(isReservedKey(key)).toBe(false);
  });
});
