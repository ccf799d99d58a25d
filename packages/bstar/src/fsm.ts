/**
 * The Binary Star state machine, pure: `(context, event, now) -> transition`. No sockets, no
 * timers; the reactor feeds it peer state messages and client votes, and acts on the result.
 *
 *   PRIMARY --peer BACKUP--> ACTIVE            BACKUP --peer ACTIVE--> PASSIVE
 *   PRIMARY --peer ACTIVE--> PASSIVE           PASSIVE --peer PRIMARY|BACKUP--> ACTIVE (peer restarting)
 *   PRIMARY|PASSIVE --client vote, peer silent past expiry--> ACTIVE
 *
 * Where the book's C aborts the process (two actives, two passives) this returns a typed notice
 * and resolves the tie by role, so the pair heals itself instead of dying:
 * - split brain (we are ACTIVE and so is the peer): the backup steps down to PASSIVE, the primary
 *   stays ACTIVE;
 * - dual passive (we are PASSIVE and so is the peer): the primary takes over as ACTIVE, the backup
 *   stays PASSIVE (its next state message shows it the primary's ACTIVE).
 */

/** Which server of a pair this is, fixed by configuration: the primary wins ties. */
export type BStarRole = 'primary' | 'backup';
/**
 * The state of one server: `primary` / `backup` while waiting for the peer at start, then
 * `active` (serves clients) or `passive` (drops client requests).
 */
export type BStarState = 'primary' | 'backup' | 'active' | 'passive';
/** An input of the state machine: a state message from the peer, or a client request (the vote). */
export type BStarEvent = 'peer-primary' | 'peer-backup' | 'peer-active' | 'peer-passive' | 'client-request';

/** Something the embedding server should see and log: the book aborts on these. */
export type BStarNotice = { type: 'split-brain' } | { type: 'dual-passive' };

/** What `transition()` needs to know about this server besides the event. */
export interface BStarContext {
  /** This server's role. */
  readonly role: BStarRole;
  /** This server's current state. */
  readonly state: BStarState;
  /** When the peer counts as dead unless heard from again (its last state message + 2 heartbeats). */
  readonly peerExpiresAt: number;
  /**
   * Split brain (both active): true = this server stays active, false = it steps down. When the
   * embedding server leaves it undefined, the role decides (the primary stays).
   */
  readonly splitBrainStays?: boolean | undefined;
}

/** The outcome of `transition()`: the next state and, for a client request, whether to serve it. */
export interface BStarTransition {
  /** The state after the event (the same state when nothing changed). */
  readonly next: BStarState;
  /** For a client request: serve it (true) or drop it (false). Peer events are always accepted. */
  readonly accept: boolean;
  /** Why the state changed (for the log), when it did. */
  readonly reason?: string;
  /** A split brain or dual passive seen by this event, for the embedding server to report. */
  readonly notice?: BStarNotice;
}

/** The wire form of each state: one frame holding this ASCII digit (the book's enum values). */
export const STATE_DIGITS: Readonly<Record<BStarState, number>> = { primary: 1, backup: 2, active: 3, passive: 4 };

/** The peer's state message as the event it is for us: the numbers coincide, as in the book. */
export const PEER_EVENTS: Readonly<Record<number, BStarEvent>> = {
  1: 'peer-primary',
  2: 'peer-backup',
  3: 'peer-active',
  4: 'peer-passive',
};

/** The state a server starts in: its role (`primary` or `backup`), until it hears from the peer. */
export function initialState(role: BStarRole): BStarState {
  return role;
}

const stay = (state: BStarState, accept = true): BStarTransition => ({ next: state, accept });
const go = (next: BStarState, reason: string): BStarTransition => ({ next, accept: true, reason });

/**
 * The pure Binary Star state machine: the next state for `event`, and for a client request
 * whether to serve it. `now` is in the same clock as `context.peerExpiresAt` (ms). A passive
 * backup takes over only on a client request after the peer has expired, never on silence
 * alone. Never throws: split brain and dual passive come back as a `notice`.
 */
export function transition(context: BStarContext, event: BStarEvent, now: number): BStarTransition {
  const { state, role } = context;
  const peerDead = now >= context.peerExpiresAt;
  switch (state) {
    case 'primary':
      switch (event) {
        case 'peer-backup':
          return go('active', 'connected to backup (passive), ready as active');
        case 'peer-active':
          return go('passive', 'connected to backup (active), ready as passive');
        case 'client-request':
          // The book's table leaves PRIMARY here forever when the backup never shows up; a vote
          // with the peer silent makes us active (the upstream bstar.c rule). With the peer alive,
          // the backup may be active after a failover: refuse, as the passive would.
          return peerDead ? go('active', 'client request with no peer, ready as active') : stay(state, false);
        case 'peer-primary':
        case 'peer-passive':
          return stay(state);
      }
      break;
    case 'backup':
      switch (event) {
        case 'peer-active':
          return go('passive', 'connected to primary (active), ready as passive');
        case 'client-request':
          return stay(state, false);
        case 'peer-primary':
        case 'peer-backup':
        case 'peer-passive':
          return stay(state);
      }
      break;
    case 'active':
      if (event === 'peer-active') {
        const notice: BStarNotice = { type: 'split-brain' };
        const stays = context.splitBrainStays ?? role === 'primary';
        return stays
          ? { next: 'active', accept: true, notice }
          : { next: 'passive', accept: true, reason: `split brain: both active, the ${role} steps down`, notice };
      }
      return stay(state);
    case 'passive':
      switch (event) {
        case 'peer-primary':
          return go('active', 'primary (passive) is restarting, ready as active');
        case 'peer-backup':
          return go('active', 'backup (passive) is restarting, ready as active');
        case 'peer-passive': {
          const notice: BStarNotice = { type: 'dual-passive' };
          return role === 'primary'
            ? { next: 'active', accept: true, reason: 'dual passive: the primary takes over', notice }
            : { next: 'passive', accept: true, notice };
        }
        case 'client-request':
          return peerDead ? go('active', 'failover successful, ready as active') : stay(state, false);
        case 'peer-active':
          return stay(state);
      }
  }
  return stay(state);
}
