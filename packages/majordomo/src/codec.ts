/**
 * The whole Majordomo wire format: 7/MDP (MDP/0.1, the book's), 18/MDP (MDP/0.2, draft) and
 * 8/MMI (in `mmi-codec.ts`, re-exported here). Pure functions, no sockets. Every frame layout
 * below is checked byte for byte by `test/codec.test.ts`.
 *
 * Frames as the application writes them on its DEALER (a ROUTER adds/strips the peer identity):
 *
 * MDP/0.1 client  REQUEST  ["", "MDPC01", service, body...]          (REQ clients omit the "")
 *                 REPLY    ["", "MDPC01", service, body...]
 * MDP/0.2 client  REQUEST  ["MDPC02", 0x01, service, body...]
 *                 PARTIAL  ["MDPC02", 0x02, service, body...]
 *                 FINAL    ["MDPC02", 0x03, service, body...]
 * MDP/0.1 worker  READY    ["", "MDPW01", 0x01, service]
 *                 REQUEST  ["", "MDPW01", 0x02, client, "", body...]
 *                 REPLY    ["", "MDPW01", 0x03, client, "", body...]
 *                 HEARTBEAT["", "MDPW01", 0x04]
 *                 DISCONNECT["", "MDPW01", 0x05]
 * MDP/0.2 worker  READY    ["MDPW02", 0x01, service]
 *                 REQUEST  ["MDPW02", 0x02, client, "", body...]
 *                 PARTIAL  ["MDPW02", 0x03, client, "", body...]
 *                 FINAL    ["MDPW02", 0x04, client, "", body...]
 *                 HEARTBEAT["MDPW02", 0x05]
 *                 DISCONNECT["MDPW02", 0x06]
 */
import { InvalidArgumentError, type Frame } from '@zpatterns/core';
import { EMPTY, frameEquals, toBuffer } from '@zpatterns/core/internal';

export {
  decodeMmiServicesBody,
  encodeMmiServicesBody,
  isMmiService,
  MMI,
  MMI_PREFIX,
  type MmiServiceEntry,
} from './mmi-codec.js';

/** Protocol versions: '0.1' is 7/MDP (the book), '0.2' is 18/MDP (draft, partial replies). */
export type MdpVersion = '0.1' | '0.2';

/** Where the book's broker listens (`tcp://*:5555`); our daemons bind loopback by default. */
export const DEFAULT_BROKER_ENDPOINT = 'tcp://127.0.0.1:5555';

/** Client protocol header of MDP/0.1 (7/MDP), the second frame of every client message. */
export const MDPC01: Buffer = Buffer.from('MDPC01');
/** Worker protocol header of MDP/0.1 (7/MDP). */
export const MDPW01: Buffer = Buffer.from('MDPW01');
/** Client protocol header of MDP/0.2 (18/MDP). */
export const MDPC02: Buffer = Buffer.from('MDPC02');
/** Worker protocol header of MDP/0.2 (18/MDP). */
export const MDPW02: Buffer = Buffer.from('MDPW02');

/** MDP/0.1 worker command bytes (7/MDP). */
export const W01 = { READY: 0x01, REQUEST: 0x02, REPLY: 0x03, HEARTBEAT: 0x04, DISCONNECT: 0x05 } as const;
/** MDP/0.2 worker command bytes (18/MDP). */
export const W02 = {
  READY: 0x01,
  REQUEST: 0x02,
  PARTIAL: 0x03,
  FINAL: 0x04,
  HEARTBEAT: 0x05,
  DISCONNECT: 0x06,
} as const;
/** MDP/0.2 client command bytes (18/MDP). */
export const C02 = { REQUEST: 0x01, PARTIAL: 0x02, FINAL: 0x03 } as const;

/**
 * `message.slice(at)`, with the common one-frame body as an array literal (allocated inline,
 * where `slice()` is a builtin call): decoding does this for every message.
 */
export function framesFrom(message: readonly Buffer[], at: number): Buffer[] {
  return message.length === at + 1 ? [message[at] as Buffer] : message.slice(at);
}

const byte = (value: number): Buffer => Buffer.from([value]);
/** Preallocated single-byte command frames. */
const BYTES: readonly Buffer[] = [0, 1, 2, 3, 4, 5, 6].map(byte);
const cmd = (value: number): Buffer => BYTES[value] as Buffer;
const REQUEST_C02: Buffer = cmd(C02.REQUEST);

// ---------------------------------------------------------------------------------------------
// Client side

