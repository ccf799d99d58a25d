/**
 * zpat subcommands for Freelance (10/FLP):
 *
 *   zpat flcall --servers EP1,EP2,EP3 [--count N] [frames...]   request(s) through the Freelance agent
 *
 * One request prints the reply frames, one per line; `--count N` sends N (up to `--window` in
 * flight) and prints one summary line. Exit 0 when every request was answered, 1 otherwise.
 */
import {
  configureCommand,
  createRootLogger,
  EXIT_FAILURE,
  intFlag,
  logLevelOption,
  prettyOption,
  type LogLevel,
} from '@zpatterns/app-kit';
import { FreelanceClient, freelanceClientDefaults, type FreelanceStrategy } from '@zpatterns/freelance';
import { InvalidArgumentError, Option, type Command } from 'commander';

interface FlcallFlags {
  servers: string[];
  count: number;
  window: number;
  strategy: FreelanceStrategy;
  timeoutMs: number;
  attemptTimeoutMs: number;
  retries: number;
  logLevel: LogLevel;
  pretty: boolean;
}

const ENDPOINT = /^(tcp:\/\/[^\s:,]+:\d+|ipc:\/\/[^\s,]+|inproc:\/\/[^\s,]+)$/;

function endpointList(value: string): string[] {
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const bad = list.find((s) => !ENDPOINT.test(s));
  if (list.length === 0 || bad !== undefined) {
    throw new InvalidArgumentError(
      `expected comma-separated endpoints like tcp://127.0.0.1:5555,tcp://127.0.0.1:5556, got '${bad ?? value}'`,
    );
  }
  return list;
}

export function registerFreelanceCommands(program: Command): void {
  configureCommand(
    program
      .command('flcall')
      .description('send request(s) to Freelance servers (10/FLP, no broker) and print the reply frames, one per line')
      .argument('[frames...]', 'request frames (UTF-8)')
      .requiredOption('--servers <endpoints>', 'server endpoints, comma-separated, in priority order', endpointList)
      .option('--count <n>', 'send this many requests and print a summary line', intFlag(1, 100_000_000), 1)
      .option('--window <n>', 'requests in flight at once with --count', intFlag(1, 1_000_000), 10)
      .addOption(
        new Option('--strategy <name>', 'which server gets a request')
          .choices(['priority', 'round-robin', 'all'])
          .default(freelanceClientDefaults.strategy),
      )
      .option('--timeout-ms <ms>', "a request's whole budget", intFlag(1, 3_600_000), freelanceClientDefaults.timeoutMs)
      .option(
        '--attempt-timeout-ms <ms>',
        "wait this long for one server's reply before trying the next",
        intFlag(1, 3_600_000),
        freelanceClientDefaults.attemptTimeoutMs,
      )
      .option('--retries <n>', 'resends after the first send', intFlag(0, 1000), freelanceClientDefaults.retries)
      .addOption(logLevelOption('silent'))
      .addOption(prettyOption())
      .action(async (frames: string[], flags: FlcallFlags) => {
        process.exitCode = await flcall(frames, flags);
      }),
  );
}

async function flcall(frames: string[], flags: FlcallFlags): Promise<number> {
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const client = new FreelanceClient({
    servers: flags.servers,
    strategy: flags.strategy,
    timeoutMs: flags.timeoutMs,
    attemptTimeoutMs: flags.attemptTimeoutMs,
    retries: flags.retries,
    logger,
  });
  try {
    await client.start();
    if (flags.count === 1) {
      try {
        const reply = await client.request(frames);
        process.stdout.write(reply.map((frame) => `${frame.toString('utf8')}\n`).join(''));
        return 0;
      } catch (err) {
        process.stderr.write(`zpat flcall: ${(err as Error).message}\n`);
        return EXIT_FAILURE;
      }
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
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(flags.window, flags.count) }, lane));
    const elapsedMs = performance.now() - started;
    const perServer = client.servers.map((s) => `${s.endpoint}=${s.replies}`).join(' ');
    process.stdout.write(
      `${flags.count} requests: ${answered} answered, ${failed} failed in ${Math.round(elapsedMs)} ms ` +
        `(${Math.round((answered / elapsedMs) * 1000)} req/s, ${client.stats.resends} resends); replies by server: ${perServer}\n`,
    );
    if (firstError !== undefined) process.stderr.write(`zpat flcall: ${firstError}\n`);
    return failed === 0 ? 0 : EXIT_FAILURE;
  } finally {
    await client.close();
  }
}
