/**
 * Golden frames: the exact bytes of every Pirate message, as the book's C code puts them on the
 * wire (spec §2-§4), and the decoder's verdict on the shapes the book's 1-byte checks get wrong.
 */
import { describe, expect, it } from 'vitest';
import {
  decodeClientRequest,
  decodePppQueueMessage,
  decodePppWorkerMessage,
  decodeSimpleRequest,
  decodeSimpleWorkerMessage,
  encodeClientReply,
  encodePppHeartbeat,
  encodePppReady,
  encodePppRequest,
  encodePppRequestFrames,
  encodePppWorkerHeartbeat,
  encodeReply,
  encodeSequence,
  encodeSimpleReady,
  encodeSimpleRequest,
  encodeSimpleRequestFrames,
  envelopeDelimiter,
  isSequence,
  pppWorkerMessageKind,
  splitEnvelope,
  PPP_HEARTBEAT,
  PPP_READY,
  SIMPLE_READY,
} from '@zpatterns/pirate/protocol';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);
const s = (text: string): Buffer => Buffer.from(text, 'latin1');
const hexes = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('hex'));
const E = Buffer.alloc(0);
const client = b(0x00, 0x6b, 0x8b, 0x45, 0x67); // a ROUTER-generated identity
const worker = s('1A2B-3C4D'); // spworker's "%04X-%04X"

describe('constants', () => {
  it('READY is the single byte 0x01 and HEARTBEAT 0x02 (ppqueue.c PPP_READY "\\001", PPP_HEARTBEAT "\\002")', () => {
    expect(PPP_READY.toString('hex')).toBe('01');
    expect(PPP_HEARTBEAT.toString('hex')).toBe('02');
    expect(SIMPLE_READY.toString('hex')).toBe('01');
  });
});

describe('Lazy Pirate sequence frame', () => {
  it('is the decimal number without NUL, as sprintf("%d")', () => {
    expect(encodeSequence(1).toString('hex')).toBe('31');
    expect(encodeSequence(1234).toString('hex')).toBe('31323334');
    expect(isSequence(s('42'), 42)).toBe(true);
    expect(isSequence(s('042'), 42)).toBe(false);
    expect(isSequence(s('42\0'), 42)).toBe(false);
    expect(isSequence(undefined, 1)).toBe(false);
  });
});

describe('6/PPP worker side', () => {
  it('sends READY [01] and HEARTBEAT [02] as single frames, no empty delimiter', () => {
    expect(hexes(encodePppReady())).toEqual(['01']);
    expect(hexes(encodePppWorkerHeartbeat())).toEqual(['02']);
  });

  it('reads a request [client-id][""][body] and replies [client-id][""][reply]', () => {
    const decoded = decodePppQueueMessage([client, E, s('1')]);
    expect(decoded).toEqual({ type: 'request', envelope: [client, E], body: [s('1')] });
    if (decoded.type !== 'request') throw new Error('unreachable');
    expect(hexes(encodeReply(decoded.envelope, [s('1')]))).toEqual(['006b8b4567', '', '31']);
  });

  it('keeps multi-hop envelopes and multi-frame bodies', () => {
    const decoded = decodePppQueueMessage([client, s('hop'), E, s('a'), s('b')]);
    expect(decoded).toEqual({ type: 'request', envelope: [client, s('hop'), E], body: [s('a'), s('b')] });
  });

  it('reads HEARTBEAT [02]; anything else single-frame or without envelope is invalid', () => {
    expect(decodePppQueueMessage([b(0x02)])).toEqual({ type: 'heartbeat' });
    expect(decodePppQueueMessage([b(0x02, 0x00)]).type).toBe('invalid');
    expect(decodePppQueueMessage([b(0x01)]).type).toBe('invalid');
    expect(decodePppQueueMessage([E]).type).toBe('invalid');
    expect(decodePppQueueMessage([client, s('x')]).type).toBe('invalid'); // no delimiter
    expect(decodePppQueueMessage([E, s('x')]).type).toBe('invalid'); // no address
    expect(decodePppQueueMessage([client, E]).type).toBe('invalid'); // no body
  });
});

