/**
 * The operator commands of `titanic` that work on the store directly, without a broker:
 *
 *   titanic pending [--data-dir DIR | --store URL]          pending requests by service: count, oldest, newest
 *   titanic purge SERVICE [--data-dir DIR | --store URL]    delete that service's pending requests, printing them
 *
 * A SQLite store is opened exclusively, so stop the daemon that uses it first (the command says so
 * if it is running). On PostgreSQL the commands run beside live instances: a purged request that an
 * instance had claimed is skipped at dispatch (it is no longer in the store).
 */
import { configureCommand, createProgram, defaultDataDir, envOptions } from '@zpatterns/app-kit';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { PostgresStore, SqliteStore, type StoreAdmin } from '@zpatterns/titanic';

export const STORE_COMMANDS: readonly string[] = ['pending', 'purge'];

interface StoreFlags {
  dataDir: string;
  store?: string;
}

/**
 * `--data-dir`, whose default is absolute whatever directory the daemon starts in, so that a
 * supervisor starting it in `/` opens the same store as an operator in a shell.
 */
export function dataDirOption(description: string): Option {
  return new Option('--data-dir <dir>', description).default(
    defaultDataDir('titanic'),
    '$STATE_DIRECTORY, else $XDG_STATE_HOME/zpatterns/titanic, else ~/.local/state/zpatterns/titanic',
  );
}

function storeOptions(command: Command): Command {
  return command
    .addOption(dataDirOption('directory of the SQLite store'))
    .option(
      '--store <url>',
      'PostgreSQL store URL (postgres://USER@HOST/DB) instead of --data-dir',
      (value: string) => {
        if (!/^postgres(ql)?:\/\//.test(value)) throw new InvalidArgumentError('expected postgres://USER@HOST/DB');
        return value;
      },
    );
}

async function openStore(
  flags: StoreFlags,
  explicitDataDir: boolean,
): Promise<StoreAdmin & { close(): Promise<void> }> {
  if (flags.store !== undefined) {
    if (explicitDataDir) throw new UsageError('--store and --data-dir are exclusive (PostgreSQL or SQLite)');
    return PostgresStore.start({ url: flags.store, applicationName: 'titanic-admin' });
  }
  try {
    return await SqliteStore.start({ dataDir: flags.dataDir });
  } catch (err) {
    const message = (err as Error).message;
    if (/locked|busy/i.test(message)) {
      throw new Error(`the store in ${flags.dataDir} is in use (a titanic daemon runs on it): stop it first`);
    }
    throw err;
  }
}

class UsageError extends Error {}

/** "12 s", "3 min", "2 h", "4 d": an age for people. */
function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

/** A service name for display: printable ASCII as is, anything else as hex. */
function serviceName(service: Buffer): string {
  return /^[\x21-\x7e]*$/.test(service.toString('latin1'))
    ? service.toString('latin1')
    : `0x${service.toString('hex')}`;
}

function parseService(value: string): Buffer {
  return /^0x([0-9a-f]{2})+$/i.test(value) ? Buffer.from(value.slice(2), 'hex') : Buffer.from(value, 'utf8');
}

/** Runs `titanic pending|purge ...`; resolves with the exit code (0 ok, 1 store error, 2 usage). */
export async function runStoreCommand(argv: readonly string[]): Promise<number> {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let code = 0;
  const run = async (command: Command, body: (store: StoreAdmin) => Promise<void>): Promise<void> => {
    const flags = command.opts<StoreFlags>();
    let store: (StoreAdmin & { close(): Promise<void> }) | undefined;
    try {
      store = await openStore(flags, command.getOptionValueSource('dataDir') === 'cli');
      await body(store);
    } catch (err) {
      process.stderr.write(`titanic: error: ${(err as Error).message}\n`);
      code = err instanceof UsageError ? 2 : 1;
    } finally {
      await store?.close().catch(() => undefined);
    }
  };
  const program = createProgram('titanic', 'Titanic: operator commands on the store');
  storeOptions(configureCommand(program.command('pending')))
    .description('list pending requests by service: how many, and the age of the oldest and newest')
    .action(async (_options: unknown, command: Command) => {
      await run(command, async (store) => {
        const rows = await store.pendingByService();
        if (rows.length === 0) {
          out('no pending requests');
          return;
        }
        const now = Date.now();
        const names = rows.map((r) => serviceName(r.service));
        const width = Math.max(7, ...names.map((n) => n.length));
        out(`${'SERVICE'.padEnd(width)}  ${'PENDING'.padStart(8)}  ${'OLDEST'.padStart(8)}  ${'NEWEST'.padStart(8)}`);
        rows.forEach((r, i) => {
          out(
            `${(names[i] ?? '').padEnd(width)}  ${String(r.count).padStart(8)}  ${age(now - r.oldestMs).padStart(8)}  ${age(now - r.newestMs).padStart(8)}`,
          );
        });
      });
    });
  storeOptions(configureCommand(program.command('purge')))
    .description('delete every pending request of one service (0x... for a binary name), printing each UUID removed')
    .argument('<service>', 'the service whose pending requests to delete')
    .action(async (service: string, _options: unknown, command: Command) => {
      await run(command, async (store) => {
        const uuids = await store.purgeService(parseService(service));
        for (const uuid of uuids) out(uuid);
        out(
          `purged ${uuids.length} pending request${uuids.length === 1 ? '' : 's'} of service ${JSON.stringify(service)}`,
        );
      });
    });
  // The same variables as the daemon's: ZPAT_TITANIC_DATA_DIR, ZPAT_TITANIC_STORE.
  envOptions(program, 'ZPAT_TITANIC', true);
  await program.parseAsync(argv);
  return code;
}