/** A client's request, as written on a DEALER (0.1 includes the empty delimiter REQ would add). */
export function encodeClientRequest(version: MdpVersion, service: Frame, body: readonly Frame[]): Frame[] {
  // One body frame (the common case): one literal of the final length, nothing grown.
  if (body.length === 1) {
    const part = body[0] as Frame;
    return version === '0.1' ? [EMPTY, MDPC01, service, part] : [MDPC02, REQUEST_C02, service, part];
  }
  const out: Frame[] = version === '0.1' ? [EMPTY, MDPC01, service] : [MDPC02, REQUEST_C02, service];
  // A loop, not a spread: a client does this for every request.
  for (const part of body) out.push(part);
  return out;
}

/** A reply as the broker's ROUTER sends it to `client` (identity first). */
export function encodeClientReply(
  version: MdpVersion,
  client: Buffer,
  service: Buffer,
  body: readonly Frame[],
  final = true,
): Frame[] {
  const out: Frame[] =
    version === '0.1'
      ? [client, EMPTY, MDPC01, service]
      : [client, MDPC02, cmd(final ? C02.FINAL : C02.PARTIAL), service];
  // A loop, not a spread: the broker does this for every reply.
  for (const part of body) out.push(part);
  return out;
}

/** A reply as the client application reads it from its DEALER. */
export interface ClientReply {
  service: Buffer;
  body: Buffer[];
  /** Always true on 0.1; false for a 0.2 PARTIAL. */
  final: boolean;
}

/**
 * Decode what a client's DEALER received from the broker. Returns a reason string for anything
 * that is not a well-formed reply of `version`.
 */
export function decodeClientReply(version: MdpVersion, message: readonly Buffer[]): ClientReply | string {
  // Indexing, not destructuring (which runs the array iterator): a client does this per reply.
  if (version === '0.1') {
    const empty = message[0];
    const header = message[1];
    const service = message[2];
    if (empty === undefined || empty.length !== 0) return 'missing empty delimiter';
    if (header === undefined || !frameEquals(header, MDPC01)) return 'not an MDPC01 reply';
    if (service === undefined) return 'missing service frame';
    return { service, body: framesFrom(message, 3), final: true };
  }
  const header = message[0];
  const command = message[1];
  const service = message[2];
  if (header === undefined || !frameEquals(header, MDPC02)) return 'not an MDPC02 reply';
  if (service === undefined || command === undefined || command.length !== 1) return 'too few frames';
  if (command[0] !== C02.PARTIAL && command[0] !== C02.FINAL)
    return `unexpected client command 0x${command.toString('hex')}`;
  return { service, body: framesFrom(message, 3), final: command[0] === C02.FINAL };
}

// ---------------------------------------------------------------------------------------------
// Worker side

/** Commands on the worker sub-protocol, version-independent. */
export type WorkerCommand =
  | { readonly type: 'ready'; readonly service: Buffer }
  | { readonly type: 'request'; readonly client: Buffer; readonly body: Buffer[] }
  | { readonly type: 'reply'; readonly client: Buffer; readonly body: Buffer[]; readonly final: boolean }
  | { readonly type: 'heartbeat' }
  | { readonly type: 'disconnect' };

/** The name of a worker command: `'ready'`, `'request'`, `'reply'`, `'heartbeat'` or `'disconnect'`. */
export type WorkerCommandType = WorkerCommand['type'];

/** Encode a worker-protocol command as the sending DEALER writes it (no identity frame). */
export function encodeWorkerCommand(version: MdpVersion, command: WorkerCommand): Frame[] {
  const v1 = version === '0.1';
  const head: Frame[] = v1 ? [EMPTY, MDPW01] : [MDPW02];
  switch (command.type) {
    case 'ready':
      return [...head, cmd(W01.READY), command.service];
    case 'request':
      return [...head, cmd(W01.REQUEST), command.client, EMPTY, ...command.body];
    case 'reply':
      if (v1) {
        if (!command.final) throw new InvalidArgumentError('MDP/0.1 has no partial replies');
        return [...head, cmd(W01.REPLY), command.client, EMPTY, ...command.body];
      }
      return [...head, cmd(command.final ? W02.FINAL : W02.PARTIAL), command.client, EMPTY, ...command.body];
    case 'heartbeat':
      return [...head, cmd(v1 ? W01.HEARTBEAT : W02.HEARTBEAT)];
    case 'disconnect':
      return [...head, cmd(v1 ? W01.DISCONNECT : W02.DISCONNECT)];
  }
}

const REQUEST01: Buffer = cmd(W01.REQUEST);
const REQUEST02: Buffer = cmd(W02.REQUEST);

/**
 * A REQUEST as the broker's ROUTER sends it to `worker` (identity first): the same frames as
 * `[worker, ...encodeWorkerCommand(version, {type: 'request', client, body})]`, built in one array
 * because the broker does it for every request.
 */
