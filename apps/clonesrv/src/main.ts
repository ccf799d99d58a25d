#!/usr/bin/env node
/**
 * clonesrv: the Clone (12/CHP) key-value server. Snapshot ROUTER on port P, update PUB on P+1,
 * collector SUB on P+2, all on the loopback by default.
 *
 *   npx --no-install clonesrv --port 5556
 *
 * The Binary Star pair (--primary/--backup) and --data-dir are not implemented yet.
 */
import {
  createProgram,
  createRootLogger,
  intFlag,
  logLevelOption,
  prettyOption,
  runDaemon,
  type LogLevel,
} from '@zpatterns/app-kit';
import { CloneServer, portEndpoints } from '@zpatterns/clone';

interface Flags {
  port: number;
  host: string;
  hugzMs: number;
  logLevel: LogLevel;
  pretty: boolean;
}

const program = createProgram(
  'clonesrv',
  'Clone (12/CHP) key-value server: snapshot ROUTER P, PUB P+1, collector SUB P+2',
)
  .option('--port <port>', 'base port P (binds P, P+1, P+2)', intFlag(1, 65_533), 5556)
  .option('--host <address>', 'address to bind on', '127.0.0.1')
  .option('--hugz-ms <ms>', 'HUGZ heartbeat interval', intFlag(10, 3_600_000), 1000)
  .addOption(logLevelOption())
  .addOption(prettyOption());

program.parse(process.argv);
const flags = program.opts<Flags>();
const logger = createRootLogger({ name: 'clonesrv', level: flags.logLevel, pretty: flags.pretty });

process.exitCode = await runDaemon({
  logger,
  start: async () => {
    const server = new CloneServer({ ...portEndpoints(flags.port, flags.host), hugzIntervalMs: flags.hugzMs, logger });
    await server.start();
    const { snapshot, publisher, collector } = server.endpoints;
    return {
      handle: {
        close: async () => {
          logger.info({ stats: server.stats }, 'final stats');
          await server.close();
        },
      },
      ready: { endpoints: [snapshot, publisher, collector], snapshot, publisher, collector },
    };
  },
});