describe('6/PPP queue side', () => {
  it('sends a request as [worker-id][client-id][""][body] (zmsg_push, no extra delimiter)', () => {
    const request = decodeClientRequest([client, E, s('1')]);
    if (request.type !== 'request') throw new Error('bad request');
    expect(hexes(encodePppRequest(worker, request))).toEqual([worker.toString('hex'), '006b8b4567', '', '31']);
  });

  it('sends HEARTBEAT as [worker-id][02]', () => {
    expect(hexes(encodePppHeartbeat(worker))).toEqual([worker.toString('hex'), '02']);
  });

  it('reads READY, HEARTBEAT and replies from the backend', () => {
    expect(decodePppWorkerMessage([worker, b(0x01)])).toEqual({ worker, message: { type: 'ready' } });
    expect(decodePppWorkerMessage([worker, b(0x02)])).toEqual({ worker, message: { type: 'heartbeat' } });
    const reply = decodePppWorkerMessage([worker, client, E, s('1')]);
    expect(reply).toEqual({ worker, message: { type: 'reply', envelope: [client, E], body: [s('1')] } });
    if (reply.message.type !== 'reply') throw new Error('unreachable');
    expect(hexes(encodeClientReply(reply.message))).toEqual(['006b8b4567', '', '31']);
  });

  it('does not take a frame that merely starts with 0x01/0x02 for READY/HEARTBEAT (the book tests 1 byte)', () => {
    const ready2 = decodePppWorkerMessage([worker, b(0x01, 0x41)]);
    expect(ready2.message.type).toBe('invalid');
    const hb2 = decodePppWorkerMessage([worker, b(0x02, 0x02)]);
    expect(hb2.message.type).toBe('invalid');
    // A client whose identity starts with 0x01: a reply, not a READY.
    const reply = decodePppWorkerMessage([worker, b(0x01, 0x02), E, s('x')]);
    expect(reply.message.type).toBe('reply');
  });

  it('rejects malformed worker messages', () => {
    expect(decodePppWorkerMessage([]).message.type).toBe('invalid');
    expect(decodePppWorkerMessage([worker]).message.type).toBe('invalid');
    const noDelimiter = decodePppWorkerMessage([worker, client, s('x')]);
    expect(noDelimiter.message.type).toBe('invalid');
  });
});

describe('Simple Pirate', () => {
  it('worker READY is [01] from a REQ; the backend sees [worker-id][""][01]', () => {
    expect(hexes(encodeSimpleReady())).toEqual(['01']);
    expect(decodeSimpleWorkerMessage([worker, E, b(0x01)])).toEqual({ worker, message: { type: 'ready' } });
  });

  it('queue sends [worker-id][""][client-id][""][body] (zmsg_wrap)', () => {
    const request = decodeClientRequest([client, E, s('1')]);
    if (request.type !== 'request') throw new Error('bad request');
    expect(hexes(encodeSimpleRequest(worker, request))).toEqual([worker.toString('hex'), '', '006b8b4567', '', '31']);
  });

  it('worker app reads [client-id][""][body]', () => {
    expect(decodeSimpleRequest([client, E, s('1')])).toEqual({
      type: 'request',
      envelope: [client, E],
      body: [s('1')],
    });
    expect(decodeSimpleRequest([s('1')]).type).toBe('invalid');
  });

  it('a reply for a client whose id starts with 0x01 is a reply, not READY (spec §17)', () => {
    const clientWith01 = b(0x01, 0x99);
    const decoded = decodeSimpleWorkerMessage([worker, E, clientWith01, E, s('ok')]);
    expect(decoded).toEqual({ worker, message: { type: 'reply', envelope: [clientWith01, E], body: [s('ok')] } });
    const ready = decodeSimpleWorkerMessage([worker, E, b(0x01, 0x00)]);
    expect(ready.message.type).toBe('invalid');
  });

  it('rejects a backend message without the REQ delimiter', () => {
    const decoded = decodeSimpleWorkerMessage([worker, b(0x01), E]);
    expect(decoded.message.type).toBe('invalid');
    expect(decodeSimpleWorkerMessage([worker, E]).message.type).toBe('invalid');
  });
});

describe('splitEnvelope', () => {
  it('splits at the first empty frame, needing an address before it and a body after it', () => {
    expect(splitEnvelope([client, E, E])).toEqual({ envelope: [client, E], body: [E] });
    expect(splitEnvelope([client])).toBe('no empty delimiter frame');
    expect(splitEnvelope([E, s('x')])).toBe('no address frame before the delimiter');
    expect(splitEnvelope([client, E])).toBe('no body after the delimiter');
  });

  it('envelopeDelimiter checks the same without copying: the delimiter index, or the same reason', () => {
    for (const frames of [[client], [E, s('x')], [client, E]])
      expect(envelopeDelimiter(frames)).toBe(splitEnvelope(frames));
    expect(envelopeDelimiter([client, E, E])).toBe(1);
    expect(envelopeDelimiter([s('w'), client, s('hop'), E, s('x')], 1)).toBe(3);
  });

  it('a request forwarded from its frames is byte-for-byte the one encoded from its split', () => {
    const request = [client, s('hop'), E, s('a'), s('b')];
    const split = splitEnvelope(request);
    if (typeof split === 'string') throw new Error(split);
    expect(encodePppRequestFrames(s('w'), request)).toEqual(encodePppRequest(s('w'), split));
    expect(encodeSimpleRequestFrames(s('w'), request)).toEqual(encodeSimpleRequest(s('w'), split));
  });

  it('pppWorkerMessageKind classifies as decodePppWorkerMessage does', () => {
    const w = s('w');
    for (const frames of [
      [w],
      [w, b(1)],
      [w, b(2)],
      [w, b(3)],
      [w, client, E, s('r')],
      [w, client, E],
      [w, E, s('r')],
    ]) {
      const kind = pppWorkerMessageKind(frames);
      const decoded = decodePppWorkerMessage(frames).message;
      if (typeof kind === 'string') expect(decoded.type).toBe(kind);
      else expect(decoded).toEqual(kind);
    }
  });
});
