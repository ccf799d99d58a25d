/**
 * CURVE + ZAP on real sockets (tcp loopback):
 *
 *   DEALER (allowed key)  ══CURVE══▶ ROUTER (curveServer, ZAP domain)  ◀── ZapHandler (inproc://zeromq.zap.01)
 *   DEALER (unknown key)  ──✗ 400
 *   DEALER (plain)        ──✗ mechanism mismatch
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { AllowList, generateKeyPair, saveKeyPair, type CurveKeyPair } from '@zpatterns/core';
import { applyBindSecurity, applyConnectSecurity, type ServerSecurity } from '@zpatterns/core/internal';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function eventually(probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > until) throw new Error('condition did not hold');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const server = generateKeyPair();

async function curveServer(allowed: CurveKeyPair[]) {
  const dir = mkdtempSync(join(tmpdir(), 'zpat-allow-'));
  const file = join(dir, 'clients.txt');
  writeFileSync(file, allowed.map((k) => k.publicKey).join('\n'));
  const router = new zmq.Router({ linger: 0 });
  const security = applyBindSecurity(router, { curve: server, authorize: new AllowList(file) }) as ServerSecurity;
  await security.ready();
  await router.bind('tcp://127.0.0.1:*');
  cleanup.push(async () => {
    router.close();
    await security.release();
  });
  return { router, security, file, endpoint: router.lastEndpoint ?? '' };
}

const refusals = new WeakMap<zmq.Dealer, Promise<void>>();

/** A DEALER; `refusals.get(socket)` resolves when the server's ZAP handler refuses its handshake. */
function dealer(endpoint: string, keys?: CurveKeyPair, serverPublicKey = server.publicKey): zmq.Dealer {
  const socket = new zmq.Dealer({ linger: 0 });
  if (keys !== undefined) applyConnectSecurity(socket, { curve: { ...keys, serverPublicKey } });
  // Listen before connecting, so the event cannot be missed.
  const refused = new Promise<void>((resolve) => {
    socket.events.on('handshake:error:auth', () => resolve());
  });
  socket.connect(endpoint);
  cleanup.push(() => socket.close());
  refusals.set(socket, refused);
  return socket;
}

describe('CURVE with a ZAP allow-list', () => {
  it('serves an allowed key; refuses an unknown key and a plain client, counting and reading nothing', async () => {
    const alice = generateKeyPair();
    const { router, security, endpoint } = await curveServer([alice]);
    const stranger = dealer(endpoint, generateKeyPair());
    await stranger.send('from a stranger');
    const plain = dealer(endpoint);
    await plain.send('in the clear');
    await refusals.get(stranger);
    await eventually(() => security.stats.denied >= 2);

    const client = dealer(endpoint, alice);
    await client.send('hello');
    const [, body] = await router.receive();
    expect(body?.toString()).toBe('hello');
    expect(security.stats.allowed).toBe(1);
    // Nothing from the refused peers ever reached the ROUTER (the allowed one's message came first).
    await client.send('again');
    expect((await router.receive())[1]?.toString()).toBe('again');
  });

  it('reload() cuts a key off for new connections', async () => {
    const alice = generateKeyPair();
    const bob = generateKeyPair();
    const { router, security, file, endpoint } = await curveServer([alice, bob]);
    const first = dealer(endpoint, bob);
    await first.send('before');
    expect((await router.receive())[1]?.toString()).toBe('before');

    writeFileSync(file, alice.publicKey);
    expect(security.reload()).toBe(1);
    const second = dealer(endpoint, bob);
    await second.send('after');
    await refusals.get(second);
    const third = dealer(endpoint, alice);
    await third.send('alice');
    expect((await router.receive())[1]?.toString()).toBe('alice');
  });

  it('a plain ROUTER where a CURVE client connects cannot read the request body', async () => {
    const impostor = new zmq.Router({ linger: 0 });
    await impostor.bind('tcp://127.0.0.1:*');
    cleanup.push(() => impostor.close());
    // Whichever side notices the mechanism mismatch first, the impostor's handshake fails: as a
    // protocol error, or as a broken pipe when the client hung up first.
    const failed = new Promise<string>((resolve) => {
      impostor.events.on('handshake:error:protocol', (event) => resolve(event.error.message));
      impostor.events.on('handshake:error:other', (event) => resolve(event.error.message));
    });
    const client = dealer(impostor.lastEndpoint ?? '', generateKeyPair());
    await client.send('secret body');
    expect(await failed).toBeTruthy();
    // The client queued its message; the handshake never completed, so it was never delivered.
    const received = await Promise.race([
      impostor.receive().then(() => 'received'),
      new Promise((r) => setTimeout(() => r('nothing'), 300)),
    ]);
    expect(received).toBe('nothing');
  });

  it('takes key files in the option: keyFile for the pair, a .pub path for the server key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zpat-keyfiles-'));
    const serverFiles = saveKeyPair(join(dir, 'server'), generateKeyPair());
    const alice = generateKeyPair();
    const aliceFiles = saveKeyPair(join(dir, 'alice'), alice);
    const router = new zmq.Router({ linger: 0 });
    const guard = applyBindSecurity(router, {
      curve: { keyFile: serverFiles.secretFile },
      authorize: new Set([alice.publicKey]),
    }) as ServerSecurity;
    await guard.ready();
    await router.bind('tcp://127.0.0.1:*');
    cleanup.push(async () => {
      router.close();
      await guard.release();
    });
    const client = new zmq.Dealer({ linger: 0 });
    cleanup.push(() => client.close());
    applyConnectSecurity(client, {
      curve: { keyFile: aliceFiles.secretFile, serverPublicKey: serverFiles.publicFile },
    });
    client.connect(router.lastEndpoint ?? '');
    await client.send('from files');
    expect((await router.receive())[1]?.toString()).toBe('from files');
  });

  it('rejects malformed keys with a TypeError naming the field', () => {
    const socket = new zmq.Dealer({ linger: 0 });
    cleanup.push(() => socket.close());
    expect(() => applyConnectSecurity(socket, { curve: { ...generateKeyPair() } })).toThrow(/serverPublicKey/);
    expect(() =>
      applyConnectSecurity(socket, { curve: { publicKey: 'x', secretKey: 'y', serverPublicKey: server.publicKey } }),
    ).toThrow(/publicKey/);
  });
});

