/**
 * Interoperability: our client, worker and broker with each other over MDP/0.1 and 0.2, with
 * peers shaped exactly like the book's mdcliapi (REQ) and mdwrkapi (DEALER), and as real
 * processes: the `mdbroker` daemon and `zpat worker echo`, killed with SIGKILL mid-request.
 *
 *   client(0.1|0.2) ──> broker (in-process Broker | mdbroker process) ──> worker(0.1|0.2)
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY } from '@zpatterns/core/internal';
import { appBin, Daemon, eventually, rawDealer, rawRequest } from '@zpatterns/testkit';
import { Broker, MajordomoClient, MajordomoWorker, type MdpVersion } from '@zpatterns/majordomo';
import { MDPC01, MDPW01 } from '@zpatterns/majordomo/protocol';

const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

const HEARTBEAT_MS = 100;
const texts = (frames: Buffer[]): string[] => frames.map((f) => f.toString());

type BrokerKind = 'in-process' | 'mdbroker';

/** The built `mdbroker` daemon (`npm test` builds first); its cases fail, never skip, if it is missing. */
function mdbrokerBin(): string {
  return appBin('mdbroker');
}

async function startBroker(kind: BrokerKind): Promise<{ endpoint: string; daemon?: Daemon }> {
  if (kind === 'in-process') {
    const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: HEARTBEAT_MS }));
    return { endpoint: broker.endpoints.clients[0] as string };
  }
  const daemon = track(
    await Daemon.start({
      bin: mdbrokerBin(),
      args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', String(HEARTBEAT_MS), '--log-level', 'info'],
    }),
  );
  const endpoints = daemon.ready['endpoints'] as string[];
  return { endpoint: endpoints[0] as string, daemon };
}

function echoWorker(endpoint: string, version: MdpVersion, service = 'echo'): MajordomoWorker {
  const worker = track(
    new MajordomoWorker({
      broker: endpoint,
      service,
      version,
      heartbeatIntervalMs: HEARTBEAT_MS,
      handler: (request) => [Buffer.from(`${version}:`), ...request],
    }),
  );
  void worker.start();
  return worker;
}

const kinds: BrokerKind[] = ['in-process', 'mdbroker'];

describe.each(kinds)('interop through the %s broker', (kind) => {
  it('every client version reaches every worker version', async () => {
    const { endpoint } = await startBroker(kind);
    echoWorker(endpoint, '0.1', 'echo01');
    echoWorker(endpoint, '0.2', 'echo02');
    for (const clientVersion of ['0.1', '0.2'] as const) {
      const client = track(
        await MajordomoClient.start({ broker: endpoint, version: clientVersion, attemptTimeoutMs: 3000, retries: 0 }),
      );
      for (const workerVersion of ['0.1', '0.2'] as const) {
        const service = workerVersion === '0.1' ? 'echo01' : 'echo02';
        const reply = await client.request(service, ['multi', 'frame', Buffer.from([0, 255])]);
        expect(texts(reply.slice(0, 3))).toEqual([`${workerVersion}:`, 'multi', 'frame']);
        expect(reply[3]?.equals(Buffer.from([0, 255]))).toBe(true);
      }
    }
  });

  it("a book mdcliapi client (REQ) talks to our worker: ['MDPC01', service, body]", async () => {
    const { endpoint } = await startBroker(kind);
    echoWorker(endpoint, '0.1');
    const req = track(rawRequest(endpoint));
    await req.send([MDPC01, Buffer.from('echo'), Buffer.from('Hello world')]);
    expect(texts(await req.receive(3000))).toEqual(['MDPC01', 'echo', '0.1:', 'Hello world']);
  });

  it('a book mdwrkapi worker (DEALER) serves our client, frames exactly as 7/MDP', async () => {
    const { endpoint } = await startBroker(kind);
    const dealer = track(rawDealer(endpoint));
    await dealer.send([EMPTY, MDPW01, Buffer.from([0x01]), Buffer.from('book')]);
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 3000, retries: 0 }));
    const pending = client.request('book', ['a', 'b']);
    const request = await dealer.receiveMatching((m) => m[2]?.[0] === 0x02, 3000);
    expect(request).toHaveLength(7);
    expect(texts([request[0] as Buffer, request[1] as Buffer])).toEqual(['', 'MDPW01']);
    expect(request[4]?.length).toBe(0);
    expect(texts(request.slice(5))).toEqual(['a', 'b']);
    const clientAddress = request[3] as Buffer;
    await dealer.send([EMPTY, MDPW01, Buffer.from([0x03]), clientAddress, EMPTY, Buffer.from('answer')]);
    expect(texts(await pending)).toEqual(['answer']);
  });

  it('kill -9 of a worker mid-request: the client retries and another worker answers', async () => {
    const { endpoint } = await startBroker(kind);
    const workerArgs = (workMs: number): string[] => [
      'worker',
      'echo',
      '--broker',
      endpoint,
      '--heartbeat-ms',
      String(HEARTBEAT_MS),
      '--work-ms',
      String(workMs),
      '--log-level',
      'debug',
    ];
    const slow = track(await Daemon.start({ bin: appBin('zpat'), args: workerArgs(60_000) }));
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 3 }));
    const pending = client.request('echo', 'survive');
    await slow.waitForLog((line) => line['to'] === 'busy', 5000);
    track(await Daemon.start({ bin: appBin('zpat'), args: workerArgs(0) }));
    const killed = await slow.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    expect(texts(await pending)).toEqual(['survive']);
    expect(client.stats.retries).toBeGreaterThanOrEqual(1);
  }, 20_000);
});

describe('mdbroker process crash', () => {
  it('kill -9 the broker and restart it on the same port: workers re-register, clients succeed', async () => {
    const { endpoint, daemon } = await startBroker('mdbroker');
    const broker = daemon as Daemon;
    const workers = [0, 1].map(() =>
      Daemon.start({
        bin: appBin('zpat'),
        args: ['worker', 'echo', '--broker', endpoint, '--heartbeat-ms', String(HEARTBEAT_MS)],
      }),
    );
    for (const worker of await Promise.all(workers)) track(worker);
    const client = track(await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 5 }));
    expect(texts(await client.request('echo', 'before'))).toEqual(['before']);
    await broker.kill('SIGKILL');
    await broker.restart(['--bind', endpoint, '--heartbeat-ms', String(HEARTBEAT_MS), '--log-level', 'info']);
    expect((broker.ready['endpoints'] as string[])[0]).toBe(endpoint);
    expect(texts(await client.request('echo', 'after'))).toEqual(['after']);
    // Both workers registered again with the new broker process.
    await eventually(async () => {
      const services = await client.services();
      return services.find((s) => s.name.toString() === 'echo')?.workers === 2;
    });
  }, 30_000);
});
