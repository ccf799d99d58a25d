/**
 * zpat subcommands for the Majordomo pattern:
 *
 *   zpat call <service> [frames...] --broker EP     one MDP request; prints the reply frames, one per line
 *   zpat services --broker EP                       services and their live worker counts (MMI)
 *   zpat worker echo --broker EP [--service echo]   an echo worker, as a daemon
 */
import {
  clientSecurityFromFlags,
  clientSecurityOptions,
  configureCommand,
  createRootLogger,
  endpointFlag,
  EXIT_FAILURE,
  intFlag,
  logLevelOption,
  prettyOption,
  runDaemon,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import { sleep } from '@zpatterns/core';
import {
  DEFAULT_BROKER_ENDPOINT,
  MajordomoClient,
  majordomoClientDefaults,
  MajordomoTimeoutError,
  MajordomoWorker,
  majordomoWorkerDefaults,
  type MdpVersion,
} from '@zpatterns/majordomo';
import { Option, type Command } from 'commander';
import { printable } from '../printable.js';

interface ClientFlags extends ClientSecurityFlags {
  broker: string;
  attemptTimeoutMs: number;
  timeoutMs: number | undefined;
  retries: number;
  mdp: MdpVersion;
  logLevel: LogLevel;
  pretty: boolean;
}

interface WorkerFlags extends ClientSecurityFlags {
  broker: string;
  service: string;
  heartbeatMs: number;
  liveness: number;
  workMs: number;
  mdp: MdpVersion;
  logLevel: LogLevel;
  pretty: boolean;
}

const mdpOption = (): Option =>
  new Option('--mdp <version>', "MDP version: 0.1 (7/MDP, the book's) or 0.2 (18/MDP)")
    .choices(['0.1', '0.2'])
    .default('0.1');

function clientOptions(command: Command): Command {
  return clientSecurityOptions(command)
    .option('--broker <endpoint>', 'broker endpoint', endpointFlag, DEFAULT_BROKER_ENDPOINT)
    .option(
      '--attempt-timeout-ms <ms>',
      'wait this long for each attempt',
      intFlag(1, 3_600_000),
      majordomoClientDefaults.attemptTimeoutMs,
    )
    .option('--timeout-ms <ms>', "the whole call's budget (default: the attempts' own)", intFlag(1, 3_600_000))
    .option('--retries <n>', 'resends after the first attempt', intFlag(0, 1000), majordomoClientDefaults.retries)
    .addOption(mdpOption())
    .addOption(logLevelOption('error'))
    .addOption(prettyOption());
}

export function registerMajordomoCommands(program: Command): void {
  configureCommand(
    clientOptions(
      program
        .command('call')
        .description('send one Majordomo request and print the reply frames, one per line (PARTIALs too, on 0.2)')
        .argument('<service>', 'service name')
        .argument('[frames...]', 'request body frames (UTF-8); none sends one empty frame'),
    ).action(async (service: string, frames: string[], flags: ClientFlags) => {
      process.exitCode = await call(service, frames, flags);
    }),
  );

  configureCommand(
    clientOptions(
      program.command('services').description('list the services a broker knows and their live workers (mmi.services)'),
    ).action(async (flags: ClientFlags) => {
      process.exitCode = await services(flags);
    }),
  );

  const worker = configureCommand(program.command('worker').description('run a demo Majordomo worker'));
  configureCommand(
    clientSecurityOptions(worker.command('echo'))
      .description('run an echo worker until SIGINT/SIGTERM (JSON logs, one ready line)')
      .option('--broker <endpoint>', 'broker endpoint', endpointFlag, DEFAULT_BROKER_ENDPOINT)
      .option('--service <name>', 'service to register', 'echo')
      .option(
        '--heartbeat-ms <ms>',
        'heartbeat interval; must match the broker',
        intFlag(1, 3_600_000),
        majordomoWorkerDefaults.heartbeatIntervalMs,
      )
      .option(
        '--liveness <n>',
        'silent intervals before the broker is dead',
        intFlag(1, 1000),
        majordomoWorkerDefaults.liveness,
      )
      .option('--work-ms <ms>', 'simulated work per request', intFlag(0, 3_600_000), 0)
      .addOption(mdpOption())
      .addOption(logLevelOption())
      .addOption(prettyOption())
      .action(async (flags: WorkerFlags) => {
        process.exitCode = await echoWorker(flags);
      }),
  );
}

async function newClient(flags: ClientFlags): Promise<MajordomoClient> {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  return MajordomoClient.start({
    broker: flags.broker,
    version: flags.mdp,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    timeoutMs: flags.timeoutMs,
    retries: flags.retries,
    security: clientSecurityFromFlags('zpat', flags),
    logger,
  });
}

function failure(command: string, err: unknown, flags: ClientFlags): number {
  const message =
    err instanceof MajordomoTimeoutError
      ? `${err.message} [broker ${flags.broker}]`
      : `request failed: ${(err as Error).message}`;
  process.stderr.write(`zpat ${command}: ${message}\n`);
  return EXIT_FAILURE;
}

async function call(service: string, frames: string[], flags: ClientFlags): Promise<number> {
  const client = await newClient(flags);
  const print = (body: Buffer[]): void => {
    process.stdout.write(body.map((frame) => `${printable(frame)}\n`).join(''));
  };
  try {
    const reply = await client.request(service, frames.length === 0 ? [Buffer.alloc(0)] : frames, { onPartial: print });
    print(reply);
    return 0;
  } catch (err) {
    return failure('call', err, flags);
  } finally {
    await client.close();
  }
}

async function services(flags: ClientFlags): Promise<number> {
  const client = await newClient(flags);
  try {
    const entries = await client.services();
    if (entries.length === 0) process.stdout.write('(no services)\n');
    const width = Math.max(7, ...entries.map((e) => e.name.length));
    if (entries.length > 0) process.stdout.write(`${'SERVICE'.padEnd(width)}  WORKERS\n`);
    for (const entry of entries) process.stdout.write(`${printable(entry.name).padEnd(width)}  ${entry.workers}\n`);
    return 0;
  } catch (err) {
    return failure('services', err, flags);
  } finally {
    await client.close();
  }
}

async function echoWorker(flags: WorkerFlags): Promise<number> {
  const logger = createRootLogger({ name: 'zpat-worker', level: flags.logLevel, pretty: flags.pretty });
  return runDaemon({
    logger,
    start: async () => {
      const worker = new MajordomoWorker({
        broker: flags.broker,
        service: flags.service,
        handler: async (request) => {
          if (flags.workMs > 0) await sleep(flags.workMs);
          return request;
        },
        version: flags.mdp,
        heartbeatIntervalMs: flags.heartbeatMs,
        liveness: flags.liveness,
        security: clientSecurityFromFlags('zpat', flags),
        logger,
      });
      await worker.start();
      void worker.closed().then((err) => {
        if (err === undefined) return;
        logger.fatal({ err }, 'worker stopped');
        process.exit(EXIT_FAILURE);
      });
      return {
        handle: {
          close: async () => {
            await worker.close();
            logger.info({ stats: worker.stats }, 'final stats');
          },
        },
        ready: {
          broker: flags.broker,
          service: flags.service,
          mdp: flags.mdp,
          curve: flags.curveSecretKeyFile !== undefined,
        },
      };
    },
  });
}
