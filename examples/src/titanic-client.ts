#!/usr/bin/env node
/**
 * A Titanic client to copy: hand a request over and go away, come back later for the reply.
 *
 *   node examples/dist/titanic-client.js submit --broker tcp://127.0.0.1:5555 --service echo hello
 *   # prints {"uuid":"..."} once Titanic has the request on disk; nothing more is needed from us
 *   node examples/dist/titanic-client.js collect --broker tcp://127.0.0.1:5555 UUID
 *   # waits for the reply, prints {"uuid":"...","reply":["hello"]}, and closes the request
 *
 * Exit codes: 0 done, 1 failed (e.g. Titanic does not know the UUID), 2 bad arguments.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { TitanicClient } from '@zpatterns/titanic';

const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    broker: { type: 'string', default: 'tcp://127.0.0.1:5555' },
    service: { type: 'string', default: 'echo' },
    'timeout-ms': { type: 'string', default: '60000' },
  },
});
const [command, ...rest] = positionals;
const timeoutMs = Number(flags['timeout-ms']);

function usage(): never {
  process.stderr.write('usage: titanic-client submit [--service S] BODY... | collect UUID\n');
  process.exit(2);
}

// Each TSP call waits up to 2.5 s per attempt and resends 3 times; waitReply polls on through
// calls that time out (Titanic or the broker restarting) until its timeoutMs.
const titanic = await TitanicClient.start({ broker: flags.broker, attemptTimeoutMs: 2500, retries: 3 });
try {
  if (command === 'submit' && rest.length > 0) {
    const uuid = await titanic.submit(flags.service, rest);
    process.stdout.write(`${JSON.stringify({ uuid })}\n`);
  } else if (command === 'collect' && rest.length === 1) {
    const uuid = rest[0] ?? '';
    const reply = await titanic.waitReply(uuid, { timeoutMs });
    // Done with it: Titanic may forget the request and its reply now.
    await titanic.closeRequest(uuid);
    process.stdout.write(`${JSON.stringify({ uuid, reply: reply.map((f) => f.toString('utf8')) })}\n`);
  } else {
    usage();
  }
} catch (err) {
  process.stderr.write(`titanic-client: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await titanic.close();
}
