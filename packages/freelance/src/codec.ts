/**
 * The whole Freelance Protocol (10/FLP) wire format, pure. Client and server are ROUTER to ROUTER;
 * a server's ROUTER routing id is its public endpoint string, so a client addresses it by name.
 *
 *   client ROUTER                                  server ROUTER (routingId = "tcp://host:port")
 *   [server]["PING"]                    ------->   [client]["PING"]
 *   [server]["PONG"]                    <-------   [client]["PONG"]
 *   [server][control][body...]          ------->   [client][control][body...]
 *   [server][control][reply...]         <-------   [client][control][reply...]
 *
 * Frame 0 is the routing envelope that the ROUTER adds (receiving) or strips (sending). The
 * control frame is opaque to the server, which echoes it unchanged; our client puts the request id
 * there as decimal ASCII, as the book's `flcliapi` does with its sequence number (`"%u"`).
 */
import { ProtocolError, type Frame, type Frames, type Message } from '@zpatterns/core';
import { frame, frameEquals, toBuffer } from '@zpatterns/core/internal';

/** The heartbeat command, sent by the client. */
export const PING: Buffer = frame('PING');
/** The heartbeat answer, sent by the server. */
export const PONG: Buffer = frame('PONG');

/** What a server receives on its ROUTER. */
export type ServerInbound =
  | { readonly type: 'ping'; readonly peer: Buffer }
  | { readonly type: 'request'; readonly peer: Buffer; readonly control: Buffer; readonly body: Buffer[] };

/** What a client receives on its ROUTER. */
export type ClientInbound =
  | { readonly type: 'pong'; readonly server: Buffer }
  | { readonly type: 'reply'; readonly server: Buffer; readonly control: Buffer; readonly body: Buffer[] };

/** Client to server: `[server]["PING"]`. */
export function encodePing(server: Frame): Frames {
  return [server, PING];
}

/** Client to server: `[server][control][body...]`. */
export function encodeRequest(server: Frame, control: Frame, body: Frames): Frames {
  return [server, control, ...body];
}

/** Server to client: `[client]["PONG"]`. */
export function encodePong(peer: Frame): Frames {
  return [peer, PONG];
}

/** Server to client: `[client][control][reply...]`, the control frame as received. */
export function encodeReply(peer: Frame, control: Frame, body: Frames): Frames {
  return [peer, control, ...body];
}

/**
 * Decode a message received by a server. A control frame `"PING"` is a heartbeat whatever
 * follows it (as in the book's `flserver3`); anything else is a request. Throws `ProtocolError`
 * when the control frame is missing or empty.
 */
export function decodeServerInbound(message: Message): ServerInbound {
  const problem = serverInboundProblem(message);
  if (problem !== undefined) throw new ProtocolError(problem);
  const [peer, control] = message as [Buffer, Buffer];
  if (frameEquals(control, PING)) return { type: 'ping', peer };
  return { type: 'request', peer, control, body: message.slice(2) };
}

/**
 * Why `message` is not a server's 10/FLP input (`[peer][control][body...]`, control not empty), or
 * `undefined` when it is: the check of `decodeServerInbound`, for a hot path that reads the frames
 * in place.
 */
export function serverInboundProblem(message: Message): string | undefined {
  const [peer, control] = message;
  if (peer === undefined || control === undefined) return 'freelance: missing control frame';
  if (control.length === 0) return 'freelance: empty control frame';
  return undefined;
}

/** Decode a message received by a client. Throws `ProtocolError` when the control frame is missing. */
export function decodeClientInbound(message: Message): ClientInbound {
  const [server, control] = message;
  if (server === undefined || control === undefined) throw new ProtocolError('freelance: missing control frame');
  if (message.length === 2 && frameEquals(control, PONG)) return { type: 'pong', server };
  return { type: 'reply', server, control, body: message.slice(2) };
}

/** The control frame of request `id`: decimal ASCII, like the book's `"%u"` sequence. */
export function encodeRequestId(id: number): Buffer {
  return Buffer.from(String(id), 'latin1');
}

/** The request id in a control frame, or `undefined` when it is not one of ours (not 1..2^53 decimal). */
export function decodeRequestId(control: Frame): number | undefined {
  const bytes = toBuffer(control);
  if (bytes.length === 0 || bytes.length > 16) return undefined;
  let id = 0;
  for (const byte of bytes) {
    if (byte < 0x30 || byte > 0x39) return undefined;
    id = id * 10 + (byte - 0x30);
  }
  return id > 0 && Number.isSafeInteger(id) && bytes[0] !== 0x30 ? id : undefined;
}
