/**
 * The reactor on real sockets: two BinaryStar instances in one process, each publishing its state
 * to the other's SUB, with 50 ms heartbeats.
 *
 *   primary PUB ──> backup SUB        backup PUB ──> primary SUB
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { BinaryStar, NotStartedError, type BStarChange, type BStarState } from '@zpatterns/bstar';
import { eventually, ipcEndpoint } from '@zpatterns/testkit';

const HEARTBEAT_MS = 50;
const disposables: AsyncDisposable[] = [];
function track<T extends AsyncDisposable>(resource: T): T {
  disposables.push(resource);
  return resource;
}
afterEach(async () => {
  for (const d of disposables.splice(0).reverse()) await d[Symbol.asyncDispose]();
});

function star(role: 'primary' | 'backup', stateBind: string, stateConnect: string): BinaryStar {
  return track(new BinaryStar({ role, stateBind, stateConnect, heartbeatMs: HEARTBEAT_MS }));
}

function pair(): { primary: BinaryStar; backup: BinaryStar; primaryState: string; backupState: string } {
  const primaryState = ipcEndpoint('bstar-p');
  const backupState = ipcEndpoint('bstar-b');
  return {
    primary: star('primary', primaryState, backupState),
    backup: star('backup', backupState, primaryState),
    primaryState,
    backupState,
  };
}

/** Resolves once `node` reaches `state` (at once if it is there already). */
async function until(node: BinaryStar, state: BStarState): Promise<void> {
  if (node.state === state) return;
  for await (const change of node.changes()) {
    if (change.type === 'state' && change.to === state) return;
  }
}

async function settledPair(): Promise<ReturnType<typeof pair>> {
  const nodes = pair();
  const settled = Promise.all([until(nodes.primary, 'active'), until(nodes.backup, 'passive')]);
  await Promise.all([nodes.primary.start(), nodes.backup.start()]);
  await settled;
  return nodes;
}

const accepts = (node: BinaryStar, what: string): Promise<boolean> =>
  eventually(() => node.vote(), { timeoutMs: 5000, intervalMs: 10, what });

describe('BinaryStar reactor', () => {
  it('vote() before start() is refused with NotStartedError and changes nothing', () => {
    const { primary } = pair();
    expect(() => primary.vote()).toThrow(NotStartedError);
    expect(primary.state).toBe('primary');
    expect(primary.stats.accepted).toBe(0);
  });

  it('settles primary active and backup passive; only the active wins votes', async () => {
    const { primary, backup } = await settledPair();
    expect(primary.vote()).toBe(true);
    expect(backup.vote()).toBe(false);
    expect(backup.stats).toMatchObject({ accepted: 0, rejected: 1, garbage: 0 });
    expect(primary.stats.published).toBeGreaterThan(0);
    expect(primary.stateEndpoint).toMatch(/^ipc:\/\//);
  });

  it('fails over on a client vote once the active has been silent for two heartbeats', async () => {
    const { primary, backup } = await settledPair();
    let activated = 0;
    backup.onActive(() => activated++);
    const changes: BStarChange[] = [];
    const recording = (async () => {
      for await (const change of backup.changes()) changes.push(change);
    })();
    await primary.close();
    await accepts(backup, 'the backup accepts a vote');
    expect(backup.state).toBe('active');
    expect(activated).toBe(1);
    expect(backup.stats.rejected).toBeGreaterThan(0); // votes before the peer expired were refused
    await backup.close();
    await recording;
    expect(changes).toEqual([
      { type: 'state', from: 'passive', to: 'active', reason: 'failover successful, ready as active' },
    ]);
  });

  it('a restarted primary comes back passive beside an active backup', async () => {
    const { primary, backup, primaryState, backupState } = await settledPair();
    await primary.close();
    await accepts(backup, 'the backup accepts a vote');
    const again = star('primary', primaryState, backupState);
    const passive = until(again, 'passive');
    await again.start();
    await passive;
    expect(again.vote()).toBe(false);
    expect(backup.state).toBe('active');
  });

  it('a fresh primary facing a peer that says "active" goes passive, and refuses clients until it falls silent', async () => {
    const peerState = ipcEndpoint('bstar-fake');
    const fake = new zmq.Publisher({ linger: 0 });
    await fake.bind(peerState);
    const primary = star('primary', ipcEndpoint('bstar-p'), peerState);
    const passive = until(primary, 'passive');
    await primary.start();
    const beat = setInterval(() => void fake.send('3').catch(() => undefined), HEARTBEAT_MS / 2);
    try {
      await passive;
      expect(primary.vote()).toBe(false);
    } finally {
      clearInterval(beat);
      fake.close();
    }
    await accepts(primary, 'the primary accepts a vote once the fake peer is silent');
    expect(primary.state).toBe('active');
  });

  it('counts and ignores garbage on the state socket', async () => {
    const peerState = ipcEndpoint('bstar-garbage');
    const fake = new zmq.Publisher({ linger: 0 });
    await fake.bind(peerState);
    const backup = star('backup', ipcEndpoint('bstar-b'), peerState);
    await backup.start();
    const junk: (string | Buffer)[][] = [['9'], ['0'], ['33'], [''], ['3', 'x'], [Buffer.from([0xff])], ['active']];
    try {
      await eventually(
        async () => {
          for (const message of junk) await fake.send(message);
          return backup.stats.garbage >= junk.length;
        },
        { timeoutMs: 5000, intervalMs: 50, what: 'garbage counted' },
      );
    } finally {
      fake.close();
    }
    expect(backup.state).toBe('backup');
    expect(backup.stats.peerMessages).toBe(0);
  });
});
