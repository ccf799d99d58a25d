/**
 * The frame limit on the sockets a server connects to its peer with (the HUGZ watch, the passive's
 * follower SUB and snapshot DEALER), as its bound sockets have it.
 *
 * libzmq's `maxMessageSize` ends the connection of a peer that announces a frame over the limit,
 * before reading it. On a socket that binds, the peer simply reconnects; on one that connects,
 * libzmq treats it as a protocol error and never reconnects: the link would stay dead. Its
 * monitor shows the difference: a connection lost any other way is followed at once by
 * `connect:retry`, this one by nothing. `watchPeerLink` reports it and reopens the link.
 */
import type * as zmq from 'zeromq';

/** How long after `disconnect` libzmq's own `connect:retry` may come (it is queued right behind). */
const RETRY_GRACE_MS = 500;

/** What a dropped link is logged as. */
export const OVER_LIMIT = 'connection closed by libzmq: a frame over the size limit, or a protocol error';

/**
 * Watch a `socket` (limited with core's `applyPeerLimits`): when libzmq ends its connection to `endpoint` for good (a frame over
 * the limit, or another protocol error), call `onDropped` and, unless `reconnect` is false,
 * connect again. Stops with the socket.
 */
export function watchPeerLink(socket: zmq.Socket, endpoint: string, onDropped: () => void, reconnect = true): void {
  let timer: NodeJS.Timeout | undefined;
  socket.events.on('disconnect', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      if (socket.closed) return;
      onDropped();
      if (!reconnect) return;
      try {
        socket.disconnect(endpoint);
      } catch {
        // already forgotten by libzmq
      }
      socket.connect(endpoint);
    }, RETRY_GRACE_MS);
  });
  const stop = (): void => {
    clearTimeout(timer);
    timer = undefined;
  };
  socket.events.on('connect:retry', stop);
  socket.events.on('connect', stop);
  socket.events.on('end', stop);
}
