#!/usr/bin/env node
/**
 * A Freelance client to copy: talks to several equivalent servers directly, no broker; a request
 * goes to a live server and, if that one does not answer in time, to the next.
 *
 *   node_modules/.bin/flserver --bind tcp://127.0.0.1:5701 &
 *   node_modules/.bin/flserver --bind tcp://127.0.0.1:5702 &
 *   node_modules/.bin/flserver --bind tcp://127.0.0.1:5703 &
 *   node examples/dist/freelance-client.js --servers tcp://127.0.0.1:5701,tcp://127.0.0.1:5702,tcp://127.0.0.1:5703 --count 10
 *
 * Prints one JSON line per request ({"n":0,"reply":"request-0"}), then a summary with how many
 * requests each server answered. Exit 1 if any request failed.
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { FreelanceClient } from '@zpatterns/freelance';

const { values: flags } = parseArgs({
  options: {
    servers: { type: 'string', default: 'tcp://127.0.0.1:5701,tcp://127.0.0.1:5702,tcp://127.0.0.1:5703' },
    count: { type: 'string', default: '10' },
    strategy: { type: 'string', default: 'round-robin' },
  },
});
const strategy = flags.strategy;
if (strategy !== 'priority' && strategy !== 'round-robin' && strategy !== 'all') {
  process.stderr.write('freelance-client: --strategy is priority, round-robin or all\n');
  process.exit(2);
}

const client = await FreelanceClient.start({ servers: flags.servers.split(','), strategy, timeoutMs: 5000 });
let failed = 0;
try {
  for (let n = 0; n < Number(flags.count); n++) {
    try {
      const [reply] = await client.request([`request-${n}`]);
      process.stdout.write(`${JSON.stringify({ n, reply: reply?.toString('utf8') })}\n`);
    } catch (err) {
      failed++;
      process.stdout.write(`${JSON.stringify({ n, error: (err as Error).message })}\n`);
    }
  }
  const answered = Object.fromEntries(client.servers.map((s) => [s.endpoint, s.replies]));
  process.stdout.write(`${JSON.stringify({ failed, answered })}\n`);
} finally {
  await client.close();
}
process.exitCode = failed === 0 ? 0 : 1;
