/** Golden frames: every MDP/0.1, MDP/0.2 and MMI layout, byte for byte. */
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@zpatterns/core';
import {
  decodeClientReply,
  decodeFromBroker,
  decodeInbound,
  decodeMmiServicesBody,
  encodeClientReply,
  encodeClientRequest,
  encodeMmiServicesBody,
  encodeWorkerCommand,
  encodeWorkerReply,
  encodeWorkerRequest,
  isMmiService,
  WORKER_DISCONNECT,
  WORKER_HEARTBEAT,
} from '../src/codec.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const hexes = (frames: readonly (Buffer | Uint8Array | string)[]): string[] =>
  frames.map((f) => Buffer.from(typeof f === 'string' ? Buffer.from(f) : f).toString('hex'));
const ID = Buffer.from([0x00, 0x6b, 0x8b, 0x45, 0x67]); // a ROUTER-generated identity

describe('MDP/0.1 golden frames (7/MDP)', () => {
  it('client REQUEST on a DEALER: ["", "MDPC01", service, body...]', () => {
    expect(hexes(encodeClientRequest('0.1', 'echo', ['Hello world']))).toEqual([
      '',
      '4d44504330 31'.replace(/ /g, ''),
      '6563686f',
      '48656c6c6f20776f726c64',
    ]);
  });

  it('REPLY to the client: [client-id, "", "MDPC01", service, body...]', () => {
    expect(hexes(encodeClientReply('0.1', ID, b('echo'), [b('a'), b('b')]))).toEqual([
      '006b8b4567',
      '',
      '4d4450433031',
      '6563686f',
      '61',
      '62',
    ]);
  });

  it('worker commands: READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT', () => {
    expect(hexes(encodeWorkerCommand('0.1', { type: 'ready', service: b('echo') }))).toEqual([
      '',
      '4d4450573031',
      '01',
      '6563686f',
    ]);
    expect(hexes(encodeWorkerCommand('0.1', { type: 'request', client: ID, body: [b('x')] }))).toEqual([
      '',
      '4d4450573031',
      '02',
      '006b8b4567',
      '',
      '78',
    ]);
    expect(
      hexes(encodeWorkerCommand('0.1', { type: 'reply', client: ID, body: [b('x'), b('y')], final: true })),
    ).toEqual(['', '4d4450573031', '03', '006b8b4567', '', '78', '79']);
    expect(hexes(WORKER_HEARTBEAT['0.1'])).toEqual(['', '4d4450573031', '04']);
    expect(hexes(WORKER_DISCONNECT['0.1'])).toEqual(['', '4d4450573031', '05']);
    expect(() => encodeWorkerCommand('0.1', { type: 'reply', client: ID, body: [], final: false })).toThrow(
      InvalidArgumentError,
    );
  });

  it('broker classifies client and worker messages on one ROUTER', () => {
    const request = decodeInbound([ID, b(''), b('MDPC01'), b('echo'), b('hi')]);
    expect(request).toMatchObject({ kind: 'client', version: '0.1', service: b('echo'), body: [b('hi')] });
    const ready = decodeInbound([ID, b(''), b('MDPW01'), Buffer.from([1]), b('echo')]);
    expect(ready).toMatchObject({ kind: 'worker', version: '0.1', command: { type: 'ready', service: b('echo') } });
    const reply = decodeInbound([ID, b(''), b('MDPW01'), Buffer.from([3]), b('C'), b(''), b('r1'), b('r2')]);
    expect(reply).toMatchObject({
      kind: 'worker',
      command: { type: 'reply', client: b('C'), body: [b('r1'), b('r2')], final: true },
    });
  });

  it('worker decodes what the broker sends', () => {
    expect(decodeFromBroker('0.1', [b(''), b('MDPW01'), Buffer.from([2]), ID, b(''), b('x')])).toEqual({
      type: 'request',
      client: ID,
      body: [b('x')],
    });
    expect(decodeFromBroker('0.1', [b(''), b('MDPW01'), Buffer.from([4])])).toEqual({ type: 'heartbeat' });
    expect(decodeFromBroker('0.1', [b(''), b('MDPW01'), Buffer.from([5])])).toEqual({ type: 'disconnect' });
    expect(decodeFromBroker('0.1', [b('MDPW01'), Buffer.from([5])])).toBe('missing empty delimiter');
  });

  it('client decodes replies and rejects anything else', () => {
    expect(decodeClientReply('0.1', [b(''), b('MDPC01'), b('echo'), b('hi')])).toEqual({
      service: b('echo'),
      body: [b('hi')],
      final: true,
    });
    expect(decodeClientReply('0.1', [b(''), b('MDPC02'), b('echo')])).toBe('not an MDPC01 reply');
  });
});

