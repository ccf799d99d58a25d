/**
 * zpat subcommands for the Majordomo pattern:
 *
 *   zpat call <service> [frames...] --broker EP     one MDP request; prints the reply frames, one per line
 *   zpat services --broker EP                       services and their live worker counts (MMI)
 *   zpat worker echo --broker EP [--service echo]   an echo worker, as a daemon
 *
 * `--broker` is repeatable (or a comma list): the client fails over between the brokers of an HA
 * pair as `MajordomoClient({ brokers })` does, and `worker echo` registers with each of them.
 *
 * Before it sends a request, `call` asks the broker whether a worker serves the service
 * (`mmi.service`): on "404" it fails at once and nothing is queued, so a worker that starts later
 * never runs a copy of a request its client gave up on.
 */
import {
  clientSecurityFromFlags,
  createRootLogger,
  EXIT_FAILURE,
  intFlag,
  logLevelOption,
  prettyOption,
  runDaemon,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import { sleep } from '@zpatterns/core';
import { MajordomoClient, MajordomoWorker, majordomoWorkerDefaults, type MdpVersion } from '@zpatterns/majordomo';
import { Option, type Command } from 'commander';
import { CommandFailure, explainTimeout, isTimeout, report, requireListening, serviceStatus } from '../failure.js';
import {
  brokerOption,
  budgetOptions,
  clientLogOptions,
  curveOptions,
  groupCommand,
  zpatCommand,
  type ClientFlags,
} from '../options.js';
import { printable } from '../printable.js';

interface CallFlags extends ClientFlags {
  broker: string[];
  mdp: MdpVersion;
}

interface WorkerFlags extends ClientSecurityFlags {
  broker: string[];
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
  command.addOption(mdpOption()).addOption(brokerOption());
  return curveOptions(clientLogOptions(budgetOptions(command)));
}

export function registerMajordomoCommands(program: Command): void {
  zpatCommand(
    clientOptions(
      program
        .command('call')
        .description('send one Majordomo request and print the reply frames, one per line (PARTIALs too, on 0.2)')
        .argument('<service>', 'service name')
        .argument('[frames...]', 'request body frames (UTF-8); none sends one empty frame'),
    ).action(async (service: string, frames: string[], flags: CallFlags) => {
      process.exitCode = await call(service, frames, flags);
    }),
  );

  zpatCommand(
    clientOptions(
      program.command('services').description('list the services a broker knows and their live workers (mmi.services)'),
    ).action(async (flags: CallFlags) => {
      process.exitCode = await services(flags);
    }),
  );

  const worker = groupCommand(program.command('worker').description('run a demo Majordomo worker'));
  zpatCommand(
    curveOptions(
      worker
        .command('echo')
        .description('run an echo worker until SIGINT/SIGTERM (JSON logs, one ready line)')
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
        .addOption(brokerOption('broker endpoint; name both of an HA pair to register with each'))
        .addOption(logLevelOption())
        .addOption(prettyOption()),
    ).action(async (flags: WorkerFlags) => {
      process.exitCode = await echoWorker(flags);
    }),
  );
}

function newClient(command: string, flags: CallFlags): MajordomoClient {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  return new MajordomoClient({
    brokers: flags.broker,
    version: flags.mdp,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    timeoutMs: flags.timeoutMs,
    retries: flags.retries,
    security: clientSecurityFromFlags(command, flags),
    logger,
  });
}

/**
 * Run `body` with a started client (with `failFast`, only if something listens at the brokers); a
 * timeout is said with the flags to change.
 */
async function withClient(
  command: string,
  what: (flags: CallFlags) => string,
  flags: CallFlags,
  failFast: boolean,
  body: (client: MajordomoClient, remainingMs: () => number | undefined) => Promise<number>,
): Promise<number> {
  const client = newClient(command, flags);
  const started = performance.now();
  const remainingMs = (): number | undefined =>
    flags.timeoutMs === undefined ? undefined : Math.max(1, flags.timeoutMs - (performance.now() - started));
  try {
    if (failFast) await requireListening(flags.broker, 'a broker');
    await client.start();
    return await body(client, remainingMs);
  } catch (err) {
    return report(
      command,
      isTimeout(err) ? await explainTimeout(what(flags), flags.broker, err, flags, 'a broker') : err,
    );
  } finally {
    await client.close();
  }
}

async function call(service: string, frames: string[], flags: CallFlags): Promise<number> {
  const print = (body: Buffer[]): void => {
    process.stdout.write(body.map((frame) => `${printable(frame)}\n`).join(''));
  };
  let asked = 'the broker';
  return withClient(
    'zpat call',
    () => asked,
    flags,
    false,
    async (client, remainingMs) => {
      // mmi.service is answered by the broker itself and never queued: safe to resend.
      const status = await serviceStatus(client, service, remainingMs);
      if (status === '404') {
        throw new CommandFailure(
          `no worker serves '${service}' at ${client.broker}: nothing was sent (see zpat services)`,
        );
      }
      asked = `'${service}'`;
      const body = frames.length === 0 ? [Buffer.alloc(0)] : frames;
      // Every PARTIAL (MDP/0.2) as it comes, then the FINAL.
      for await (const chunk of client.stream(service, body, { timeoutMs: remainingMs() })) print(chunk.body);
      return 0;
    },
  );
}

async function services(flags: CallFlags): Promise<number> {
  // A query: when nothing listens at the broker, it says so at once.
  return withClient(
    'zpat services',
    () => 'the broker',
    flags,
    true,
    async (client) => {
      const entries = await client.services();
      if (entries.length === 0) process.stdout.write('(no services)\n');
      const width = Math.max(7, ...entries.map((e) => e.name.length));
      if (entries.length > 0) process.stdout.write(`${'SERVICE'.padEnd(width)}  WORKERS\n`);
      for (const entry of entries) process.stdout.write(`${printable(entry.name).padEnd(width)}  ${entry.workers}\n`);
      return 0;
    },
  );
}

async function echoWorker(flags: WorkerFlags): Promise<number> {
  const logger = createRootLogger({ name: 'zpat-worker', level: flags.logLevel, pretty: flags.pretty });
  const security = clientSecurityFromFlags('zpat worker echo', flags);
  return runDaemon({
    logger,
    name: 'zpat worker echo',
    start: async () => {
      // One worker per broker: behind an HA pair, the passive broker keeps it registered too.
      const workers = flags.broker.map(
        (broker) =>
          new MajordomoWorker({
            broker,
            service: flags.service,
            handler: async (request) => {
              logger.debug({ broker, frames: request.length }, 'request');
              if (flags.workMs > 0) await sleep(flags.workMs);
              return request;
            },
            version: flags.mdp,
            heartbeatIntervalMs: flags.heartbeatMs,
            liveness: flags.liveness,
            security,
            logger,
          }),
      );
      try {
        for (const worker of workers) await worker.start();
      } catch (err) {
        await Promise.all(workers.map((w) => w.close()));
        throw err;
      }
      for (const worker of workers) {
        void worker.closed().then((err) => {
          if (err === undefined) return;
          logger.fatal({ err }, 'worker stopped');
          process.exit(EXIT_FAILURE);
        });
      }
      return {
        handle: { close: async () => void (await Promise.all(workers.map((w) => w.close()))) },
        stats: () => (workers.length === 1 ? (workers[0]?.stats ?? {}) : { workers: workers.map((w) => w.stats) }),
        ready: {
          brokers: flags.broker,
          service: flags.service,
          mdp: flags.mdp,
          curve: flags.curveSecretKeyFile !== undefined,
        },
      };
    },
  });
}
