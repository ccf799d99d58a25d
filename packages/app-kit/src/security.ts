/**
 * The CURVE flags every daemon and client shares, and what they turn into:
 *
 *   daemons:  --curve-secret-key-file FILE  --allow-keys PATH   (SIGHUP re-reads PATH)
 *             --max-message-bytes N         (libzmq drops a peer that sends a bigger frame)
 *   clients:  --curve-server-key KEY        --curve-secret-key-file FILE
 *
 * One name for the secret key file on both sides; `--curve-key-file`, the clients' old name, is a
 * hidden alias for one release.
 *
 * Flags that need each other are usage errors (one line on stderr, exit code 2). A key file or
 * allow-list that cannot be used (missing, unreadable, writable by group or others) is a start-up
 * failure: one line on stderr with its code, exit code 1, before anything is bound. SIGHUP never kills a daemon that called
 * `watchServerSecurity`: it re-reads the allow-list, or logs that there is nothing to reload.
 */
import {
  AllowList,
  DEFAULT_MAX_MESSAGE_BYTES,
  loadPublicKey,
  loadSecretKeyFile,
  type CurveKeyPair,
  type Logger,
  type SecurityOptions,
} from '@zpatterns/core';
import type { Command } from 'commander';
import { addFlagAliases, intFlag, type DeprecatedFlagUse } from './flags.js';
import { startupFailureLine } from './startup.js';
import { EXIT_FAILURE, exitUsage } from './usage.js';

/** Flags added by `serverSecurityOptions`. */
export interface ServerSecurityFlags {
  /** `--curve-secret-key-file`: this server's key pair file; absent, the socket is plain. */
  curveSecretKeyFile?: string;
  /** `--allow-keys`: a directory or file of client public keys allowed to connect. */
  allowKeys?: string;
  /** Largest frame a peer may send (libzmq `maxMessageSize`). */
  maxMessageBytes: number;
}

/** Flags added by `clientSecurityOptions`. */
export interface ClientSecurityFlags {
  /** `--curve-server-key`: the server's public key (Z85 or a key file); absent, plain. */
  curveServerKey?: string;
  /** This side's secret key file. */
  curveSecretKeyFile?: string;
}

/** Print the start-up failure line for `err` and exit with code 1. */
function exitStartup(name: string, err: unknown): never {
  process.stderr.write(`${startupFailureLine(name, err)}\n`);
  process.exit(EXIT_FAILURE);
}

/**
 * Add `--curve-secret-key-file`, `--allow-keys` (and, with `curveServerKey`, `--curve-server-key`
 * described so) and then `--max-message-bytes` to a daemon's command: the CURVE group and the
 * frame limit, in the order every daemon shows them.
 */
export function serverSecurityOptions(command: Command, options: { curveServerKey?: string } = {}): Command {
  command
    .option(
      '--curve-secret-key-file <file>',
      'CURVE: encrypt with this secret key file (zpat keygen; mode 0600); plain clients are then refused',
    )
    .option(
      '--allow-keys <path>',
      'CURVE: public keys allowed to connect: a directory of .pub files or a file of keys (SIGHUP re-reads it)',
    );
  if (options.curveServerKey !== undefined) command.option('--curve-server-key <key>', options.curveServerKey);
  return command.option(
    '--max-message-bytes <bytes>',
    'largest frame a peer may send; libzmq drops the connection of a peer that sends a bigger one',
    intFlag(1, 2 ** 31 - 1),
    DEFAULT_MAX_MESSAGE_BYTES,
  );
}

/**
 * Add `--curve-server-key` and `--curve-secret-key-file` (old name `--curve-key-file`, hidden) to
 * a client's or worker's command.
 */
export function clientSecurityOptions(command: Command, report?: (use: DeprecatedFlagUse) => void): Command {
  command
    .option('--curve-server-key <key>', "CURVE: the server's public key (Z85, or its .pub file)")
    .option('--curve-secret-key-file <file>', "CURVE: this side's secret key file (zpat keygen; mode 0600)");
  return addFlagAliases(
    command,
    [{ flags: '--curve-key-file <file>', replacement: '--curve-secret-key-file' }],
    report,
  );
}

/** What a daemon's security flags resolve to. */
export interface DaemonSecurity {
  /** For the binding sockets; `undefined` when the daemon runs plain. */
  security: SecurityOptions | undefined;
  /** The daemon's key pair (from `--curve-secret-key-file`). */
  keys: CurveKeyPair | undefined;
  /** The allow-list, when `--allow-keys` was given (reload it on SIGHUP). */
  allowList: AllowList | undefined;
}

