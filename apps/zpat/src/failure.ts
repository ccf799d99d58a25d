/**
 * The one line a zpat command prints when it fails at run time, and its exit code:
 *
 *   zpat call: no reply from 'echo' after 4 attempts of 2500 ms at tcp://127.0.0.1:5555 (raise --attempt-timeout-ms or --retries, or check that a worker serves it)
 *   zpat call: no reply from 'echo' within --timeout-ms 1500 at tcp://127.0.0.1:5555 (raise --timeout-ms)
 *   zpat services: nothing listens at tcp://127.0.0.1:9 (connection refused): is a broker running there?
 *   zpat call: nothing listens at tcp://127.0.0.1:9 (connection refused after 4 attempts of 2500 ms): is a broker running there?
 *
 * Usage errors start the same way (`zpat call: error: ...`, exit 2). Hints name the command's
 * flags, never the library's option names; a library message that names an option is rewritten.
 */
import { EXIT_FAILURE, EXIT_USAGE, oneLine } from '@zpatterns/app-kit';
import { sleep, toError } from '@zpatterns/core';
import { allRefused } from './reachable.js';

/** The library option names and the flags that set them. */
const FLAG_OF: Record<string, string> = {
  timeoutMs: '--timeout-ms',
  attemptTimeoutMs: '--attempt-timeout-ms',
  retries: '--retries',
  peerTtlMs: '--server-ttl-ms',
};

/** A library message with its option names said as flags (`raise attemptTimeoutMs` -> `raise --attempt-timeout-ms`). */
export function inFlags(message: string): string {
  return oneLine(message).replace(
    /'?\b(timeoutMs|attemptTimeoutMs|retries|peerTtlMs)\b'?/g,
    (_, name: string) => FLAG_OF[name] ?? name,
  );
}

/** A failure the command has already put into words. */
export class CommandFailure extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILURE,
  ) {
    super(message);
  }
}

/** How a timed-out request ran out, in flags: `after 4 attempts of 2500 ms` or `within --timeout-ms 1500`. */
function bound(err: unknown, flags: Budget): { spent: string; raise: string } {
  const attempts = (err as { attempts?: unknown }).attempts;
  const sent = typeof attempts === 'number' ? attempts : 1 + flags.retries;
  // Core's CallBudget says `timed out after N ms (timeoutMs)`.
  if (/within timeoutMs|\(timeoutMs\)/.test(toError(err).message) && flags.timeoutMs !== undefined) {
    const count = sent === 0 ? '' : ` (${plural(sent, 'attempt')})`;
    return { spent: `within --timeout-ms ${flags.timeoutMs}${count}`, raise: '--timeout-ms' };
  }
  return {
    spent: `after ${plural(sent, 'attempt')} of ${flags.attemptTimeoutMs} ms`,
    raise: '--attempt-timeout-ms or --retries',
  };
}

/** The flags that bound a request. */
export interface Budget {
  timeoutMs?: number | undefined;
  attemptTimeoutMs: number;
  retries: number;
}

/** What a timed-out request says, from how it ran out. */
export function noReply(what: string, peers: readonly string[], err: unknown, flags: Budget): string {
  const { spent, raise } = bound(err, flags);
  return `no reply from ${what} ${spent} at ${peers.join(', ')} (raise ${raise})`;
}

/**
 * What a timed-out request says: when every peer still refuses the connection, that nothing
 * listens there (the request was never delivered), else `noReply`.
 */
export async function explainTimeout(
  what: string,
  peers: readonly string[],
  err: unknown,
  flags: Budget,
  peerKind: string,
): Promise<CommandFailure> {
  if ((await allRefused(peers, 250)) !== undefined) {
    const { spent } = bound(err, flags);
    return new CommandFailure(
      `nothing listens at ${peers.join(', ')} (connection refused ${spent}): is ${peerKind} running there?`,
    );
  }
  return new CommandFailure(noReply(what, peers, err, flags));
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** True when `err` is a request that ran out of time (any pattern's timeout error). */
export function isTimeout(err: unknown): boolean {
  return (err as { code?: unknown }).code === 'ERR_TIMEOUT';
}

/**
 * Fail at once, before anything is sent, when nothing listens at any of `peers` (a refused
 * connection); `what` names the peer for the hint (`a broker`). For queries only (`services`):
 * a request command rides out a peer that is down for as long as its attempts last.
 */
export async function requireListening(peers: readonly string[], what: string): Promise<void> {
  const refused = await allRefused(peers);
  if (refused === undefined) return;
  throw new CommandFailure(`nothing listens at ${refused.join(', ')} (connection refused): is ${what} running there?`);
}

/** Print the one failure line of `command` and return its exit code. */
export function report(command: string, err: unknown): number {
  if (err instanceof CommandFailure) {
    process.stderr.write(`${command}: ${err.message}\n`);
    return err.exitCode;
  }
  const code = (err as { code?: unknown }).code;
  process.stderr.write(`${command}: ${inFlags(toError(err).message)}\n`);
  return code === 'ERR_INVALID_ARGUMENT' ? EXIT_USAGE : EXIT_FAILURE;
}

/**
 * Ask the broker whether a worker serves `service` (`mmi.service`). A "404" is asked again twice
 * within 300 ms before it counts, for a worker started a moment before the command whose READY
 * the broker has not yet seen.
 */
export async function serviceStatus(
  client: { serviceStatus(service: string, options: { timeoutMs?: number | undefined }): Promise<string> },
  service: string,
  remainingMs: () => number | undefined,
): Promise<string> {
  let status = await client.serviceStatus(service, { timeoutMs: remainingMs() });
  for (const pauseMs of [100, 200]) {
    if (status !== '404') return status;
    await sleep(pauseMs);
    status = await client.serviceStatus(service, { timeoutMs: remainingMs() });
  }
  return status;
}
