/**
 * The Binary Star state channel over CURVE: a pair sharing one key pair settles as usual; a plain
 * subscriber, or one with another key, never reads the pair's state.
 *
 *   primary PUB ══CURVE══▶ backup SUB        backup PUB ══CURVE══▶ primary SUB
 *   plain SUB / stranger SUB ──✗ (handshake refused)
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { BinaryStar, type BStarState } from '@zpatterns/bstar';
import { generateKeyPair } from '@zpatterns/core';
import { applyConnectSecurity } from '@zpatterns/core/internal';
import { ipcEndpoint } from '@zpatterns/testkit';

const HEARTBEAT_MS = 50;
const disposables: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d();
});

async function until(node: BinaryStar, state: BStarState): Promise<void> {
  if (node.state === state) return;
  for await (const change of node.status()) {
    if (change.type === 'role' && change.to === state) return;
  }
}

/** A SUB on `endpoint`; resolves 'read' if any state message arrives within `ms`. */
async function eavesdrop(endpoint: string, ms: number, keys?: ReturnType<typeof generateKeyPair>, server?: string) {
  const sub = new zmq.Subscriber({ linger: 0, receiveTimeout: ms });
  disposables.push(() => sub.close());
  if (keys !== undefined) applyConnectSecurity(sub, { curve: { ...keys, serverPublicKey: server } });
  sub.subscribe();
  sub.connect(endpoint);
  try {
    await sub.receive();
    return 'read';
  } catch {
    return 'nothing';
  }
}

describe('BinaryStar with CURVE on the state channel', () => {
  it('settles with the shared key; a plain or foreign subscriber reads nothing', async () => {
    const pairKeys = generateKeyPair();
    const security = { curve: { ...pairKeys, serverPublicKey: pairKeys.publicKey } };
    const [p, b] = [ipcEndpoint('bstar-curve-p'), ipcEndpoint('bstar-curve-b')];
    const primary = new BinaryStar({
      role: 'primary',
      stateBind: p,
      stateConnect: b,
      heartbeatIntervalMs: HEARTBEAT_MS,
      security,
    });
    const backup = new BinaryStar({
      role: 'backup',
      stateBind: b,
      stateConnect: p,
      heartbeatIntervalMs: HEARTBEAT_MS,
      security,
    });
    disposables.push(
      () => primary.close(),
      () => backup.close(),
    );
    const settled = Promise.all([until(primary, 'active'), until(backup, 'passive')]);
    await Promise.all([primary.start(), backup.start()]);
    await settled;
    expect(primary.stats.peerMessages).toBeGreaterThan(0);
    const [plain, stranger] = await Promise.all([
      eavesdrop(p, 20 * HEARTBEAT_MS),
      eavesdrop(p, 20 * HEARTBEAT_MS, generateKeyPair(), pairKeys.publicKey),
    ]);
    expect({ plain, stranger }).toEqual({ plain: 'nothing', stranger: 'nothing' });
    // a subscriber holding the pair's key does read it: the refusals above are the allow-list's doing
    expect(await eavesdrop(p, 5000, pairKeys, pairKeys.publicKey)).toBe('read');
  });
});
