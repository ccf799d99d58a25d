/**
 * zpat subcommands for Clone (12/CHP), through a CloneClient agent:
 *
 *   zpat clone get [KEY] [--all]                 snapshot; print one value, or every key=value (sorted)
 *   zpat clone set KEY VALUE [--ttl SECONDS]     commit; print the sequence the server gave it
 *   zpat clone del KEY                           commit of an empty value
 *   zpat clone watch [PREFIX] [--json]           print each change until SIGINT/SIGTERM
 *
 * `--server tcp://HOST:P` (repeatable, or a comma list: the two of a pair) stands for the book's layout:
 * snapshot P, updates P+1, collector P+2. Without `--subtree`, a command follows only the subtree
 * it needs (KEY for get/set/del, PREFIX for watch), so the snapshot carries only that.
 *
 * Exit codes: 0 success, 1 runtime failure (no snapshot or no sequence in time, key absent), 2 bad
 * usage; failures print one line on stderr.
 */
import {
  clientSecurityFromFlags,
  connectEndpointFlag,
  createRootLogger,
  EXIT_FAILURE,
  exitUsage,
  intFlag,
  peerListOption,
  type ClientSecurityFlags,
  type LogLevel,
} from '@zpatterns/app-kit';
import { CloneClient, cloneClientDefaults, serverAddress, type CloneChange } from '@zpatterns/clone';
import type { Logger } from '@zpatterns/core';
import { TimeoutError } from '@zpatterns/core';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CommandFailure, report } from '../failure.js';
import { allRefused } from '../reachable.js';
import { clientLogOptions, curveOptions, groupCommand, zpatCommand } from '../options.js';
import { printable } from '../printable.js';

/** clonesrv's default base port: snapshot 5590, updates 5591, collector 5592 (the book's is 5556). */
export const DEFAULT_CLONE_SERVER = 'tcp://127.0.0.1:5590';

interface CloneFlags extends ClientSecurityFlags {
  server: string[];
  subtree?: string;
  timeoutMs: number;
  serverTtlMs: number;
  logLevel: LogLevel;
  pretty: boolean;
}

interface GetFlags extends CloneFlags {
  all: boolean;
}

interface SetFlags extends CloneFlags {
  ttl?: number;
}

interface WatchFlags extends CloneFlags {
  json: boolean;
}

/** `tcp://HOST:P` with P+2 still a port: the three endpoints of the book's layout. */
function cloneServerFlag(value: string): string {
  connectEndpointFlag(value);
  const port = /^tcp:\/\/[^\s/]+:(\d+)$/.exec(value)?.[1];
  if (port === undefined) {
    throw new InvalidArgumentError(`a Clone server is tcp://HOST:P (like ${DEFAULT_CLONE_SERVER}), got '${value}'`);
  }
  if (Number(port) > 65_533) {
    throw new InvalidArgumentError(`port ${port} leaves no room for P+1 and P+2 (at most 65533)`);
  }
  serverAddress(value);
  return value;
}

function keyArgument(value: string): string {
  if (value === '') throw new InvalidArgumentError('the key must not be empty');
  return value;
}

function cloneOptions(command: Command): Command {
  command
    .option(
      '--subtree <prefix>',
      'subtree to follow (default: the key, or the watched prefix; everything for get --all)',
    )
    .addOption(
      peerListOption(
        '--server <tcp://HOST:P>',
        'Clone server (uses P, P+1, P+2); name both of a Binary Star pair, in failover order',
        { parse: cloneServerFlag, default: [DEFAULT_CLONE_SERVER] },
      ),
    )
    .option(
      '--timeout-ms <ms>',
      'wait this long for the snapshot, and for the sequence of a set or del',
      intFlag(1, 3_600_000),
      cloneClientDefaults.timeoutMs,
    )
    .option(
      '--server-ttl-ms <ms>',
      'a server silent this long is presumed dead (then the next of a pair is tried)',
      intFlag(1, 3_600_000),
      cloneClientDefaults.peerTtlMs,
    );
  return curveOptions(clientLogOptions(command));
}

