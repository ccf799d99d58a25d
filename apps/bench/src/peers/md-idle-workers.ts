/**
 * Many idle 7/MDP workers in one process, for the `broker-scale` shape of `vs-c`: `count` zeromq.js
 * DEALERs, worker `first + i` registering (READY) for the service `service-<first + i>`, so each
 * service has one worker and none gets a request. Each worker sends HEARTBEAT every 2.5 s (the
 * interval of the book's broker and ours, spread evenly over the interval, not in one burst) and
 * reads whatever the broker sends (its heartbeats). A REQUEST, which a broker that knows one
 * service only (`bare-mdbroker`) may send, is echoed like the C `mdworker` does. None of our code:
 * a load for the broker, not a measurement of its own.
 *
 *   node apps/bench/dist/peers/md-idle-workers.js <endpoint> <count> [first]
 *
 * Prints `{"registered":<count>}` once every worker has heard from the broker (its first
 * heartbeat: the broker has taken its READY), and on SIGTERM/SIGINT one line
 * `idle_workers=<count> heard=<workers that heard from the broker> disconnects=<DISCONNECTs
 * received>` before it exits. A DISCONNECT means the broker dropped an idle worker that was alive.
 *
 * A DEALER holds two file descriptors (its mailbox and its TCP connection): keep `count` under half
 * of `ulimit -n`, and run several of these for more workers.
 */
import * as zmq from 'zeromq';

const endpoint = process.argv[2] ?? 'tcp://127.0.0.1:5555';
const count = Number(process.argv[3] ?? 5000);
const first = Number(process.argv[4] ?? 0);
const HEARTBEAT_MS = 2500;
const TICK_MS = 100;

const EMPTY = Buffer.alloc(0);
const MDPW01 = Buffer.from('MDPW01');
const READY = Buffer.from([0x01]);
const HEARTBEAT = Buffer.from([0x04]);
const REQUEST = 0x02;
const REPLY = Buffer.from([0x03]);
const DISCONNECT = 0x05;

const context = new zmq.Context({ maxSockets: count + 64, ioThreads: 1 });
const sockets: zmq.Dealer[] = [];
const heard = new Uint8Array(count);
let heardCount = 0;
let disconnects = 0;
const noop = (): void => undefined;

async function listen(index: number, socket: zmq.Dealer): Promise<void> {
  for (;;) {
    let message: Buffer[];
    try {
      message = await socket.receive();
    } catch {
      return; // closed
    }
    const command = message[2]?.[0];
    if (command === DISCONNECT) disconnects++;
    // ["", MDPW01, REQUEST, client, "", body...] -> ["", MDPW01, REPLY, client, "", body...]
    if (command === REQUEST) socket.send([EMPTY, MDPW01, REPLY, ...message.slice(3)]).catch(noop);
    if (heard[index] === 0) {
      heard[index] = 1;
      if (++heardCount === count) process.stdout.write(`${JSON.stringify({ registered: count })}\n`);
    }
  }
}

for (let i = 0; i < count; i++) {
  const socket = new zmq.Dealer({ context, linger: 0, sendTimeout: 0 });
  socket.connect(endpoint);
  socket.send([EMPTY, MDPW01, READY, Buffer.from(`service-${first + i}`)]).catch(noop);
  sockets.push(socket);
  void listen(i, socket);
}

// Every tick, the next slice of workers sends HEARTBEAT: each one every HEARTBEAT_MS.
const perTick = Math.ceil(count / (HEARTBEAT_MS / TICK_MS));
let next = 0;
const timer = setInterval(() => {
  for (let k = 0; k < perTick; k++) {
    (sockets[next] as zmq.Dealer).send([EMPTY, MDPW01, HEARTBEAT]).catch(noop);
    next = (next + 1) % count;
  }
}, TICK_MS);

const stop = (): void => {
  clearInterval(timer);
  process.stdout.write(`idle_workers=${count} heard=${heardCount} disconnects=${disconnects}\n`);
  for (const socket of sockets) socket.close();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
