/**
 * zpat subcommands for the Pirate patterns:
 *
 *   zpat lpcall --server EP [--server EP2 ...] [frames...]   one Lazy Pirate request; prints the reply
 *   zpat ppworker --queue EP                                  an echo worker (6/PPP; --simple for Simple Pirate)
 *
 * `--server` is repeatable (or a comma list): after a timeout the request goes to the next one, in
 * turn, as `LazyPirateClient({ servers })` does.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  clientSecurityFromFlags,
  clientSecurityOptions,
  connectEndpointFlag,
  createRootLogger,
  intFlag,
  peerListOption,
  logLevelOption,
  prettyOption,
  runDaemon,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import { exponentialBackoff, type RequestHandler } from '@zpatterns/core';
import {
  DEFAULT_BACKEND,
  LazyPirateClient,
  ParanoidPirateWorker,
  PPP_HEARTBEAT_INTERVAL_MS,
  PPP_HEARTBEAT_LIVENESS,
  PPP_RECONNECT_INITIAL_MS,
  PPP_RECONNECT_MAX_MS,
  SimplePirateWorker,
} from '@zpatterns/pirate';
import type { Command } from 'commander';
import { explainTimeout, isTimeout, report } from '../failure.js';
import { budgetOptions, clientLogOptions, curveOptions, mandatory, zpatCommand, type ClientFlags } from '../options.js';

interface LpcallFlags extends ClientFlags {
  server: string[];
  sequenceCheck: boolean;
}

interface PpworkerFlags extends ClientSecurityFlags {
  queue: string;
  heartbeatMs: number;
  liveness: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
  workMs: number;
  simple: boolean;
  logLevel: LogLevel;
  pretty: boolean;
}

export function registerPirateCommands(program: Command): void {
  zpatCommand(
    curveOptions(
      clientLogOptions(
        budgetOptions(
          program
            .command('lpcall')
            .description(
              'send one Lazy Pirate request (REQ, timeout, reopen and resend) and print the reply frames, one per line',
            )
            .argument('[frames...]', 'request frames (UTF-8)')
            .option('--sequence-check', "lpclient's check: prepend a sequence number the server must echo", false)
            .addOption(
              mandatory(peerListOption('--server <endpoint>', 'server or queue frontend; several are tried in turn')),
            ),
          { attempt: 'wait this long for each reply before resending (to the next --server)' },
        ),
      ),
    ).action(async (frames: string[], flags: LpcallFlags) => {
      process.exitCode = await lpcall(frames, flags);
    }),
  );

  zpatCommand(
    clientSecurityOptions(program.command('ppworker'))
      .description('run an echo worker for a Paranoid Pirate queue (or, with --simple, a Simple Pirate queue)')
      .option('--queue <endpoint>', "the queue's backend", connectEndpointFlag, DEFAULT_BACKEND)
      .option(
        '--heartbeat-ms <ms>',
        'heartbeat interval; must match the queue',
        intFlag(1, 3_600_000),
        PPP_HEARTBEAT_INTERVAL_MS,
      )
      .option('--liveness <n>', 'silent intervals before the queue is dead', intFlag(1, 1000), PPP_HEARTBEAT_LIVENESS)
      .option(
        '--reconnect-initial-ms <ms>',
        'first reconnect delay (doubles)',
        intFlag(0, 3_600_000),
        PPP_RECONNECT_INITIAL_MS,
      )
      .option('--reconnect-max-ms <ms>', 'reconnect delay cap', intFlag(0, 3_600_000), PPP_RECONNECT_MAX_MS)
      .option('--work-ms <ms>', 'simulated work per request', intFlag(0, 3_600_000), 0)
      .option('--simple', 'Simple Pirate worker (REQ, no heartbeats)', false)
      .addOption(logLevelOption())
      .addOption(prettyOption())
      .action(async (flags: PpworkerFlags) => {
        process.exitCode = await ppworker(flags);
      }),
  );
}

async function lpcall(frames: string[], flags: LpcallFlags): Promise<number> {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const client = new LazyPirateClient({
    servers: flags.server,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    timeoutMs: flags.timeoutMs,
    retries: flags.retries,
    sequenceCheck: flags.sequenceCheck,
    security: clientSecurityFromFlags('zpat lpcall', flags),
    logger,
  });
  try {
    await client.start();
    const reply = await client.request(frames);
    process.stdout.write(reply.map((frame) => `${frame.toString('utf8')}\n`).join(''));
    return 0;
  } catch (err) {
    return report(
      'zpat lpcall',
      isTimeout(err) ? await explainTimeout('the server', flags.server, err, flags, 'a server') : err,
    );
  } finally {
    await client.close();
  }
}

async function ppworker(flags: PpworkerFlags): Promise<number> {
  const logger = createRootLogger({ name: 'zpat-ppworker', level: flags.logLevel, pretty: flags.pretty });
  const echo: RequestHandler =
    flags.workMs > 0
      ? async (body) => {
          await delay(flags.workMs);
          return body;
        }
      : (body) => body;
  return runDaemon({
    logger,
    name: 'zpat ppworker',
    start: async () => {
      const security = clientSecurityFromFlags('zpat ppworker', flags);
      const worker = flags.simple
        ? new SimplePirateWorker({ queue: flags.queue, handler: echo, logger, security })
        : new ParanoidPirateWorker({
            queue: flags.queue,
            handler: echo,
            heartbeatIntervalMs: flags.heartbeatMs,
            liveness: flags.liveness,
            reconnectDelay: exponentialBackoff({
              initialMs: flags.reconnectInitialMs,
              maxMs: Math.max(flags.reconnectInitialMs, flags.reconnectMaxMs),
            }),
            security,
            logger,
          });
      await worker.start();
      return {
        handle: { close: () => worker.close() },
        stats: () => worker.stats,
        ready: { queue: flags.queue, mode: flags.simple ? 'simple' : 'paranoid' },
      };
    },
  });
}