export function registerCloneCommands(program: Command): void {
  const clone = groupCommand(
    program.command('clone').description('read, write and watch a Clone key-value store (12/CHP)'),
  );

  zpatCommand(
    cloneOptions(
      clone
        .command('get')
        .description('take a snapshot and print the value of KEY (exit 1 if absent), or every key=value, sorted')
        .argument('[key]', 'the key to print; without it, every key in the subtree')
        .option('--all', 'print every key=value in the subtree, sorted (the same as no KEY)', false),
    ).action(async (key: string | undefined, flags: GetFlags) => {
      if (key !== undefined && flags.all) exitUsage('zpat clone get', 'give a KEY or --all, not both');
      const subtree = subtreeFor('get', key, flags);
      process.exitCode = await run('get', flags, subtree, async (client) => {
        if (key !== undefined) {
          const value = client.get(key);
          if (value === undefined) {
            process.stderr.write(`zpat clone get: ${key} is not set\n`);
            return EXIT_FAILURE;
          }
          process.stdout.write(`${printable(value)}\n`);
          return 0;
        }
        const lines = client
          .entries()
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, v]) => `${k}=${printable(v, { singleLine: true })}\n`);
        process.stdout.write(lines.join(''));
        return 0;
      });
    }),
  );

  zpatCommand(
    cloneOptions(
      clone
        .command('set')
        .description('set KEY to VALUE and print the sequence the server gave the update')
        .argument('<key>', 'the key', keyArgument)
        .argument('<value>', 'the value (UTF-8; not empty: use del to delete)')
        .option('--ttl <seconds>', 'the server deletes the key after this many seconds', intFlag(1, 31_536_000)),
    ).action(async (key: string, value: string, flags: SetFlags) => {
      if (value === '') exitUsage('zpat clone set', "an empty value deletes the key: use 'zpat clone del KEY'");
      const subtree = subtreeFor('set', key, flags);
      process.exitCode = await run('set', flags, subtree, async (client) => {
        const ttl = flags.ttl === undefined ? {} : { ttlMs: flags.ttl * 1000 };
        process.stdout.write(`${await client.commit(key, value, ttl)}\n`);
        return 0;
      });
    }),
  );

  zpatCommand(
    cloneOptions(
      clone
        .command('del')
        .description('delete KEY (an update with an empty value) and print the sequence the server gave it')
        .argument('<key>', 'the key', keyArgument),
    ).action(async (key: string, flags: CloneFlags) => {
      const subtree = subtreeFor('del', key, flags);
      process.exitCode = await run('del', flags, subtree, async (client) => {
        process.stdout.write(`${await client.commit(key, '')}\n`);
        return 0;
      });
    }),
  );

  zpatCommand(
    cloneOptions(
      clone
        .command('watch')
        .description("print each change under PREFIX as 'SEQ KEY=VALUE' or 'SEQ KEY deleted' until SIGINT/SIGTERM")
        .argument('[prefix]', 'key prefix to watch (default: every key)')
        .addOption(
          new Option(
            '--json',
            'one JSON object per change: {"sequence","key","value"} (value null when deleted)',
          ).default(false),
        ),
    ).action(async (prefix: string | undefined, flags: WatchFlags) => {
      process.exitCode = await watch(prefix ?? '', flags);
    }),
  );
}

/** The subtree to follow: `--subtree`, which must hold the key, or the key itself. */
function subtreeFor(command: string, key: string | undefined, flags: CloneFlags): string {
  if (flags.subtree === undefined) return key ?? '';
  if (key !== undefined && !key.startsWith(flags.subtree)) {
    exitUsage(`zpat clone ${command}`, `${key} is outside --subtree ${flags.subtree}`);
  }
  return flags.subtree;
}

