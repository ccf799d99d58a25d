/**
 * freePortRange / onFreePortRange: the ports returned are really free and consecutive (a real
 * zeromq socket binds all three), and a bind that loses the race is retried on a new range.
 */
import { describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { freePortRange, onFreePortRange } from '../src/index.js';

describe('freePortRange', () => {
  it('returns a base whose n consecutive loopback ports zeromq can bind', async () => {
    const base = await freePortRange(3);
    const sockets = [0, 1, 2].map(() => new zmq.Router({ linger: 0 }));
    try {
      await Promise.all(sockets.map((s, i) => s.bind(`tcp://127.0.0.1:${base + i}`)));
      expect(sockets.map((s) => s.lastEndpoint)).toEqual([0, 1, 2].map((i) => `tcp://127.0.0.1:${base + i}`));
    } finally {
      for (const s of sockets) s.close();
    }
  });

  it('rejects a non-positive count', async () => {
    await expect(freePortRange(0)).rejects.toThrow(/positive integer/);
  });
});

describe('onFreePortRange', () => {
  it('retries on a new range when the bind fails with EADDRINUSE, and passes other errors through', async () => {
    // Take a range for real, then ask onFreePortRange to bind the same ports on its first try.
    const taken = await freePortRange(2);
    const holder = new zmq.Router({ linger: 0 });
    await holder.bind(`tcp://127.0.0.1:${taken}`);
    const tried: number[] = [];
    try {
      const bound = await onFreePortRange(2, async (base) => {
        const port = tried.length === 0 ? taken : base;
        tried.push(port);
        const sock = new zmq.Router({ linger: 0 });
        try {
          await sock.bind(`tcp://127.0.0.1:${port}`);
        } catch (err) {
          sock.close();
          throw err;
        }
        return sock;
      });
      expect(tried).toHaveLength(2);
      expect(tried[1]).not.toBe(taken);
      expect(bound.lastEndpoint).toBe(`tcp://127.0.0.1:${tried[1]}`);
      bound.close();
    } finally {
      holder.close();
    }
    await expect(onFreePortRange(1, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
  });
});
