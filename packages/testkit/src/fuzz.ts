/**
 * A protocol fuzzer for daemons: random frames sent by a plain peer to one socket.
 *
 * Each message is one of: random frames (0-20 of them, 0-64 KB each, mostly small); a valid
 * message of the protocol with its body replaced by garbage; a valid message truncated; a valid
 * message with its frames reordered; a valid message with an oversized body (up to 256 KB); or the
 * valid message itself, so the daemon's deeper paths run too. Now and then a frame over the
 * daemon's `--max-message-bytes` is sent on a separate connection, which libzmq drops. With
 * `isBad` the report counts the messages the daemon must count as bad (see fuzz-oracles.ts), and
 * `settle` lets the caller wait for the daemon to catch up.
 *
 *   fuzz peer (DEALER / PUB) ──random, truncated, reordered, oversized──▶ daemon socket
 */
import * as zmq from 'zeromq';
import { seededRandom } from './peers.js';

export interface FuzzOptions {
  /** Messages to send. */
  messages: number;
  /** Valid messages of the protocol spoken on this socket (the templates that get mangled). */
  templates: readonly Buffer[][];
  /** @default 1 */
  seed?: number;
  /** How to reach the socket: connect a DEALER (default) or a PUB to it, or bind a PUB it connects to. */
  peer?: 'dealer' | 'publisher' | 'bound-publisher';
  /** When set, one message in 1,000 is a frame this big, on its own connection (expect it dropped). */
  overLimitBytes?: number;
  /** Which messages the daemon must count as bad (as sent, without the ROUTER's identity frame). */
  isBad?: (frames: readonly Buffer[]) => boolean;
  /**
   * Make a template unique before it is used (a fresh UUID, say), where the daemon would take a
   * second copy of one message as a duplicate and never run its valid path again.
   */
  freshen?: (template: readonly Buffer[], random: () => number) => Buffer[];
  /**
   * Awaited every 1,000 messages and before the socket closes, with the numbers sent so far (all,
   * and bad): the caller waits here for the daemon to have read them (a PUB drops what its
   * high-water mark cannot hold, a SUB queues what it has not read, and a socket closed with
   * messages still queued may lose them).
   */
  settle?: (sent: number, bad: number) => Promise<void>;
}

export interface FuzzReport {
  /** Messages sent on the fuzzing connection. */
  messages: number;
  /** Over-limit frames sent on separate connections (libzmq drops them: the daemon never sees them). */
  overLimit: number;
  /** Of `messages`: those `isBad` called bad. */
  bad: number;
  bytes: number;
  kinds: Record<string, number>;
}

const KINDS = ['random', 'bad-body', 'truncated', 'reordered', 'oversized-body', 'valid'] as const;
const WEIGHTS = [0.3, 0.25, 0.15, 0.12, 0.03, 0.15];

function randomFrame(random: () => number, maxBytes = 65_536): Buffer {
  const size = random() < 0.9 ? Math.floor(random() * 64) : Math.floor(random() * maxBytes);
  const frame = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) frame[i] = Math.floor(random() * 256);
  return frame;
}

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

