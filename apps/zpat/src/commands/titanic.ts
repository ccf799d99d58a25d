/**
 * zpat subcommands for the Titanic pattern (9/TSP):
 *
 *   zpat titanic submit <service> [frames...] --broker EP   store a request; prints its UUID
 *   zpat titanic status <uuid> --broker EP                  prints ready | pending
 *   zpat titanic fetch <uuid> [--wait-ms MS] --broker EP    prints the reply frames, one per line
 *   zpat titanic close <uuid> --broker EP                   Titanic forgets the request
 *
 * Each MDP attempt waits `--attempt-timeout-ms`, `--retries` resends follow the first, and
 * `--timeout-ms` (when given) bounds the whole command. `--broker` is repeatable (or a comma list):
 * the brokers of an HA pair, primary first.
 *
 * Before it sends anything, a command asks the broker (`mmi.service`) whether Titanic serves it,
 * and `submit` whether a worker serves the target service: on "404" it fails at once and nothing
 * is queued or stored (`submit --allow-unserved` stores it anyway, for a worker that comes later).
 *
 * Exit codes: 0 done; 1 the broker or Titanic did not answer, nothing serves the service, the UUID
 * is unknown, or (fetch) the reply is not ready; 2 bad flags or a malformed UUID.
 */
import { clientSecurityFromFlags, createRootLogger, intFlag } from '@zpatterns/app-kit';
import { MajordomoClient } from '@zpatterns/majordomo';
import { isUuid, TitanicClient } from '@zpatterns/titanic';
import { TSP_SERVICE } from '@zpatterns/titanic/protocol';
import { InvalidArgumentError, type Command } from 'commander';
import { CommandFailure, explainTimeout, isTimeout, report, serviceStatus } from '../failure.js';
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

interface TitanicFlags extends ClientFlags {
  broker: string[];
}

interface SubmitFlags extends TitanicFlags {
  allowUnserved: boolean;
}

interface FetchFlags extends TitanicFlags {
  waitMs: number;
}

function uuidArgument(value: string): string {
  if (!isUuid(value)) throw new InvalidArgumentError(`expected a 32-character hex UUID, got '${value}'`);
  return value.toUpperCase();
}

function titanicOptions(command: Command): Command {
  command.addOption(brokerOption('broker endpoint Titanic is registered with; name both of an HA pair, primary first'));
  return curveOptions(clientLogOptions(budgetOptions(command)));
}

