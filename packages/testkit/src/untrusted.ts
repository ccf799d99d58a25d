/**
 * Probes for untrusted-peer tests: a process's resident memory, and a plain peer that sends one
 * oversized frame and reports when the daemon dropped its connection.
 */
import { readFileSync } from 'node:fs';
import * as zmq from 'zeromq';

/** Resident set size of a process in bytes (Linux `/proc/<pid>/status`, VmRSS). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/**
 * Connect a plain `type` socket (DEALER by default) to `endpoint`, send `frames` once connected,
 * and resolve when the other end closes the connection (libzmq's `maxMessageSize` does that to a
 * peer announcing a frame over the limit). Rejects after `timeoutMs` if the connection stays up.
 */
export async function sendAndExpectDrop(
  endpoint: string,
  frames: Buffer[],
  options: { type?: 'dealer' | 'publisher' | 'subscriber'; timeoutMs?: number } = {},
): Promise<void> {
  const { type = 'dealer', timeoutMs = 30_000 } = options;
  const socket =
    type === 'publisher'
      ? // an XPUB, so the send waits for the daemon's subscription (a PUB drops what it sends before)
        new zmq.XPublisher({ linger: 0 })
      : type === 'subscriber'
        ? new zmq.Subscriber({ linger: 0 })
        : new zmq.Dealer({ linger: 0 });
  try {
    const connected = new Promise<void>((resolve) => socket.events.on('connect', () => resolve()));
    const dropped = new Promise<void>((resolve) => socket.events.on('disconnect', () => resolve()));
    socket.connect(endpoint);
    await connected;
    if (socket instanceof zmq.Subscriber) {
      // a SUB's only upstream message is a subscription: make it the oversized one
      socket.subscribe(Buffer.concat(frames));
    } else {
      if (socket instanceof zmq.XPublisher) await socket.receive();
      await socket.send(frames);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      dropped,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${endpoint} (${type}) kept the connection open`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    socket.close();
  }
}
