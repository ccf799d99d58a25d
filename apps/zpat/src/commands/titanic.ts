/**
 * zpat subcommands for the Titanic pattern (9/TSP):
 *
 *   zpat titanic submit <service> [frames...] --broker EP   store a request; prints its UUID
 *   zpat titanic status <uuid> --broker EP                  prints ready | pending | unknown
 *   zpat titanic fetch <uuid> [--wait-ms MS] --broker EP    prints the reply frames, one per line
 *   zpat titanic close <uuid> --broker EP                   Titanic forgets the request
 *
 * Each MDP attempt waits `--attempt-timeout-ms`, `--retries` resends follow the first, and
 * `--timeout-ms` (when given) bounds the whole command.
 *
 * Exit codes: 0 done; 1 the broker or Titanic did not answer, the UUID is unknown, or (fetch) the
 * reply is not ready; 2 bad flags or a malformed UUID.
 */
import {
  clientSecurityFromFlags,
  clientSecurityOptions,
  configureCommand,
  createRootLogger,
  endpointFlag,
  EXIT_FAILURE,
  EXIT_USAGE,
  intFlag,
  logLevelOption,
  prettyOption,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import { DEFAULT_BROKER_ENDPOINT } from '@zpatterns/majordomo';
import { isUuid, TitanicClient, titanicClientDefaults } from '@zpatterns/titanic';
import { InvalidArgumentError, type Command } from 'commander';
import { printable } from '../printable.js';

interface TitanicFlags extends ClientSecurityFlags {
  broker: string;
  attemptTimeoutMs: number;
  timeoutMs?: number;
  retries: number;
  logLevel: LogLevel;
  pretty: boolean;
}

interface FetchFlags extends TitanicFlags {
  waitMs: number;
}

function uuidArgument(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`expected a 32-character hex UUID, got '${value}'`);
  return value.toUpperCase();
}

function titanicOptions(command: Command): Command {
  return clientSecurityOptions(command)
    .option('--broker <endpoint>', 'broker endpoint Titanic is registered with', endpointFlag, DEFAULT_BROKER_ENDPOINT)
    .option(
      '--attempt-timeout-ms <ms>',
      'wait this long for each attempt',
      intFlag(1, 3_600_000),
      titanicClientDefaults.attemptTimeoutMs,
    )
    .option('--timeout-ms <ms>', 'bound of the whole command (every attempt included)', intFlag(1, 86_400_000))
    .option('--retries <n>', 'resends after the first attempt', intFlag(0, 1000), titanicClientDefaults.retries)
    .addOption(logLevelOption('error'))
    .addOption(prettyOption());
}

export function registerTitanicCommands(program: Command): void {
  const titanic = configureCommand(
    program.command('titanic').description('talk to Titanic: durable, disconnected requests (9/TSP)'),
  );

  configureCommand(
    titanicOptions(
      titanic
        .command('submit')
        .description('hand a request to Titanic and print its UUID once it is stored durably')
        .argument('<service>', 'target service name')
        .argument('[frames...]', 'request body frames (UTF-8)'),
    ).action(async (service: string, frames: string[], flags: TitanicFlags) => {
      process.exitCode = await run('submit', flags, async (client) => {
        process.stdout.write(`${await client.submit(service, frames)}\n`);
        return 0;
      });
    }),
  );

  configureCommand(
    titanicOptions(
      titanic
        .command('status')
        .description('print whether the reply is ready, pending, or the request unknown')
        .argument('<uuid>', 'request UUID', uuidArgument),
    ).action(async (uuid: string, flags: TitanicFlags) => {
      process.exitCode = await run('status', flags, async (client) => {
        const result = await client.poll(uuid);
        process.stdout.write(`${result.status === 'ok' ? 'ready' : result.status}\n`);
        return result.status === 'unknown' ? EXIT_FAILURE : 0;
      });
    }),
  );

  configureCommand(
    titanicOptions(
      titanic
        .command('fetch')
        .description('print the reply frames, one per line (does not close the request)')
        .argument('<uuid>', 'request UUID', uuidArgument)
        .option('--wait-ms <ms>', 'poll up to this long for the reply (0: ask once)', intFlag(0, 86_400_000), 0),
    ).action(async (uuid: string, flags: FetchFlags) => {
      process.exitCode = await run('fetch', flags, async (client) => {
        let body: Buffer[];
        if (flags.waitMs > 0) {
          body = await client.waitReply(uuid, { timeoutMs: flags.waitMs, maxPollIntervalMs: 500 });
        } else {
          const result = await client.poll(uuid);
          if (result.status !== 'ok') {
            process.stderr.write(
              `zpat titanic fetch: ${result.status === 'pending' ? 'reply not ready yet' : 'unknown request'}\n`,
            );
            return EXIT_FAILURE;
          }
          body = result.body;
        }
        process.stdout.write(body.map((frame) => `${printable(frame)}\n`).join(''));
        return 0;
      });
    }),
  );

  configureCommand(
    titanicOptions(
      titanic
        .command('close')
        .description('tell Titanic to forget the request and its reply')
        .argument('<uuid>', 'request UUID', uuidArgument),
    ).action(async (uuid: string, flags: TitanicFlags) => {
      process.exitCode = await run('close', flags, async (client) => {
        await client.closeRequest(uuid);
        return 0;
      });
    }),
  );
}

async function run(
  command: string,
  flags: TitanicFlags,
  body: (client: TitanicClient) => Promise<number>,
): Promise<number> {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const client = new TitanicClient({
    broker: flags.broker,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    timeoutMs: flags.timeoutMs,
    retries: flags.retries,
    security: clientSecurityFromFlags('zpat', flags),
    logger,
  });
  try {
    await client.start();
    return await body(client);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    process.stderr.write(
      `zpat titanic ${command}: ${(err as Error).message}${code === 'ERR_TIMEOUT' ? ` [broker ${flags.broker}]` : ''}\n`,
    );
    return code === 'ERR_TITANIC_INVALID_UUID' ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    await client.close();
  }
}