function openClient(command: string, flags: CloneFlags, subtree: string): { client: CloneClient; logger: Logger } {
  const servers = flags.server;
  if (servers.length > 2) exitUsage(`zpat clone ${command}`, '--server: one server, or the two of a pair');
  const logger = createRootLogger({
    name: 'zpat',
    level: flags.logLevel,
    pretty: flags.pretty,
    destination: process.stderr,
  });
  const client = new CloneClient({
    servers,
    subtrees: [subtree],
    peerTtlMs: flags.serverTtlMs,
    timeoutMs: flags.timeoutMs,
    security: clientSecurityFromFlags(`zpat clone ${command}`, flags),
    logger,
  });
  return { client, logger };
}

/** `client.start()`, bounded by `--timeout-ms` and by `signal`. Resolves false when aborted. */
async function startWithin(client: CloneClient, flags: CloneFlags, signal?: AbortSignal): Promise<boolean> {
  try {
    await client.start({ timeoutMs: flags.timeoutMs, signal });
    return true;
  } catch (err) {
    if (signal?.aborted === true) return false;
    if (err instanceof TimeoutError) {
      const servers = flags.server.join(', ');
      if ((await allRefused(flags.server, 250)) !== undefined) {
        throw new CommandFailure(
          `nothing listens at ${servers} (connection refused within --timeout-ms ${flags.timeoutMs}): is a Clone server running there?`,
        );
      }
      throw new TimeoutError(`no snapshot from ${servers} within ${flags.timeoutMs} ms (--timeout-ms)`, { cause: err });
    }
    throw err;
  }
}

/** Log the client's status changes (a failover, a dead server, a resync) on stderr. */
function logStatus(client: CloneClient, logger: Logger): void {
  void (async () => {
    for await (const event of client.status()) {
      if (event.type === 'started' || event.type === 'closed') continue;
      if (event.type === 'connected') logger.info(event, 'following a server');
      else logger.warn(event, event.type);
    }
  })();
}

async function run(
  command: string,
  flags: CloneFlags,
  subtree: string,
  body: (client: CloneClient) => Promise<number>,
): Promise<number> {
  const { client, logger } = openClient(command, flags, subtree);
  logStatus(client, logger);
  try {
    await startWithin(client, flags);
    return await body(client);
  } catch (err) {
    return report(`zpat clone ${command}`, err);
  } finally {
    await client.close();
  }
}

function formatChange(change: CloneChange, json: boolean): string {
  if (json) {
    const value = change.value === undefined ? null : printable(change.value);
    return `${JSON.stringify({ sequence: Number(change.sequence), key: change.key, value })}\n`;
  }
  return change.value === undefined
    ? `${change.sequence} ${change.key} deleted\n`
    : `${change.sequence} ${change.key}=${printable(change.value, { singleLine: true })}\n`;
}

/** Print every change under `prefix` until SIGINT/SIGTERM, then close and exit 0. */
async function watch(prefix: string, flags: WatchFlags): Promise<number> {
  // With --subtree, the prefix may be narrower (a part of the subtree) or wider (all of it).
  const subtree = flags.subtree ?? prefix;
  if (!prefix.startsWith(subtree) && !subtree.startsWith(prefix)) {
    exitUsage('zpat clone watch', `${prefix} and --subtree ${subtree} share no key`);
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { client, logger } = openClient('watch', flags, subtree);
  logStatus(client, logger);
  try {
    if (!(await startWithin(client, flags, stop.signal))) return 0;
    const changes = client.watch(prefix, { signal: stop.signal });
    let next = changes.next(); // registers the watcher before we say we are watching
    logger.info({ servers: flags.server, prefix, subtree, sequence: Number(client.sequence) }, 'ready');
    for (let step = await next; step.done !== true; step = await next) {
      process.stdout.write(formatChange(step.value, flags.json));
      next = changes.next();
    }
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 0; // SIGINT/SIGTERM: the watch() iterator rejects with AbortError
    return report('zpat clone watch', err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.close();
  }
}
