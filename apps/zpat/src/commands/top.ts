/**
 * zpat top --metrics http://HOST:PORT: a daemon's `/status` (docs/status.schema.json) as a live
 * view in the terminal, like nats-top, read every second; `q` or Ctrl-C quits.
 *
 *   zpat top ──GET /status every --interval-ms──▶ any daemon's metrics port (--metrics-port)
 *
 * On a terminal it draws on the alternate screen and gives the screen back on exit; `--once`
 * (or a stdout that is not a terminal) prints one frame as plain lines and exits.
 *
 * Exit codes: 0 quit (or one frame printed), 1 `--once` and the daemon did not answer, 2 bad usage.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { configureCommand, EXIT_FAILURE, exitUsage, intFlag } from '@zpatterns/app-kit';
import { toError } from '@zpatterns/core';
import type { Command } from 'commander';
import { renderFrame } from '../top-render.js';

interface TopFlags {
  metrics: string;
  intervalMs: number;
  once: boolean;
}

const ENTER = '\u001b[?1049h\u001b[?25l';
const LEAVE = '\u001b[?25h\u001b[?1049l';

/** `http://host:port`, `http://host:port/` or `.../status`: the `/status` URL. */
function statusUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    exitUsage('zpat top', `--metrics: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    exitUsage('zpat top', `--metrics: expected http:// or https://, got ${value}`);
  }
  if (!url.pathname.endsWith('/status')) url.pathname = `${url.pathname.replace(/\/$/, '')}/status`;
  return url;
}

async function read(url: URL, timeoutMs: number): Promise<Record<string, unknown>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

async function top(flags: TopFlags): Promise<void> {
  const url = statusUrl(flags.metrics);
  const timeoutMs = Math.max(1000, flags.intervalMs * 2);
  const out = process.stdout;
  if (flags.once || !out.isTTY) {
    try {
      const lines = renderFrame(await read(url, timeoutMs), 'live', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      out.write(`${lines.join('\n')}\n`);
    } catch (err) {
      process.stderr.write(`zpat top: ${url.href} did not answer: ${toError(err).message}\n`);
      process.exitCode = EXIT_FAILURE;
    }
    return;
  }

  const stop = new AbortController();
  const quit = (): void => stop.abort();
  const stdin = process.stdin;
  const onKey = (data: Buffer): void => {
    if (data.includes(0x71) || data.includes(0x51) || data.includes(0x03)) quit(); // q, Q, Ctrl-C
  };
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onKey);
  stdin.resume();
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);

  let doc: Record<string, unknown> | undefined;
  let state = 'connecting';
  const draw = (): void => {
    const lines =
      doc === undefined
        ? [`zpat top: ${url.href} [${state}]   q: quit`]
        : renderFrame(doc, state, out.columns || 80, out.rows || 24);
    out.write(`\u001b[H${lines.map((l) => `${l}\u001b[K`).join('\n')}\u001b[J`);
  };
  out.on('resize', draw);
  out.write(ENTER);
  try {
    while (!stop.signal.aborted) {
      try {
        doc = await read(url, timeoutMs);
        state = 'live';
      } catch (err) {
        state = `not answering: ${toError(err).message}`;
      }
      if (stop.signal.aborted) break;
      draw();
      await sleep(flags.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
    }
  } finally {
    out.off('resize', draw);
    out.write(LEAVE);
    stdin.off('data', onKey);
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    process.off('SIGINT', quit);
    process.off('SIGTERM', quit);
  }
}

export function registerTopCommands(program: Command): void {
  configureCommand(
    program
      .command('top')
      .description("a daemon's /status as a live view, refreshed every second (q or Ctrl-C quits)")
      .requiredOption('--metrics <url>', "the daemon's metrics server, e.g. http://127.0.0.1:9101")
      .option('--interval-ms <ms>', 'read /status this often', intFlag(100, 3_600_000), 1000)
      .option('--once', 'print one frame as plain lines and exit', false),
  ).action(async (flags: TopFlags) => {
    await top(flags);
  });
}
