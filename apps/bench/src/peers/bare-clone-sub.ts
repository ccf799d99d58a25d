/**
 * The second subscriber of the `clone` shape's pair floor: a bare zeromq.js SUB on a server's
 * publisher that reads every update and does nothing with it. Beside `bare-clonesrv` it stands for
 * what a Binary Star pair adds to its active server per update: the passive peer follows the
 * active's publisher, so each update is written to two subscribers instead of one. A measuring
 * stick, none of our code.
 *
 *   node bare-clone-sub.js <publisher endpoint>
 */
import * as zmq from 'zeromq';

const endpoint = process.argv[2];
if (endpoint === undefined) throw new Error('usage: bare-clone-sub <publisher endpoint>');
const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 0 });
sub.subscribe();
sub.connect(endpoint);
const stop = (): void => sub.close();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
try {
  for await (const frames of sub) void frames;
} catch {
  // closed
}
