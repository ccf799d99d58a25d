/**
 * mdbroker's `/status` against the documented schema (docs/status.schema.json), with a real worker
 * and a client whose request waits for a service nobody serves:
 *
 *   test ──GET /status──▶ mdbroker --metrics-port 0 ◀──MDP── echo worker + client (here)
 *                                                  ◀──MDP── raw client: REQUEST "nobody" (queued)
 */
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually, rawDealer, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

interface Doc {
  version: number;
  daemon: string;
  broker: { workers: number; queuedRequests: number };
  services: { name: string; workers: number; idleWorkers: number; queuedRequests: number; oldestQueuedMs: number }[];
  workers: { service: string; state: string; served: number }[];
  clients: { queuedRequests: number; queuedBytes: number }[];
}

describe('mdbroker /status', () => {
  it('answers the documented schema with its services, workers and waiting clients; 404 without a source', async () => {
    await using daemon = await Daemon.start({
      bin: appBin('mdbroker'),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200', '--metrics-port', '0'],
    });
    const url = daemon.ready['metrics'] as string;
    const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
    const read = async (): Promise<Doc> => {
      const res = await fetch(`${url}/status`);
      expect(res.headers.get('content-type')).toBe('application/json');
      return (await res.json()) as Doc;
    };

    await using worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 200,
      handler: (request) => request,
    });
    await worker.start();
    await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000, retries: 0 });
    for (let i = 0; i < 3; i++) await client.request('echo', `x${i}`);
    await using waiting = rawDealer(endpoint);
    await waiting.socket.send(['', 'MDPC01', 'nobody', 'hello']);

    const doc = await eventually(async () => {
      const d = await read();
      expect(d.clients).toHaveLength(1);
      return d;
    });
    expect(validateSchema(doc)).toEqual([]);
    expect(doc.version).toBe(1);
    expect(doc.daemon).toBe('mdbroker');
    expect(doc.services.map((s) => s.name)).toEqual(['echo', 'nobody']);
    expect(doc.services[0]).toMatchObject({ name: 'echo', workers: 1, idleWorkers: 1, queuedRequests: 0 });
    expect(doc.services[1]).toMatchObject({ name: 'nobody', workers: 0, queuedRequests: 1 });
    expect(doc.workers).toEqual([expect.objectContaining({ service: 'echo', state: 'idle', served: 3 })]);
    expect(doc.clients[0]?.queuedRequests).toBe(1);
    expect(doc.broker).toMatchObject({ workers: 1, queuedRequests: 1 });
    // A schema violation is caught: the validator is not a rubber stamp.
    expect(validateSchema({ ...doc, services: [{ name: 'x' }] })).not.toEqual([]);

    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
    expect((await fetch(`${url}/nothing`)).status).toBe(404);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  });
});
