import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@zpatterns/core';
import {
  decodeClientInbound,
  decodeRequestId,
  decodeServerInbound,
  encodePing,
  encodePong,
  encodeReply,
  encodeRequest,
  encodeRequestId,
  PING,
  PONG,
} from '../src/protocol.js';

const hexOf = (frames: readonly (Buffer | Uint8Array | string)[]): string[] =>
  frames.map((f) => Buffer.from(f as Uint8Array).toString('hex'));
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const SERVER = 'tcp://localhost:5555';

describe('10/FLP golden frames', () => {
  it('PING and PONG are the four ASCII bytes', () => {
    expect(PING.toString('hex')).toBe('50494e47');
    expect(PONG.toString('hex')).toBe('504f4e47');
    expect(hexOf(encodePing(SERVER) as Buffer[])).toEqual([b(SERVER).toString('hex'), '50494e47']);
    expect(hexOf(encodePong(b('\x00abc')) as Buffer[])).toEqual(['00616263', '504f4e47']);
  });

  it('a request is [server][control][body...] and the reply echoes the control frame', () => {
    const control = encodeRequestId(42);
    expect(control.toString('hex')).toBe('3432');
    expect(hexOf(encodeRequest(SERVER, control, [b('random name')]) as Buffer[])).toEqual([
      b(SERVER).toString('hex'),
      '3432',
      b('random name').toString('hex'),
    ]);
    expect(hexOf(encodeReply(b('\x00abc'), control, [b('OK')]) as Buffer[])).toEqual(['00616263', '3432', '4f4b']);
  });

  it('decodes what a server receives', () => {
    expect(decodeServerInbound([b('id'), b('PING')])).toEqual({ type: 'ping', peer: b('id') });
    expect(decodeServerInbound([b('id'), b('PING'), b('extra')]).type).toBe('ping');
    expect(decodeServerInbound([b('id'), b('7'), b('a'), b('')])).toEqual({
      type: 'request',
      peer: b('id'),
      control: b('7'),
      body: [b('a'), b('')],
    });
    expect(decodeServerInbound([b('id'), b('7')])).toMatchObject({ type: 'request', body: [] });
    expect(() => decodeServerInbound([b('id')])).toThrow(ProtocolError);
    expect(() => decodeServerInbound([b('id'), b('')])).toThrow(ProtocolError);
  });

  it('decodes what a client receives', () => {
    expect(decodeClientInbound([b(SERVER), b('PONG')])).toEqual({ type: 'pong', server: b(SERVER) });
    expect(decodeClientInbound([b(SERVER), b('3'), b('OK')])).toEqual({
      type: 'reply',
      server: b(SERVER),
      control: b('3'),
      body: [b('OK')],
    });
    expect(() => decodeClientInbound([b(SERVER)])).toThrow(ProtocolError);
  });

  it('request ids round-trip and foreign control frames are not ids', () => {
    for (const id of [1, 9, 10, 123456789, Number.MAX_SAFE_INTEGER])
      expect(decodeRequestId(encodeRequestId(id))).toBe(id);
    for (const bad of ['', '0', '01', 'PONG', '-1', '1a', '99999999999999999'])
      expect(decodeRequestId(b(bad))).toBe(undefined);
  });
});