export function encodeWorkerRequest(
  version: MdpVersion,
  worker: Buffer,
  client: Buffer,
  body: readonly Buffer[],
): Buffer[] {
  const out =
    version === '0.1' ? [worker, EMPTY, MDPW01, REQUEST01, client, EMPTY] : [worker, MDPW02, REQUEST02, client, EMPTY];
  for (const part of body) out.push(part);
  return out;
}

const REPLY01: Buffer = cmd(W01.REPLY);
const PARTIAL02: Buffer = cmd(W02.PARTIAL);
const FINAL02: Buffer = cmd(W02.FINAL);

/**
 * A worker's REPLY (or 0.2 PARTIAL/FINAL) as its DEALER writes it: the same frames as
 * `encodeWorkerCommand(version, {type: 'reply', client, body, final})`, built in one array
 * because a worker does it for every request. Body frames are converted with `toBuffer`, and an
 * empty body becomes one empty frame (a reply carries at least one body frame).
 */
export function encodeWorkerReply(
  version: MdpVersion,
  client: Buffer,
  body: readonly Frame[] | Frame,
  final = true,
): Buffer[] {
  let out: Buffer[];
  if (version === '0.1') {
    if (!final) throw new InvalidArgumentError('MDP/0.1 has no partial replies');
    out = [EMPTY, MDPW01, REPLY01, client, EMPTY];
  } else {
    out = [MDPW02, final ? FINAL02 : PARTIAL02, client, EMPTY];
  }
  if (!Array.isArray(body)) out.push(toBuffer(body as Frame));
  else if (body.length === 0) out.push(EMPTY);
  else for (const part of body as readonly Frame[]) out.push(toBuffer(part));
  return out;
}

/** Preencoded HEARTBEAT and DISCONNECT, sent often enough to be worth sharing. */
export const WORKER_HEARTBEAT: Readonly<Record<MdpVersion, readonly Frame[]>> = {
  '0.1': encodeWorkerCommand('0.1', { type: 'heartbeat' }),
  '0.2': encodeWorkerCommand('0.2', { type: 'heartbeat' }),
};
/** Preencoded DISCONNECT per protocol version, as a worker's DEALER sends it. */
export const WORKER_DISCONNECT: Readonly<Record<MdpVersion, readonly Frame[]>> = {
  '0.1': encodeWorkerCommand('0.1', { type: 'disconnect' }),
  '0.2': encodeWorkerCommand('0.2', { type: 'disconnect' }),
};

/**
 * Decode a worker-protocol command from the frames after the header (and after the identity on
 * a ROUTER): `rest[0]` is the command byte. Returns a reason string when the frames do not form
 * a valid command.
 */
export function decodeWorkerCommand(version: MdpVersion, rest: readonly Buffer[]): WorkerCommand | string {
  return decodeWorkerCommandAt(version, rest, 0);
}

/** `decodeWorkerCommand(version, message.slice(at))` without copying the frames before `at`. */
function decodeWorkerCommandAt(version: MdpVersion, message: readonly Buffer[], at: number): WorkerCommand | string {
  const command = message[at];
  if (command === undefined) return 'missing command frame';
  if (command.length !== 1) return `command frame of ${command.length} bytes`;
  const count = message.length - at;
  const code = command[0] as number;
  const name = version === '0.1' ? W01_NAMES[code] : W02_NAMES[code];
  switch (name) {
    case 'READY': {
      if (count !== 2) return `READY with ${count - 1} frames after the command, expected 1`;
      const service = message[at + 1] as Buffer;
      if (service.length === 0) return 'READY with an empty service name';
      return { type: 'ready', service };
    }
    case 'REQUEST':
    case 'REPLY':
    case 'PARTIAL':
    case 'FINAL': {
      const client = message[at + 1];
      const empty = message[at + 2];
      if (client === undefined || empty === undefined) return `${name} with too few frames`;
      if (empty.length !== 0) return `${name} without the empty frame after the client address`;
      if (client.length === 0) return `${name} with an empty client address`;
      const body = framesFrom(message, at + 3);
      if (name === 'REQUEST') return { type: 'request', client, body };
      return { type: 'reply', client, body, final: name !== 'PARTIAL' };
    }
    case 'HEARTBEAT':
      return count === 1 ? { type: 'heartbeat' } : 'HEARTBEAT with extra frames';
    case 'DISCONNECT':
      return count === 1 ? { type: 'disconnect' } : 'DISCONNECT with extra frames';
    default:
      return `unknown command 0x${command.toString('hex')}`;
  }
}

