/**
 * A worker whose CURVE handshake the broker refuses (its key is not allowed) has no connection, so
 * its DISCONNECT can never be sent: `close()` must still resolve, after the close linger.
 *
 *   worker (CURVE, key not allowed) ──handshake──▶ broker ZAP: denied ✗   then worker.close()
 */
import { curveFixture } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { Broker, MajordomoWorker } from '../src/index.js';

describe('worker refused by the broker', () => {
  it('close() resolves after a refused CURVE handshake', async () => {
    const keys = curveFixture(['broker', 'mole']);
    let denied!: () => void;
    const refused = new Promise<void>((resolve) => (denied = resolve));
    await using broker = await Broker.start({
      bind: 'tcp://127.0.0.1:*',
      security: {
        curve: { keyFile: keys.peers['broker']?.keyFile ?? '' },
        authorize: () => {
          denied();
          return false;
        },
      },
    });
    const endpoint = broker.endpoints.clients[0] as string;
    const worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      lingerMs: 100,
      security: keys.client('mole', 'broker'),
      handler: (request) => request,
    });
    await worker.start();
    const served = worker.closed();
    await refused;
    const closed = await Promise.race([
      worker.close().then(() => 'closed'),
      new Promise((resolve) => setTimeout(() => resolve('still closing after 10 s'), 10_000).unref()),
    ]);
    expect(closed).toBe('closed');
    await served.catch(() => undefined);
  }, 20_000);
});
