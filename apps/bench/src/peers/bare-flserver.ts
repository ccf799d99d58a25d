/**
 * The floor of a Freelance (model three) server on zeromq.js: a ROUTER whose routing id is its
 * public endpoint, answering PING with PONG and echoing everything else, with no validation or
 * limits. A measuring stick for `flserver` under the book's C `flclient3`, not a server.
 *
 *   node apps/bench/dist/peers/bare-flserver.js [endpoint]   (default tcp://localhost:5555)
 */
import * as zmq from 'zeromq';

const endpoint = process.argv[2] ?? 'tcp://localhost:5555';
const PING = Buffer.from('PING');
const PONG = Buffer.from('PONG');
const router = new zmq.Router({ linger: 0, sendTimeout: 0, routingId: endpoint });
await router.bind(endpoint);
process.stdout.write(`${JSON.stringify({ ready: true, endpoint })}\n`);
const stop = (): void => router.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
const noop = (): void => undefined;
for (;;) {
  let message: Buffer[];
  try {
    message = await router.receive();
  } catch {
    break;
  }
  const control = message[1];
  if (control === undefined) continue;
  router.send(control.equals(PING) ? [message[0] as Buffer, PONG] : message).catch(noop);
}
