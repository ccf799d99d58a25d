/**
 * `/healthz` of a real daemon process across its shutdown, as data a test can compare:
 *
 *   traffic, probe ─▶ 200
 *   SIGTERM ─▶ 'shutting down' logged ─▶ probe ─▶ 503, traffic still served (the shutdown delay)
 *   SIGTERM again (ends the delay) ─▶ probe, probe, ... ─▶ 503 ... then refused ─▶ exit status
 *
 * The daemon must run with `--metrics-port 0` and a `--shutdown-delay-ms` far longer than the test
 * (the second signal ends it): that delay is what makes the 503 observable deterministically,
 * with no sleeps and no race against a fast shutdown.
 */
import { request } from 'node:http';
import { expect } from 'vitest';
import type { Daemon, ExitStatus } from './daemon.js';

/** One probe: the HTTP status, or how the connection failed (`refused`; `reset` if the listener closed while accepting it; or the error code). */
export type Probe = number | string;

export interface HealthThroughShutdown {
  /** /healthz after `traffic()` succeeded, before any signal. */
  serving: Probe;
  /** /healthz after the first SIGTERM, once 'shutting down' is logged. */
  draining: Probe;
  /** Whether `traffic()` still succeeded while draining (`true`) or its error message. */
  trafficWhileDraining: true | string;
  /** Distinct probe results after the second SIGTERM, in order of first appearance: `[503, 'refused']`. */
  closing: Probe[];
  exit: ExitStatus;
}

/** GET `url` on a fresh connection (no keep-alive pool, so a closed listener reads as refused). */
export function probe(url: string, timeoutMs = 5000): Promise<Probe> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('probe timed out'), { code: 'TIMEOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) =>
      resolve(
        err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ECONNRESET' ? 'reset' : (err.code ?? err.message),
      ),
    );
    req.end();
  });
}

/** Run the sequence above against `daemon` (ready line with `metrics`); `traffic()` does a few requests. */
export async function healthThroughShutdown(
  daemon: Daemon,
  traffic: () => Promise<void>,
): Promise<HealthThroughShutdown> {
  const base = daemon.ready['metrics'];
  if (typeof base !== 'string') throw new Error('the ready line has no metrics URL: start with --metrics-port 0');
  const url = `${base}/healthz`;
  await traffic();
  const serving = await probe(url);
  const shuttingDown = daemon.waitForLog((line) => line.msg === 'shutting down');
  daemon.signal('SIGTERM');
  await shuttingDown;
  const draining = await probe(url);
  let trafficWhileDraining: true | string = true;
  try {
    await traffic();
  } catch (err) {
    trafficWhileDraining = (err as Error).message;
  }
  daemon.signal('SIGTERM');
  const closing: Probe[] = [];
  // Back-to-back probes, each awaited: the listener closes last, so this ends at 'refused'.
  for (let i = 0; i < 100_000; i++) {
    const result = await probe(url);
    if (!closing.includes(result)) closing.push(result);
    if (result !== 503) break;
  }
  return { serving, draining, trafficWhileDraining, closing, exit: await daemon.exited };
}

/**
 * The sequence every daemon must show: 200 while serving, 503 while draining with traffic still
 * served, 503 while closing until exactly one refused (or reset) connection, and exit 0.
 */
export function expectCleanHealthShutdown(result: HealthThroughShutdown): void {
  expect(result).toMatchObject({
    serving: 200,
    draining: 503,
    trafficWhileDraining: true,
    exit: { code: 0, signal: null },
  });
  expect(result.closing.filter((p) => p !== 503)).toHaveLength(1);
  expect(['refused', 'reset']).toContain(result.closing.at(-1));
}