describe('MDP/0.2 golden frames (18/MDP)', () => {
  it('client REQUEST / PARTIAL / FINAL have no empty delimiter and carry a command byte', () => {
    expect(hexes(encodeClientRequest('0.2', 'echo', ['hi']))).toEqual(['4d4450433032', '01', '6563686f', '6869']);
    expect(hexes(encodeClientReply('0.2', ID, b('echo'), [b('p')], false))).toEqual([
      '006b8b4567',
      '4d4450433032',
      '02',
      '6563686f',
      '70',
    ]);
    expect(hexes(encodeClientReply('0.2', ID, b('echo'), [b('f')], true))).toEqual([
      '006b8b4567',
      '4d4450433032',
      '03',
      '6563686f',
      '66',
    ]);
  });

  it('worker commands use 0x01..0x06 and no empty first frame', () => {
    expect(hexes(encodeWorkerCommand('0.2', { type: 'ready', service: b('echo') }))).toEqual([
      '4d4450573032',
      '01',
      '6563686f',
    ]);
    expect(hexes(encodeWorkerCommand('0.2', { type: 'request', client: ID, body: [b('x')] }))).toEqual([
      '4d4450573032',
      '02',
      '006b8b4567',
      '',
      '78',
    ]);
    expect(hexes(encodeWorkerCommand('0.2', { type: 'reply', client: ID, body: [b('x')], final: false }))).toEqual([
      '4d4450573032',
      '03',
      '006b8b4567',
      '',
      '78',
    ]);
    expect(hexes(encodeWorkerCommand('0.2', { type: 'reply', client: ID, body: [b('x')], final: true }))).toEqual([
      '4d4450573032',
      '04',
      '006b8b4567',
      '',
      '78',
    ]);
    expect(hexes(WORKER_HEARTBEAT['0.2'])).toEqual(['4d4450573032', '05']);
    expect(hexes(WORKER_DISCONNECT['0.2'])).toEqual(['4d4450573032', '06']);
  });

  it('broker detects 0.2 by the header frame', () => {
    expect(decodeInbound([ID, b('MDPC02'), Buffer.from([1]), b('echo'), b('hi')])).toMatchObject({
      kind: 'client',
      version: '0.2',
      service: b('echo'),
    });
    expect(decodeInbound([ID, b('MDPW02'), Buffer.from([3]), b('C'), b(''), b('part')])).toMatchObject({
      kind: 'worker',
      version: '0.2',
      command: { type: 'reply', final: false },
    });
    expect(decodeInbound([ID, b('MDPW02'), Buffer.from([5])])).toMatchObject({ command: { type: 'heartbeat' } });
    expect(decodeInbound([ID, b('MDPC02'), Buffer.from([3]), b('echo'), b('x')])).toMatchObject({ kind: 'invalid' });
    // 0x05 is HEARTBEAT in 0.2 but DISCONNECT in 0.1: versions must not be mixed up.
    expect(decodeInbound([ID, b(''), b('MDPW01'), Buffer.from([5])])).toMatchObject({
      command: { type: 'disconnect' },
    });
  });
});

describe('invalid input is classified, never thrown', () => {
  it.each([
    [[ID]],
    [[ID, b('')]],
    [[ID, b(''), b('MDPC01')]],
    [[ID, b(''), b('MDPC01'), b('echo')]],
    [[ID, b(''), b('MDPC01'), b(''), b('x')]],
    [[ID, b(''), b('XXXX01'), b('echo'), b('x')]],
    [[ID, b(''), b('MDPW01')]],
    [[ID, b(''), b('MDPW01'), Buffer.from([9])]],
    [[ID, b(''), b('MDPW01'), Buffer.from([1, 1]), b('echo')]],
    [[ID, b(''), b('MDPW01'), Buffer.from([1])]],
    [[ID, b(''), b('MDPW01'), Buffer.from([1]), b('')]],
    [[ID, b(''), b('MDPW01'), Buffer.from([3]), b('C'), b('not-empty'), b('x')]],
    [[ID, b(''), b('MDPW01'), Buffer.from([4]), b('extra')]],
    [[ID, b('MDPW02'), Buffer.from([7])]],
  ])('%#', (message) => {
    expect(decodeInbound(message)).toMatchObject({ kind: 'invalid' });
  });

  it('mmi. prefix check looks at the service name', () => {
    expect(isMmiService(b('mmi.service'))).toBe(true);
    expect(isMmiService(b('mmi'))).toBe(false);
    expect(isMmiService(b('echo'))).toBe(false);
    expect(isMmiService(b('mmi.'))).toBe(true);
    expect(isMmiService(b('mmi_service'))).toBe(false);
    expect(isMmiService(b('MMI.service'))).toBe(false);
  });
});

