/**
 * Which fuzz messages each daemon must count as bad, written from the protocols' specifications
 * (not from the daemons' decoders), so that a fuzz run can check a daemon's counters against them.
 * Each takes the frames as the fuzz peer sent them: a ROUTER adds the peer's identity in front
 * (5 bytes for a libzmq-generated one), which counts towards a daemon's byte limit.
 */

const IDENTITY_BYTES = 5;
const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const MDPC01 = b('MDPC01');
const MDPC02 = b('MDPC02');
const MDPW01 = b('MDPW01');
const MDPW02 = b('MDPW02');

function bytesWithIdentity(frames: readonly Buffer[]): number {
  let bytes = IDENTITY_BYTES;
  for (const f of frames) bytes += f.length;
  return bytes;
}

/** What a Majordomo broker makes of a message on its client ROUTER (7/MDP, 18/MDP). */
export type MdpShape = { kind: 'bad' } | { kind: 'client'; service: Buffer; body: Buffer[] } | { kind: 'worker' };

/** 7/MDP and 18/MDP commands: name by command byte, per version. */
const W01: Record<number, string> = { 1: 'READY', 2: 'REQUEST', 3: 'REPLY', 4: 'HEARTBEAT', 5: 'DISCONNECT' };
const W02: Record<number, string> = {
  1: 'READY',
  2: 'REQUEST',
  3: 'PARTIAL',
  4: 'FINAL',
  5: 'HEARTBEAT',
  6: 'DISCONNECT',
};

function workerCommandOk(names: Record<number, string>, s: readonly Buffer[], at: number): boolean {
  const command = s[at];
  if (command === undefined || command.length !== 1) return false;
  const count = s.length - at;
  switch (names[command[0] as number]) {
    case 'READY':
      return count === 2 && (s[at + 1] as Buffer).length > 0;
    case 'REQUEST':
    case 'REPLY':
    case 'PARTIAL':
    case 'FINAL': {
      const client = s[at + 1];
      const empty = s[at + 2];
      return client !== undefined && empty !== undefined && empty.length === 0 && client.length > 0;
    }
    case 'HEARTBEAT':
    case 'DISCONNECT':
      return count === 1;
    default:
      return false;
  }
}

/**
 * MDP/0.1 (`""`, header, ...) or MDP/0.2 (header, ...) from a DEALER; over `maxFrames` frames or
 * `maxBytes` bytes (identity included) is bad too.
 */
export function mdpShape(s: readonly Buffer[], maxBytes: number, maxFrames = 256): MdpShape {
  if (s.length + 1 > maxFrames || bytesWithIdentity(s) > maxBytes) return { kind: 'bad' };
  const v01 = (s[0] as Buffer).length === 0;
  const header = v01 ? s[1] : s[0];
  let at = v01 ? 2 : 1;
  if (header === undefined) return { kind: 'bad' };
  if (header.equals(v01 ? MDPC01 : MDPC02)) {
    if (!v01) {
      const command = s[at];
      if (command === undefined || command.length !== 1 || command[0] !== 0x01) return { kind: 'bad' };
      at++;
    }
    const service = s[at];
    if (service === undefined || service.length === 0 || s.length <= at + 1) return { kind: 'bad' };
    return { kind: 'client', service, body: s.slice(at + 1) };
  }
  if (header.equals(v01 ? MDPW01 : MDPW02)) {
    return workerCommandOk(v01 ? W01 : W02, s, at) ? { kind: 'worker' } : { kind: 'bad' };
  }
  return { kind: 'bad' };
}

/** A UUID as TSP carries it: 32 hex characters. */
const TSP_UUID = /^[0-9A-Fa-f]{32}$/;

/**
 * Bad for Titanic's services (reached through the broker): `titanic.request` needs a non-empty
 * service frame, `titanic.reply` and `titanic.close` exactly one frame holding a UUID.
 */
export function titanicBad(body: readonly Buffer[], service: string): boolean {
  switch (service) {
    case 'titanic.request':
      return body[0] === undefined || body[0].length === 0;
    case 'titanic.reply':
    case 'titanic.close':
      return body.length !== 1 || !TSP_UUID.test((body[0] as Buffer).toString('latin1'));
    default:
      return false;
  }
}

/** Freelance server (model three): the first frame, the control frame, must not be empty. */
export function freelanceBad(s: readonly Buffer[], maxBytes: number, maxFrames = 1024): boolean {
  if (s.length + 1 > maxFrames || bytesWithIdentity(s) > maxBytes) return true;
  return (s[0] as Buffer).length === 0;
}

/** A request behind its envelope: an empty delimiter with at least one frame after it. */
function envelopeBad(s: readonly Buffer[], from: number): boolean {
  const delimiter = s.findIndex((f, i) => i >= from && f.length === 0);
  return delimiter < 0 || delimiter === from || delimiter === s.length - 1;
}

/** Paranoid Pirate queue, frontend: a client request `["", body...]` (any address frames first). */
export function pirateClientBad(s: readonly Buffer[]): boolean {
  // The identity the ROUTER adds is the first address frame, so the delimiter may come first here.
  const delimiter = s.findIndex((f) => f.length === 0);
  return delimiter < 0 || delimiter === s.length - 1;
}

/** Paranoid Pirate queue, backend (6/PPP): READY `[0x01]`, HEARTBEAT `[0x02]`, or a reply. */
export function pirateWorkerBad(s: readonly Buffer[]): boolean {
  if (s.length === 1) {
    const only = s[0] as Buffer;
    return !(only.length === 1 && (only[0] === 0x01 || only[0] === 0x02));
  }
  return envelopeBad(s, 0);
}

/** Binary Star state message: one frame, one digit 1-4. */
export function bstarStateBad(s: readonly Buffer[]): boolean {
  const only = s[0] as Buffer;
  return s.length !== 1 || only.length !== 1 || only[0] === undefined || only[0] < 0x31 || only[0] > 0x34;
}

/** Clone snapshot request: `ICANHAZ?` with at most a subtree frame. */
export function cloneSnapshotBad(s: readonly Buffer[]): boolean {
  return s.length > 2 || !(s[0] as Buffer).equals(b('ICANHAZ?'));
}

const RESERVED_KEYS = new Set(['HUGZ', 'KTHXBAI', 'ICANHAZ?']);

/**
 * Clone update on the collector (kvmsg): five frames, a non-empty key that is not one of the
 * protocol's own, an 8-byte sequence, an empty or 16-byte UUID, and properties as `name=value`
 * lines, each ended by a newline.
 */
export function cloneUpdateBad(s: readonly Buffer[]): boolean {
  if (s.length !== 5) return true;
  const [key, sequence, uuid, properties] = s as [Buffer, Buffer, Buffer, Buffer, Buffer];
  if (key.length === 0 || RESERVED_KEYS.has(key.toString('utf8'))) return true;
  if (sequence.length !== 8 || (uuid.length !== 0 && uuid.length !== 16)) return true;
  const lines = properties.toString('utf8').split('\n');
  lines.pop();
  return lines.some((line) => line.indexOf('=') <= 0);
}
