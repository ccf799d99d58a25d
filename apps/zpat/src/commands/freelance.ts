/**
 * zpat subcommands for Freelance (10/FLP):
 *
 *   zpat flcall --server EP1 --server EP2 [--count N] [frames...]   request(s) through the Freelance agent
 *
 * `--server` is repeatable, or a comma list (`--servers EP1,EP2`, the old spelling, still works):
 * the servers in priority order, used as `FreelanceClient({ servers })` does (`--strategy`).
 * One request prints the reply frames, one per line; `--count N` sends N (up to `--window` in
 * flight) and prints one summary line. Exit 0 when every request was answered, 1 otherwise.
 *
 * A Freelance server's routing id is the endpoint it was started with, so name each server with
 * the very string it bound: `tcp://localhost:5570` and `tcp://127.0.0.1:5570` are two servers here.
 */
import { addFlagAliases, clientSecurityFromFlags, createRootLogger, intFlag, peerListOption } from '@zpatterns/app-kit';
import { FreelanceClient, freelanceClientDefaults, type FreelanceStrategy } from '@zpatterns/freelance';
import { Option, type Command } from 'commander';
import { CommandFailure, explainTimeout, inFlags, isTimeout, noReply, report } from '../failure.js';
import { budgetOptions, clientLogOptions, curveOptions, mandatory, zpatCommand, type ClientFlags } from '../options.js';

interface FlcallFlags extends ClientFlags {
  server: string[];
  count: number;
  window: number;
  strategy: FreelanceStrategy;
}

export function registerFreelanceCommands(program: Command): void {
  const command = zpatCommand(
    curveOptions(
      clientLogOptions(
        budgetOptions(
          program
            .command('flcall')
            .description(
              'send request(s) to Freelance servers (10/FLP, no broker) and print the reply frames, one per line',
            )
            .argument('[frames...]', 'request frames (UTF-8)')
            .option('--count <n>', 'send this many requests and print a summary line', intFlag(1, 100_000_000), 1)
            .option('--window <n>', 'requests in flight at once with --count', intFlag(1, 1_000_000), 10)
            .addOption(
              new Option('--strategy <name>', 'which server gets a request')
                .choices(['priority', 'round-robin', 'all'])
                .default(freelanceClientDefaults.strategy),
            )
            .addOption(
              mandatory(
                peerListOption(
                  '--server <endpoint>',
                  'server endpoint, in priority order; exactly the string the server bound (its routing id)',
                ),
              ),
            ),
          {
            attempt: "wait this long for one server's reply before trying the next",
            timeout: 'bound of each request, every attempt included (default: the attempts)',
          },
        ),
      ),
    ).action(async (frames: string[], flags: FlcallFlags) => {
      process.exitCode = await flcall(frames, flags);
    }),
  );
  // The old spelling: a comma list after --servers. An alias, so no deprecation warning.
  addFlagAliases(command, [{ flags: '--servers <endpoints>', replacement: '--server' }], () => undefined);
}

async function flcall(frames: string[], flags: FlcallFlags): Promise<number> {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const client = new FreelanceClient({
    servers: flags.server,
    strategy: flags.strategy,
    // Without --timeout-ms, a request is bounded by its attempts, as in every other command.
    timeoutMs: flags.timeoutMs ?? flags.attemptTimeoutMs * (1 + flags.retries),
    attemptTimeoutMs: flags.attemptTimeoutMs,
    retries: flags.retries,
    security: clientSecurityFromFlags('zpat flcall', flags),
    logger,
  });
  const failure = (err: unknown): string => {
    if (!isTimeout(err)) return inFlags((err as Error).message);
    // A request that was sent somewhere (attempts > 0) reached a server that answered PING.
    const attempts = (err as { attempts?: number }).attempts;
    if (attempts === undefined || attempts > 0) return noReply('the servers', flags.server, err, flags);
    // Connected, yet no server answered a PING: the routing id (the endpoint the server bound)
    // differs from the endpoint given here, or nothing serves there.
    return (
      `no server answered at ${flags.server.join(', ')}: a Freelance server answers only to the very ` +
      `endpoint it bound (tcp://localhost:5570 is not tcp://127.0.0.1:5570); check its --bind or --endpoint`
    );
  };
  // Every server refusing the connection is said as such; else as `failure` says it.
  const explain = async (err: unknown): Promise<CommandFailure> => {
    if (err instanceof CommandFailure) return err;
    if (isTimeout(err)) {
      const refused = await explainTimeout('the servers', flags.server, err, flags, 'a server');
      if (refused.message.startsWith('nothing listens')) return refused;
    }
    return new CommandFailure(failure(err));
  };
  try {
    await client.start();
    if (flags.count === 1) {
      const reply = await client.request(frames);
      process.stdout.write(reply.map((frame) => `${frame.toString('utf8')}\n`).join(''));
      return 0;
    }
    const started = performance.now();
    let next = 0;
    let answered = 0;
    let failed = 0;
    let firstError: string | undefined;
    const lane = async (): Promise<void> => {
      while (next < flags.count) {
        next++;
        try {
          await client.request(frames);
          answered++;
        } catch (err) {
          failed++;
          firstError ??= failure(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(flags.window, flags.count) }, lane));
    const elapsedMs = performance.now() - started;
    const perServer = client.servers.map((s) => `${s.endpoint}=${s.replies}`).join(' ');
    process.stdout.write(
      `${flags.count} requests: ${answered} answered, ${failed} failed in ${Math.round(elapsedMs)} ms ` +
        `(${Math.round((answered / elapsedMs) * 1000)} req/s, ${client.stats.retries} resends); replies by server: ${perServer}\n`,
    );
    if (firstError !== undefined) throw new CommandFailure(firstError);
    return 0;
  } catch (err) {
    return report('zpat flcall', await explain(err));
  } finally {
    await client.close();
  }
}