/** One mangled message (never zero frames: zeromq cannot send an empty multipart message). */
export function fuzzMessage(
  random: () => number,
  templates: readonly Buffer[][],
  freshen?: FuzzOptions['freshen'],
): { kind: string; frames: Buffer[] } {
  let roll = random();
  let kind: (typeof KINDS)[number] = 'random';
  for (let i = 0; i < KINDS.length; i++) {
    if (roll < (WEIGHTS[i] ?? 0)) {
      kind = KINDS[i] ?? 'random';
      break;
    }
    roll -= WEIGHTS[i] ?? 0;
  }
  const picked = templates.length === 0 ? [] : pick(random, templates);
  const template = freshen === undefined || picked.length === 0 ? picked : freshen(picked, random);
  if (template.length === 0) kind = 'random';
  let frames: Buffer[];
  switch (kind) {
    case 'random':
      frames = Array.from({ length: Math.floor(random() * 21) }, () => randomFrame(random));
      break;
    case 'bad-body': {
      const keep = Math.min(template.length, 1 + Math.floor(random() * 3));
      frames = [
        ...template.slice(0, keep),
        ...Array.from({ length: Math.floor(random() * 6) }, () => randomFrame(random)),
      ];
      break;
    }
    case 'truncated':
      frames = template.slice(0, Math.floor(random() * template.length));
      break;
    case 'reordered':
      frames = [...template].sort(() => random() - 0.5);
      break;
    case 'oversized-body':
      frames = [
        ...template,
        randomFrame(() => 0.95, 65_536),
        Buffer.alloc(64_000 + Math.floor(random() * 192_000), 0x6f),
      ];
      break;
    case 'valid':
      frames = [...template];
      break;
  }
  if (frames.length === 0) frames = [Buffer.alloc(0)];
  return { kind, frames };
}

/** Send `options.messages` fuzz messages to `endpoint`; resolves once all are handed to libzmq. */
export async function fuzz(endpoint: string, options: FuzzOptions): Promise<FuzzReport> {
  const random = seededRandom(options.seed ?? 1);
  const peer = options.peer ?? 'dealer';
  // An XPUB rather than a PUB, so that we can wait for the SUB's subscription: a PUB drops
  // everything sent before it has arrived. A long linger: what is still queued when we close
  // (up to the high-water mark, behind a slow daemon) is delivered, not dropped.
  const linger = 30_000;
  const socket =
    peer === 'dealer'
      ? new zmq.Dealer({ linger, sendHighWaterMark: 1000 })
      : new zmq.XPublisher({ linger, sendHighWaterMark: 100_000 });
  const report: FuzzReport = { messages: 0, overLimit: 0, bad: 0, bytes: 0, kinds: {} };
  try {
    if (peer === 'bound-publisher') {
      const subscribed = new Promise<void>((resolve) => socket.events.on('handshake', () => resolve()));
      await socket.bind(endpoint);
      await subscribed;
    } else {
      const connected = new Promise<void>((resolve) => socket.events.on('handshake', () => resolve()));
      socket.connect(endpoint);
      await connected;
    }
    if (socket instanceof zmq.XPublisher) await socket.receive();
    for (let i = 0; i < options.messages; i++) {
      if (options.overLimitBytes !== undefined && i % 1000 === 999) {
        await sendOverLimit(endpoint, options.overLimitBytes, peer);
        report.overLimit++;
      }
      const { kind, frames } = fuzzMessage(random, options.templates, options.freshen);
      report.kinds[kind] = (report.kinds[kind] ?? 0) + 1;
      for (const f of frames) report.bytes += f.length;
      if (options.isBad?.(frames) === true) report.bad++;
      await socket.send(frames);
      report.messages++;
      if (options.settle !== undefined && report.messages % 1000 === 0) {
        await options.settle(report.messages, report.bad);
      }
    }
    await options.settle?.(report.messages, report.bad);
    return report;
  } finally {
    socket.close();
  }
}

async function sendOverLimit(endpoint: string, bytes: number, peer: FuzzOptions['peer']): Promise<void> {
  if (peer === 'bound-publisher') return; // the daemon connects to us: nothing separate to open
  // An XPUB, so that we can wait for the SUB's subscription: a PUB sends nothing before it.
  const socket = peer === 'publisher' ? new zmq.XPublisher({ linger: 0 }) : new zmq.Dealer({ linger: 0 });
  try {
    const dropped = new Promise<void>((resolve) => socket.events.on('disconnect', () => resolve()));
    const connected = new Promise<void>((resolve) => socket.events.on('handshake', () => resolve()));
    socket.connect(endpoint);
    await connected;
    if (socket instanceof zmq.XPublisher) await socket.receive();
    await socket.send(Buffer.alloc(bytes, 0x78));
    await dropped;
  } finally {
    socket.close();
  }
}