export function registerTitanicCommands(program: Command): void {
  const titanic = groupCommand(
    program.command('titanic').description('talk to Titanic: durable, disconnected requests (9/TSP)'),
  );

  zpatCommand(
    titanicOptions(
      titanic
        .command('submit')
        .description('hand a request to Titanic and print its UUID once it is stored durably')
        .argument('<service>', 'target service name')
        .argument('[frames...]', 'request body frames (UTF-8)')
        .option(
          '--allow-unserved',
          'store the request even when no worker serves the service now (it runs once one registers)',
          false,
        ),
    ).action(async (service: string, frames: string[], flags: SubmitFlags) => {
      process.exitCode = await run('submit', TSP_SERVICE.REQUEST, flags, async (client, mmi) => {
        if (!flags.allowUnserved && (await mmi(service)) === '404') {
          throw new CommandFailure(
            `no worker serves '${service}': nothing was stored (--allow-unserved stores it for a worker that comes later)`,
          );
        }
        process.stdout.write(`${await client.submit(service, frames)}\n`);
        return 0;
      });
    }),
  );

  zpatCommand(
    titanicOptions(
      titanic
        .command('status')
        .description('print whether the reply is ready or pending (an unknown request fails, as for fetch)')
        .argument('<uuid>', 'request UUID', uuidArgument),
    ).action(async (uuid: string, flags: TitanicFlags) => {
      process.exitCode = await run('status', TSP_SERVICE.REPLY, flags, async (client) => {
        const result = await client.poll(uuid);
        if (result.status === 'unknown') throw new CommandFailure(`unknown request ${uuid} (never stored, or closed)`);
        process.stdout.write(`${result.status === 'ok' ? 'ready' : 'pending'}\n`);
        return 0;
      });
    }),
  );

  zpatCommand(
    titanicOptions(
      titanic
        .command('fetch')
        .description('print the reply frames, one per line (does not close the request)')
        .argument('<uuid>', 'request UUID', uuidArgument)
        .option('--wait-ms <ms>', 'poll up to this long for the reply (0: ask once)', intFlag(0, 86_400_000), 0),
    ).action(async (uuid: string, flags: FetchFlags) => {
      process.exitCode = await run('fetch', TSP_SERVICE.REPLY, flags, async (client) => {
        let body: Buffer[];
        if (flags.waitMs > 0) {
          try {
            body = await client.waitReply(uuid, { timeoutMs: flags.waitMs, maxPollIntervalMs: 500 });
          } catch (err) {
            if (!isTimeout(err)) throw err;
            throw new CommandFailure(`the reply to ${uuid} was not ready within --wait-ms ${flags.waitMs}`);
          }
        } else {
          const result = await client.poll(uuid);
          if (result.status === 'unknown')
            throw new CommandFailure(`unknown request ${uuid} (never stored, or closed)`);
          if (result.status === 'pending')
            throw new CommandFailure(`the reply to ${uuid} is not ready yet (--wait-ms waits for it)`);
          body = result.body;
        }
        process.stdout.write(body.map((frame) => `${printable(frame)}\n`).join(''));
        return 0;
      });
    }),
  );

  zpatCommand(
    titanicOptions(
      titanic
        .command('close')
        .description('tell Titanic to forget the request and its reply')
        .argument('<uuid>', 'request UUID', uuidArgument),
    ).action(async (uuid: string, flags: TitanicFlags) => {
      process.exitCode = await run('close', TSP_SERVICE.CLOSE, flags, async (client) => {
        await client.closeRequest(uuid);
        return 0;
      });
    }),
  );
}

/**
 * Check that Titanic serves `tspService` at the brokers (MMI), then run `body`. `mmi(service)`
 * asks the broker about another service.
 */
async function run(
  command: string,
  tspService: string,
  flags: TitanicFlags,
  body: (client: TitanicClient, mmi: (service: string) => Promise<string>) => Promise<number>,
): Promise<number> {
  const name = `zpat titanic ${command}`;
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const started = performance.now();
  const remainingMs = (): number | undefined =>
    flags.timeoutMs === undefined ? undefined : Math.max(1, flags.timeoutMs - (performance.now() - started));
  const options = {
    brokers: flags.broker,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    retries: flags.retries,
    security: clientSecurityFromFlags(name, flags),
    logger,
  };
  // mmi.service is answered by the broker itself and never queued: safe to resend.
  const broker = new MajordomoClient(options);
  const client = new TitanicClient(options);
  let asking = 'the broker';
  try {
    await broker.start();
    const mmi = (service: string): Promise<string> => serviceStatus(broker, service, remainingMs);
    if ((await mmi(tspService)) === '404') {
      throw new CommandFailure(
        `Titanic is not running at ${broker.broker}: nothing serves ${tspService}; nothing was sent`,
      );
    }
    asking = 'Titanic';
    await client.start();
    return await within(remainingMs(), body(client, mmi));
  } catch (err) {
    return report(name, isTimeout(err) ? await explainTimeout(asking, flags.broker, err, flags, 'a broker') : err);
  } finally {
    await Promise.all([client.close(), broker.close()]);
  }
}

/** The rest of the command's budget for `work`: TitanicClient's own calls are bounded each. */
async function within<T>(remainingMs: number | undefined, work: Promise<T>): Promise<T> {
  if (remainingMs === undefined) return work;
  let timer: NodeJS.Timeout | undefined;
  const out = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = Object.assign(new Error('no reply within timeoutMs'), { code: 'ERR_TIMEOUT' });
      reject(err);
    }, remainingMs);
  });
  try {
    return await Promise.race([work, out]);
  } finally {
    clearTimeout(timer);
  }
}
