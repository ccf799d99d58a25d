/**
 * Every (state, event) pair against the book's table (L8651-8737), with the peer alive and with
 * the peer silent past its expiry, for both roles; the rows that differ from the book say why.
 */
import { describe, expect, it } from 'vitest';
import {
  initialState,
  PEER_EVENTS,
  STATE_DIGITS,
  transition,
  type BStarEvent,
  type BStarRole,
  type BStarState,
} from '../src/fsm.js';

const STATES: BStarState[] = ['primary', 'backup', 'active', 'passive'];
const EVENTS: BStarEvent[] = ['peer-primary', 'peer-backup', 'peer-active', 'peer-passive', 'client-request'];

type Row = [BStarState, BStarEvent, next: BStarState, accept: boolean];

/** The table with the peer alive (now < peerExpiresAt). */
const PEER_ALIVE: Row[] = [
  ['primary', 'peer-primary', 'primary', true],
  ['primary', 'peer-backup', 'active', true],
  ['primary', 'peer-active', 'passive', true],
  ['primary', 'peer-passive', 'primary', true],
  ['primary', 'client-request', 'primary', false], // book: accepted and stays PRIMARY
  ['backup', 'peer-primary', 'backup', true],
  ['backup', 'peer-backup', 'backup', true],
  ['backup', 'peer-active', 'passive', true],
  ['backup', 'peer-passive', 'backup', true],
  ['backup', 'client-request', 'backup', false],
  ['active', 'peer-primary', 'active', true],
  ['active', 'peer-backup', 'active', true],
  // 'peer-active' from 'active' depends on the role: below
  ['active', 'peer-passive', 'active', true],
  ['active', 'client-request', 'active', true],
  ['passive', 'peer-primary', 'active', true],
  ['passive', 'peer-backup', 'active', true],
  ['passive', 'peer-active', 'passive', true],
  // 'peer-passive' from 'passive' depends on the role: below
  ['passive', 'client-request', 'passive', false],
];

const NOW = 10_000;
const alive = (role: BStarRole, state: BStarState) => ({ role, state, peerExpiresAt: NOW + 1 });
const dead = (role: BStarRole, state: BStarState) => ({ role, state, peerExpiresAt: NOW });

describe('Binary Star FSM', () => {
  it('covers every (state, event) pair', () => {
    const covered = new Set(PEER_ALIVE.map(([s, e]) => `${s}/${e}`));
    covered.add('active/peer-active').add('passive/peer-passive');
    expect(covered.size).toBe(STATES.length * EVENTS.length);
  });

  for (const role of ['primary', 'backup'] as const) {
    for (const [state, event, next, accept] of PEER_ALIVE) {
      it(`${role}: ${state} + ${event} (peer alive) -> ${next}, ${accept ? 'accept' : 'reject'}`, () => {
        const t = transition(alive(role, state), event, NOW);
        expect(t.next).toBe(next);
        expect(t.accept).toBe(accept);
        expect(t.notice).toBeUndefined();
        // A change of state says why, in words, for the log.
        expect(t.reason !== undefined).toBe(next !== state);
        if (next !== state) expect(t.reason).toMatch(/ready as|takes over|steps down/);
      });
    }
  }

  it('starts in the state named by the role', () => {
    expect(initialState('primary')).toBe('primary');
    expect(initialState('backup')).toBe('backup');
  });

  it('client vote: a passive server whose peer is silent past expiry goes active and serves', () => {
    expect(transition(dead('backup', 'passive'), 'client-request', NOW)).toMatchObject({
      next: 'active',
      accept: true,
    });
    expect(transition(dead('primary', 'passive'), 'client-request', NOW)).toMatchObject({
      next: 'active',
      accept: true,
    });
  });

  it('the vote counts only from the moment of expiry on (now >= peerExpiresAt)', () => {
    const context = { role: 'backup' as const, state: 'passive' as const, peerExpiresAt: NOW };
    expect(transition(context, 'client-request', NOW - 1).accept).toBe(false);
    expect(transition(context, 'client-request', NOW).accept).toBe(true);
  });

  it('a primary with no backup goes active on a client vote (upstream rule, not the book table)', () => {
    expect(transition(dead('primary', 'primary'), 'client-request', NOW)).toMatchObject({
      next: 'active',
      accept: true,
    });
  });

  it('a backup never serves before it has seen an active primary, even with the peer silent', () => {
    expect(transition(dead('backup', 'backup'), 'client-request', NOW)).toMatchObject({
      next: 'backup',
      accept: false,
    });
  });

  it('peer expiry changes nothing for peer events', () => {
    for (const [state, event, next] of PEER_ALIVE.filter(([, e]) => e !== 'client-request')) {
      expect(transition(dead('primary', state), event, NOW).next).toBe(next);
    }
  });

  it('split brain is a notice, never an abort: the backup steps down, the primary stays active', () => {
    const backup = transition(alive('backup', 'active'), 'peer-active', NOW);
    expect(backup).toMatchObject({ next: 'passive', accept: true, notice: { type: 'split-brain' } });
    const primary = transition(alive('primary', 'active'), 'peer-active', NOW);
    expect(primary).toMatchObject({ next: 'active', accept: true, notice: { type: 'split-brain' } });
  });

  it('split brain: the embedding server can decide who stays (splitBrainStays), whatever the role', () => {
    const primary = transition({ ...alive('primary', 'active'), splitBrainStays: false }, 'peer-active', NOW);
    expect(primary).toMatchObject({ next: 'passive', notice: { type: 'split-brain' } });
    expect(primary.reason).toMatch(/the primary steps down/);
    const backup = transition({ ...alive('backup', 'active'), splitBrainStays: true }, 'peer-active', NOW);
    expect(backup).toMatchObject({ next: 'active', notice: { type: 'split-brain' } });
  });

  it('dual passive is a notice: the primary takes over, the backup waits', () => {
    const primary = transition(alive('primary', 'passive'), 'peer-passive', NOW);
    expect(primary).toMatchObject({ next: 'active', accept: true, notice: { type: 'dual-passive' } });
    expect(primary.reason).toMatch(/the primary takes over/);
    const backup = transition(alive('backup', 'passive'), 'peer-passive', NOW);
    expect(backup).toEqual({ next: 'passive', accept: true, notice: { type: 'dual-passive' } });
  });

  it('every vote and failover that makes a server active says why', () => {
    for (const [role, state] of [
      ['primary', 'primary'],
      ['backup', 'passive'],
      ['primary', 'passive'],
    ] as const) {
      expect(transition(dead(role, state), 'client-request', NOW).reason).toMatch(/ready as active/);
    }
  });

  it('a passive server says which peer it heard restarting', () => {
    expect(transition(alive('backup', 'passive'), 'peer-primary', NOW).reason).toMatch(/^primary \(passive\)/);
    expect(transition(alive('primary', 'passive'), 'peer-backup', NOW).reason).toMatch(/^backup \(passive\)/);
  });

  it("reads the peer's state digit as the event it stands for", () => {
    for (const state of ['primary', 'backup', 'active', 'passive'] as const) {
      expect(PEER_EVENTS[STATE_DIGITS[state]]).toBe(`peer-${state}`);
    }
    expect(Object.keys(PEER_EVENTS)).toHaveLength(4);
  });
});