const W01_NAMES: Partial<Record<number, 'READY' | 'REQUEST' | 'REPLY' | 'HEARTBEAT' | 'DISCONNECT'>> = {
  [W01.READY]: 'READY',
  [W01.REQUEST]: 'REQUEST',
  [W01.REPLY]: 'REPLY',
  [W01.HEARTBEAT]: 'HEARTBEAT',
  [W01.DISCONNECT]: 'DISCONNECT',
};
const W02_NAMES: Partial<Record<number, 'READY' | 'REQUEST' | 'PARTIAL' | 'FINAL' | 'HEARTBEAT' | 'DISCONNECT'>> = {
  [W02.READY]: 'READY',
  [W02.REQUEST]: 'REQUEST',
  [W02.PARTIAL]: 'PARTIAL',
  [W02.FINAL]: 'FINAL',
  [W02.HEARTBEAT]: 'HEARTBEAT',
  [W02.DISCONNECT]: 'DISCONNECT',
};

/**
 * Decode what a worker's DEALER received from the broker: the header of `version`, then a
 * command. Returns a reason string for anything else.
 */
export function decodeFromBroker(version: MdpVersion, message: readonly Buffer[]): WorkerCommand | string {
  if (version === '0.1') {
    const empty = message[0];
    const header = message[1];
    if (empty === undefined || empty.length !== 0) return 'missing empty delimiter';
    if (header === undefined || !frameEquals(header, MDPW01)) return 'not an MDPW01 command';
    return decodeWorkerCommandAt(version, message, 2);
  }
  const header = message[0];
  if (header === undefined || !frameEquals(header, MDPW02)) return 'not an MDPW02 command';
  return decodeWorkerCommandAt(version, message, 1);
}

// ---------------------------------------------------------------------------------------------
// Broker side: classify what arrives on the shared ROUTER

/** What the broker's ROUTER received, classified by its header frame. */
export type Inbound =
  | {
      readonly kind: 'client';
      readonly version: MdpVersion;
      readonly sender: Buffer;
      readonly service: Buffer;
      readonly body: Buffer[];
    }
  | { readonly kind: 'worker'; readonly version: MdpVersion; readonly sender: Buffer; readonly command: WorkerCommand }
  | {
      readonly kind: 'invalid';
      readonly sender: Buffer | undefined;
      readonly reason: string;
      readonly version?: MdpVersion;
      readonly worker?: boolean;
    };

/**
 * Classify a message read from the broker's ROUTER: `[sender, ...]`. MDP/0.1 always starts with
 * an empty frame after the identity; MDP/0.2 never does, so one ROUTER serves both versions.
 */
export function decodeInbound(message: readonly Buffer[]): Inbound {
  const sender = message[0];
  if (sender === undefined || message.length < 2) return { kind: 'invalid', sender, reason: 'too few frames' };
  const first = message[1] as Buffer;
  let version: MdpVersion;
  let header: Buffer | undefined;
  let at: number;
  if (first.length === 0) {
    version = '0.1';
    header = message[2];
    at = 3;
  } else {
    version = '0.2';
    header = first;
    at = 2;
  }
  if (header === undefined) return { kind: 'invalid', sender, reason: 'missing protocol header' };
  const clientHeader = version === '0.1' ? MDPC01 : MDPC02;
  const workerHeader = version === '0.1' ? MDPW01 : MDPW02;
  if (frameEquals(header, clientHeader)) {
    if (version === '0.2') {
      const command = message[at];
      if (command === undefined || command.length !== 1 || command[0] !== C02.REQUEST) {
        return { kind: 'invalid', sender, version, reason: 'MDPC02 message that is not a REQUEST' };
      }
      at++;
    }
    const service = message[at];
    if (service === undefined) return { kind: 'invalid', sender, version, reason: 'request without a service frame' };
    if (service.length === 0) return { kind: 'invalid', sender, version, reason: 'request with an empty service name' };
    if (message.length <= at + 1) return { kind: 'invalid', sender, version, reason: 'request without a body frame' };
    const body = framesFrom(message, at + 1);
    return { kind: 'client', version, sender, service, body };
  }
  if (frameEquals(header, workerHeader)) {
    const command = decodeWorkerCommandAt(version, message, at);
    if (typeof command === 'string') return { kind: 'invalid', sender, version, worker: true, reason: command };
    return { kind: 'worker', version, sender, command };
  }
  return {
    kind: 'invalid',
    sender,
    reason: `unknown protocol header ${JSON.stringify(header.subarray(0, 16).toString('latin1'))}`,
  };
}

/** Frame as a Buffer (re-exported convenience for callers building bodies). */
export { toBuffer };