/**
 * Set the process's frame limit, load the daemon's key and allow-list. Exits 2 for flags that need
 * each other, 1 with the start-up failure line (ERR_KEY_FILE) for a key or list that cannot be used.
 */
export function serverSecurityFromFlags(name: string, flags: ServerSecurityFlags): DaemonSecurity {
  if (flags.curveSecretKeyFile === undefined) {
    if (flags.allowKeys !== undefined) exitUsage(name, '--allow-keys needs --curve-secret-key-file');
    return { security: undefined, keys: undefined, allowList: undefined };
  }
  try {
    const curve = loadSecretKeyFile(flags.curveSecretKeyFile);
    const allowList = flags.allowKeys === undefined ? undefined : new AllowList(flags.allowKeys);
    return { security: { curve, authorize: allowList }, keys: curve, allowList };
  } catch (err) {
    exitStartup(name, err);
  }
}

/**
 * Load a client's or worker's keys. Both flags or neither (else exit 2); a key that cannot be used
 * exits 1 with the start-up failure line (ERR_KEY_FILE).
 */
export function clientSecurityFromFlags(name: string, flags: ClientSecurityFlags): SecurityOptions | undefined {
  const { curveServerKey, curveSecretKeyFile } = flags;
  if (curveServerKey === undefined && curveSecretKeyFile === undefined) return undefined;
  if (curveServerKey === undefined || curveSecretKeyFile === undefined) {
    exitUsage(name, '--curve-server-key and --curve-secret-key-file go together');
  }
  try {
    return { curve: { ...loadSecretKeyFile(curveSecretKeyFile), serverPublicKey: loadPublicKey(curveServerKey) } };
  } catch (err) {
    exitStartup(name, err);
  }
}

/**
 * Log how the daemon is secured, and handle SIGHUP: re-read the allow-list (a bad list is logged
 * and the previous one stays), or log that there is nothing to reload. Returns a function that
 * removes the handler.
 */
export function watchServerSecurity(secured: DaemonSecurity, logger: Logger): () => void {
  const log = logger.child({ component: 'security' });
  const { keys, allowList } = secured;
  if (keys === undefined) {
    log.debug('plain: no CURVE (--curve-secret-key-file not given)');
  } else if (allowList === undefined) {
    log.warn({ publicKey: keys.publicKey }, 'CURVE without --allow-keys: any CURVE client may connect');
  } else {
    log.info({ publicKey: keys.publicKey, keys: allowList.size, path: allowList.path }, 'CURVE with allow-list');
  }
  const onHangup = (): void => {
    if (allowList === undefined) {
      log.info({ signal: 'SIGHUP' }, 'nothing to reload (no --allow-keys)');
      return;
    }
    try {
      const keys = allowList.reload();
      log.info({ keys, path: allowList.path }, 'allow-list reloaded');
    } catch (err) {
      log.error({ err, path: allowList.path }, 'allow-list reload failed, keeping the previous list');
    }
  };
  process.on('SIGHUP', onHangup);
  return () => process.off('SIGHUP', onHangup);
}

/**
 * Spread into a `BinaryStar`'s options: CURVE on the pair's state channel (its `security`)
 * whenever the daemon runs with CURVE. Both servers of a pair use the same key file, so the
 * peer's key is our own.
 */
export function pairCurve(secured: DaemonSecurity): { security?: SecurityOptions } {
  const { keys } = secured;
  return keys === undefined ? {} : { security: { curve: { ...keys, serverPublicKey: keys.publicKey } } };
}

/** True for a tcp endpoint on a loopback address (127.0.0.0/8, ::1, localhost), and ipc/inproc. */
export function isLoopbackEndpoint(endpoint: string): boolean {
  const match = /^tcp:\/\/(?:[^;]*;)?(\[[^\]]*\]|[^:]*):/.exec(endpoint);
  if (match === null) return !endpoint.startsWith('tcp://');
  const host = (match[1] ?? '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Log a warning for each bound endpoint other peers can reach (not loopback, ipc or inproc) while
 * the daemon runs without CURVE: anyone who can reach it can talk to it, in clear text.
 */
export function warnPlainBinds(secured: DaemonSecurity, endpoints: readonly string[], logger: Logger): void {
  if (secured.security !== undefined) return;
  for (const endpoint of endpoints) {
    if (isLoopbackEndpoint(endpoint)) continue;
    logger.warn(
      { component: 'security', endpoint },
      'bound beyond loopback without CURVE: anyone who can reach this endpoint may connect, in clear text',
    );
  }
}
