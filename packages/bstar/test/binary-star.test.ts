/**
 * The reactor on real sockets: two BinaryStar instances in one process, each publishing its state
 * to the other's SUB, with 50 ms heartbeats.
 *
 *   primary PUB ──> backup SUB        backup PUB ──> primary SUB
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { ManualClock, NotStartedError, type ComponentStatus } from '@zpatterns/core';
import { BinaryStar, type BinaryStarStatus, type BStarState } from '@zpatterns/bstar';
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
  return track(new BinaryStar({ role, stateBind, stateConnect, heartbeatIntervalMs: HEARTBEAT_MS }));
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
  for await (const change of node.status()) {
    if (change.type === 'role' && change.to === state) return;
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
    expect(backup.stats).toMatchObject({ accepted: 0, rejected: 1, malformed: 0 });
    expect(primary.stats.published).toBeGreaterThan(0);
    expect(primary.endpoints.state).toMatch(/^ipc:\/\//);
  });

  it('fails over on a client vote once the active has been silent for two heartbeats', async () => {
    const { primary, backup, primaryState } = await settledPair();
    const changes: (BinaryStarStatus | ComponentStatus)[] = [];
    const recording = (async () => {
      for await (const change of backup.status()) changes.push(change);
    })();
    await primary.close();
    await accepts(backup, 'the backup accepts a vote');
    expect(backup.state).toBe('active');
    expect(backup.stats.rejected).toBeGreaterThan(0); // votes before the peer expired were refused
    await backup.close();
    await recording;
    // The peer's silence (PeerLiveness) and the vote that follows it; then the end of the feed.
    expect(changes.filter((c) => c.type !== 'disconnected')).toEqual([
      { type: 'role', from: 'passive', to: 'active', reason: 'failover successful, ready as active' },
      { type: 'closed' },
    ]);
    expect(changes.find((c) => c.type === 'disconnected')).toMatchObject({ peer: primaryState, reason: 'silent' });
    expect(backup.stats.peerExpiries).toBe(1);
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

  it('split brain: of two active servers the backup steps down and the primary stays, each says so', async () => {
    // One fake peer speaks to a primary and a backup at once: both go passive beside its "active",
    // both take over when it restarts as "primary", then its "active" again makes a split brain.
    const peerState = ipcEndpoint('bstar-split');
    const fake = new zmq.Publisher({ linger: 0 });
    await fake.bind(peerState);
    const primary = star('primary', ipcEndpoint('bstar-p'), peerState);
    const backup = star('backup', ipcEndpoint('bstar-b'), peerState);
    await Promise.all([primary.start(), backup.start()]);
    const until = async (digit: string, state: BStarState): Promise<void> => {
      await eventually(
        async () => {
          await fake.send(digit);
          return primary.state === state && backup.state === state;
        },
        { timeoutMs: 5000, intervalMs: 20, what: `both ${state}` },
      );
    };
    try {
      await until('3', 'passive');
      await until('1', 'active');
      const splits = [backup, primary].map((node) => node.waitFor('split-brain', { timeoutMs: 5000 }));
      await fake.send('3');
      expect(await Promise.all(splits)).toEqual([
        { type: 'split-brain', peer: peerState, stays: false },
        { type: 'split-brain', peer: peerState, stays: true },
      ]);
    } finally {
      fake.close();
    }
    expect({ primary: primary.state, backup: backup.state }).toEqual({ primary: 'active', backup: 'passive' });
    expect(backup.stats.splitBrains).toBe(1);
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
          return backup.stats.malformed >= junk.length;
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

describe('BinaryStar peer liveness (core PeerLiveness, ManualClock)', () => {
  it('the peer is alive from its first state message and dead exactly two heartbeats after its last; only then does a vote fail over', async () => {
    const clock = new ManualClock();
    const peerState = ipcEndpoint('bstar-clock');
    const fake = new zmq.Publisher({ linger: 0 });
    await fake.bind(peerState);
    const backup = track(
      new BinaryStar({
        role: 'backup',
        stateBind: ipcEndpoint('bstar-b'),
        stateConnect: peerState,
        heartbeatIntervalMs: 1000,
        clock,
      }),
    );
    const status = backup.status();
    await backup.start(); // t = 0: the peer has until t = 2000 to show up
    expect(backup.peerExpiresAt).toBe(2000);
    try {
      // A fake active primary speaks until the backup has heard it (a SUB joins late).
      await eventually(
        async () => {
          await fake.send('3');
          return backup.state === 'passive';
        },
        { timeoutMs: 5000, intervalMs: 20, what: 'the backup hears the fake primary' },
      );
      clock.advance(500);
      const heard = backup.stats.peerMessages;
      await fake.send('3');
      await eventually(() => backup.stats.peerMessages > heard, { timeoutMs: 5000, what: 'the t = 500 message' });
      expect(backup.peerExpiresAt).toBe(2500);
      clock.advance(1999); // t = 2499: still alive, the vote is refused
      expect(backup.vote()).toBe(false);
      clock.advance(1); // t = 2500: PeerLiveness declares it dead; the next vote fails over
      expect(backup.vote()).toBe(true);
      expect(backup.state).toBe('active');
    } finally {
      fake.close();
    }
    await backup.close();
    const events: (BinaryStarStatus | ComponentStatus)[] = [];
    for await (const event of status) events.push(event);
    expect(events.filter((e) => e.type !== 'started')).toEqual([
      { type: 'connected', peer: peerState },
      { type: 'role', from: 'backup', to: 'passive', reason: 'connected to primary (active), ready as passive' },
      { type: 'disconnected', peer: peerState, reason: 'silent', silentMs: 2000 },
      { type: 'role', from: 'passive', to: 'active', reason: 'failover successful, ready as active' },
      { type: 'closed' },
    ]);
    expect(backup.stats).toMatchObject({ peerExpiries: 1, accepted: 1, rejected: 1 });
  });

  it('stats is a snapshot: a copy read earlier keeps its figures', async () => {
    const { primary, backup } = await settledPair();
    const before = backup.stats;
    expect(backup.vote()).toBe(false);
    expect(before.rejected).toBe(0);
    expect(backup.stats.rejected).toBe(1);
    expect(primary.stats).not.toBe(primary.stats);
  });
});