describe('MMI extension layouts', () => {
  it('mmi.services body: ["200", name, workers, ...] with decimal ASCII counts', () => {
    const body = encodeMmiServicesBody([
      { name: b('echo'), workers: 2 },
      { name: b('tick'), workers: 10 },
    ]);
    expect(hexes(body)).toEqual(['323030', '6563686f', '32', '7469636b', '3130']);
    expect(decodeMmiServicesBody(body)).toEqual([
      { name: b('echo'), workers: 2 },
      { name: b('tick'), workers: 10 },
    ]);
    expect(hexes(encodeMmiServicesBody([]))).toEqual(['323030']);
    expect(decodeMmiServicesBody([b('200')])).toEqual([]);
  });

  it('mmi.services decode rejects a book broker\'s "501" and bad layouts', () => {
    expect(decodeMmiServicesBody([b('501')])).toMatch(/501/);
    expect(decodeMmiServicesBody([])).toMatch(/nothing/);
    expect(decodeMmiServicesBody([b('200'), b('echo')])).toMatch(/odd/);
    expect(decodeMmiServicesBody([b('200'), b('echo'), b('x')])).toMatch(/count/);
  });
});

describe('broker-side REQUEST to a worker (ROUTER frames)', () => {
  it.each(['0.1', '0.2'] as const)('MDP/%s: identity + the worker REQUEST command', (version) => {
    const body = [b('Hello'), Buffer.from([0, 1])];
    const frames = encodeWorkerRequest(version, ID, b('C1'), body);
    expect(hexes(frames)).toEqual(
      hexes([ID, ...encodeWorkerCommand(version, { type: 'request', client: b('C1'), body })]),
    );
  });

  it('MDP/0.1 exact bytes: [id, "", "MDPW01", 0x02, client, "", body]', () => {
    expect(hexes(encodeWorkerRequest('0.1', ID, b('C1'), [b('x')]))).toEqual([
      '006b8b4567',
      '',
      '4d4450573031',
      '02',
      '4331',
      '',
      '78',
    ]);
  });

  it('MDP/0.2 exact bytes: [id, "MDPW02", 0x02, client, "", body]', () => {
    expect(hexes(encodeWorkerRequest('0.2', ID, b('C1'), [b('x')]))).toEqual([
      '006b8b4567',
      '4d4450573032',
      '02',
      '4331',
      '',
      '78',
    ]);
  });
});

describe('worker-side REPLY in one array (the worker hot path)', () => {
  it('0.1 REPLY: ["", "MDPW01", 0x03, client, "", body...], same as encodeWorkerCommand', () => {
    expect(hexes(encodeWorkerReply('0.1', ID, [b('x'), 'y']))).toEqual([
      '',
      '4d4450573031',
      '03',
      '006b8b4567',
      '',
      '78',
      '79',
    ]);
    expect(encodeWorkerReply('0.1', ID, [b('x'), b('y')])).toEqual(
      encodeWorkerCommand('0.1', { type: 'reply', client: ID, body: [b('x'), b('y')], final: true }),
    );
    expect(() => encodeWorkerReply('0.1', ID, [b('x')], false)).toThrow(InvalidArgumentError);
  });

  it('0.2 FINAL (0x04) and PARTIAL (0x03): ["MDPW02", cmd, client, "", body...]', () => {
    expect(hexes(encodeWorkerReply('0.2', ID, [b('x')], true))).toEqual(['4d4450573032', '04', '006b8b4567', '', '78']);
    expect(hexes(encodeWorkerReply('0.2', ID, [b('x')], false))).toEqual([
      '4d4450573032',
      '03',
      '006b8b4567',
      '',
      '78',
    ]);
  });

  it('an empty body becomes one empty frame; a single frame is accepted as a body', () => {
    expect(hexes(encodeWorkerReply('0.1', ID, []))).toEqual(['', '4d4450573031', '03', '006b8b4567', '', '']);
    expect(hexes(encodeWorkerReply('0.2', ID, 'hi'))).toEqual(['4d4450573032', '04', '006b8b4567', '', '6869']);
    expect(hexes(encodeWorkerReply('0.2', ID, new Uint8Array([1, 2])))).toEqual([
      '4d4450573032',
      '04',
      '006b8b4567',
      '',
      '0102',
    ]);
  });

  it('decodeFromBroker without copies decodes as before (offsets, frame counts in reasons)', () => {
    expect(decodeFromBroker('0.1', [b(''), b('MDPW01'), Buffer.from([2]), b('C'), b(''), b('q')])).toEqual({
      type: 'request',
      client: b('C'),
      body: [b('q')],
    });
    expect(decodeFromBroker('0.2', [b('MDPW02'), Buffer.from([2]), b('C'), b(''), b('q'), b('r')])).toEqual({
      type: 'request',
      client: b('C'),
      body: [b('q'), b('r')],
    });
    expect(decodeFromBroker('0.1', [b(''), b('MDPW01'), Buffer.from([4]), b('x')])).toBe('HEARTBEAT with extra frames');
    expect(decodeInbound([ID, b(''), b('MDPW01'), Buffer.from([1]), b('a'), b('b')])).toMatchObject({
      kind: 'invalid',
      reason: 'READY with 2 frames after the command, expected 1',
    });
  });
});
