/**
 * zpat keygen [--out NAME]: a fresh CURVE key pair in NAME.key (secret, mode 0600) and NAME.pub.
 *
 *   node_modules/.bin/zpat keygen --out broker
 *   # broker.key -> the broker's --curve-secret-key-file
 *   # broker.pub -> the clients' --curve-server-key
 */
import { configureCommand, exitUsage } from '@zpatterns/app-kit';
import { generateKeyPair, saveKeyPair, toError } from '@zpatterns/core';
import type { Command } from 'commander';

interface KeygenFlags {
  out: string;
}

export function registerKeygenCommands(program: Command): void {
  configureCommand(
    program
      .command('keygen')
      .description('write a new CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (public)')
      .option('--out <name>', 'path and base name of the two files', 'curve'),
  ).action((flags: KeygenFlags) => {
    const pair = generateKeyPair();
    try {
      const { secretFile, publicFile } = saveKeyPair(flags.out, pair);
      process.stdout.write(`${JSON.stringify({ secretFile, publicFile, publicKey: pair.publicKey })}\n`);
    } catch (err) {
      const message = toError(err).message;
      const exists = /cannot create (.*?): EEXIST/.exec(message);
      exitUsage(
        'zpat keygen',
        exists === null
          ? message
          : `${exists[1] ?? ''} already exists; zpat keygen never replaces a key (give another --out)`,
      );
    }
  });
}
