/**
 * The baseline's server: a bare zeromq.js ROUTER that sends every message straight back, in its
 * own process. No zpatterns code in the path, on purpose.
 */
import * as zmq from 'zeromq';

const router = new zmq.Router({ linger: 0, sendHighWaterMark: 0, receiveHighWaterMark: 0 });
await router.bind(process.argv[2] ?? 'tcp://127.0.0.1:*');
process.stdout.write(`${JSON.stringify({ ready: true, endpoint: router.lastEndpoint })}\n`);
const stop = (): void => router.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
for await (const message of router) {
  await router.send(message);
}