describe('ZAP cannot fail open or die', () => {
  it('a CURVE server whose domain has no handler refuses clients instead of admitting them', async () => {
    // No ZAP handler is bound in this process at this point (every earlier test released its own).
    const router = new zmq.Router({ linger: 0 });
    const guard = applyBindSecurity(router, { curve: server, authorize: new Set() }) as ServerSecurity;
    // Deliberately no `await guard.ready()`: the socket binds with nobody answering its ZAP domain.
    await router.bind('tcp://127.0.0.1:*');
    cleanup.push(async () => {
      router.close();
      await guard.release();
    });
    expect(router.zapEnforceDomain).toBe(true);
    const client = dealer(router.lastEndpoint ?? '', generateKeyPair());
    await client.send('let me in');
    const received = await Promise.race([
      router.receive().then(() => 'admitted'),
      new Promise((r) => setTimeout(() => r('refused'), 500)),
    ]);
    expect(received).toBe('refused');
  });

  it('an exception in authorize is logged and counted, the handshake denied, and the next one still answered', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const alice = generateKeyPair();
    let throws = 1;
    const router = new zmq.Router({ linger: 0 });
    const security = applyBindSecurity(
      router,
      {
        curve: server,
        authorize: (request) => {
          if (throws-- > 0) throw new Error('allow-list backend down');
          return request.publicKey === alice.publicKey;
        },
      },
      logger,
    ) as ServerSecurity;
    await security.ready();
    await router.bind('tcp://127.0.0.1:*');
    cleanup.push(async () => {
      router.close();
      await security.release();
    });
    const endpoint = router.lastEndpoint ?? '';
    const first = dealer(endpoint, alice);
    await first.send('during the outage');
    await refusals.get(first);
    expect(security.stats).toMatchObject({ errors: 1, allowed: 0 });
    expect(lines.find((l) => l['msg'] === 'ZAP authorize threw: connection denied')).toMatchObject({
      err: { message: 'allow-list backend down' },
    });
    first.close();
    const second = dealer(endpoint, alice);
    await second.send('after');
    expect((await router.receive())[1]?.toString()).toBe('after');
    expect(security.stats).toMatchObject({ errors: 1, allowed: 1 });
  });
});
