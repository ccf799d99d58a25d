/**
 * Is anything listening at a peer? A zeromq connect never fails: to a port nothing listens on, it
 * retries quietly for ever, and a request waits out its whole budget saying only "no reply". So a
 * command that timed out (and `zpat services`, before it asks) connects a bare DEALER to each peer
 * and watches the connection: a ZMTP handshake (or a failed one: a CURVE server refusing a plain
 * socket) means a peer is there; a refused connection (`connect:retry` before any handshake) means
 * nothing is. Nothing is sent on the probe, which is closed at once (linger 0).
 *
 *   probe DEALER --connect--> peer     handshake          -> 'listening'
 *                                      connect:retry      -> 'refused'
 *                                      neither in waitMs  -> 'unknown' (a filtered host: the
 *                                                            command's own timeouts apply)
 */
import { Dealer } from 'zeromq';

/** What a probe found at one endpoint. */
export type Reachability = 'listening' | 'refused' | 'unknown';

/** Probe one endpoint for up to `waitMs`. */
export async function probe(endpoint: string, waitMs = 500): Promise<Reachability> {
  const socket = new Dealer({ linger: 0, reconnectInterval: 100 });
  const events = socket.events;
  try {
    return await new Promise<Reachability>((resolve) => {
      const timer = setTimeout(() => resolve('unknown'), waitMs);
      const settle = (result: Reachability): void => {
        clearTimeout(timer);
        resolve(result);
      };
      events.on('handshake', () => settle('listening'));
      events.on('handshake:error:protocol', () => settle('listening'));
      events.on('handshake:error:auth', () => settle('listening'));
      events.on('handshake:error:other', () => settle('listening'));
      events.on('connect:retry', () => settle('refused'));
      try {
        socket.connect(endpoint);
      } catch {
        settle('refused');
      }
    });
  } finally {
    socket.close();
  }
}

/**
 * The endpoints nothing listens on, when that is all of them; `undefined` when at least one
 * answered or could not be told (then the command goes ahead with its own timeouts).
 */
export async function allRefused(endpoints: readonly string[], waitMs = 500): Promise<string[] | undefined> {
  const results = await Promise.all(endpoints.map((endpoint) => probe(endpoint, waitMs)));
  return results.every((r) => r === 'refused') ? [...endpoints] : undefined;
}
