/**
 * The broker's view of one worker: idle <-> busy -> removed, every change through `transition()`,
 * `removed` final, and the HEARTBEAT and DISCONNECT it is sent, built once in its MDP version.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { BrokerWorker, type PendingRequest } from '../src/broker-worker.js';

const service = { name: Buffer.from('echo'), key: 'echo' };
const request: PendingRequest = {
  client: Buffer.from('client'),
  version: '0.1',
  body: [Buffer.from('hello')],
  arrivedAt: 0,
  bytes: 5,
  share: undefined,
  span: undefined,
};

function logged(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as never) });
  return { log, lines };
}

describe('BrokerWorker', () => {
  it('starts idle with no request, and its HEARTBEAT and DISCONNECT are addressed to it in its version', () => {
    const identity = Buffer.from('w1');
    const v1 = new BrokerWorker('7731', identity, '0.1', service);
    expect(v1.state).toEqual({ state: 'idle' });
    expect(v1.request).toBeUndefined();
    expect(v1.heartbeat.map(String)).toEqual(['w1', '', 'MDPW01', '\u0004']);
    expect(v1.disconnect.map(String)).toEqual(['w1', '', 'MDPW01', '\u0005']);
    const v2 = new BrokerWorker('7732', Buffer.from('w2'), '0.2', service);
    expect(v2.heartbeat.map(String)).toEqual(['w2', 'MDPW02', '\u0005']); // 18/MDP: no empty frame
    expect(v2.disconnect.map(String)).toEqual(['w2', 'MDPW02', '\u0006']);
  });

  it('idle -> busy holds the request; busy -> idle lets it go; every change is logged from -> to', () => {
    const { log, lines } = logged();
    const worker = new BrokerWorker('7731', Buffer.from('w1'), '0.1', service);
    worker.transition({ state: 'busy', request }, log);
    expect(worker.request).toBe(request);
    expect(worker.state).toEqual({ state: 'busy', request });
    worker.transition({ state: 'idle' }, log);
    expect(worker.request).toBeUndefined();
    expect(worker.state.state).toBe('idle');
    expect(lines.map((l) => [l['msg'], l['worker'], l['service'], l['from'], l['to']])).toEqual([
      ['worker state', '7731', 'echo', 'idle', 'busy'],
      ['worker state', '7731', 'echo', 'busy', 'idle'],
    ]);
  });

  it('removed is final: later transitions change nothing and log nothing', () => {
    const { log, lines } = logged();
    const worker = new BrokerWorker('7731', Buffer.from('w1'), '0.1', service);
    worker.transition({ state: 'busy', request }, undefined);
    worker.transition({ state: 'removed', reason: 'silent' }, log);
    worker.transition({ state: 'idle' }, log);
    worker.transition({ state: 'busy', request }, log);
    expect(worker.state).toEqual({ state: 'removed', reason: 'silent' });
    expect(worker.request).toBeUndefined();
    expect(lines.map((l) => l['to'])).toEqual(['removed']);
  });
});
