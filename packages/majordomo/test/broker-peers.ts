/**
 * Raw MDP peers for broker tests: plain DEALER sockets speaking MDP by hand through codec.ts,
 * so the broker is checked byte for byte independently of our own client and worker.
 */
import { type Frame } from '@zpatterns/core';
import { frameEquals } from '@zpatterns/core/internal';
import { rawDealer, type RawPeer } from '@zpatterns/testkit';
import type * as zmq from 'zeromq';
import { Broker, type BrokerOptions } from '../src/index.js';
import {
  decodeClientReply,
  decodeFromBroker,
  encodeClientRequest,
  encodeWorkerCommand,
  type ClientReply,
  type MdpVersion,
  type WorkerCommand,
} from '../src/codec.js';

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');
export const strings = (frames: readonly Buffer[]): string[] => frames.map((f) => f.toString('latin1'));

/** A broker bound to an ephemeral loopback port, closed on dispose. */
export async function startBroker(
  options: Partial<BrokerOptions> = {},
): Promise<{ broker: Broker; endpoint: string } & AsyncDisposable> {
  // Raw peers do not heartbeat: 1 s x liveness 3 keeps them registered on a loaded machine; tests
  // of expiry pass a shorter interval.
  const broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 1000, ...options });
  const endpoint = broker.endpoints.clients[0] as string;
  return {
    broker,
    endpoint,
    async [Symbol.asyncDispose]() {
      await broker.close();
    },
  };
}

/** A worker speaking MDP by hand. */
export class RawWorker implements AsyncDisposable {
  readonly peer: RawPeer<zmq.Dealer>;
  readonly version: MdpVersion;

  constructor(endpoint: string, version: MdpVersion = '0.1') {
    this.peer = rawDealer(endpoint);
    this.version = version;
  }

  /** Connect and send READY for `service`. */
  static async ready(endpoint: string, service: string, version: MdpVersion = '0.1'): Promise<RawWorker> {
    const worker = new RawWorker(endpoint, version);
    await worker.send({ type: 'ready', service: b(service) });
    return worker;
  }

  send(command: WorkerCommand): Promise<void> {
    return this.peer.send(encodeWorkerCommand(this.version, command));
  }

  reply(client: Buffer, body: readonly string[], final = true): Promise<void> {
    return this.send({ type: 'reply', client, body: body.map(b), final });
  }

  /** The next command from the broker, decoded (throws on malformed frames). */
  async next(timeoutMs = 3000): Promise<WorkerCommand> {
    const message = await this.peer.receive(timeoutMs);
    const command = decodeFromBroker(this.version, message);
    if (typeof command === 'string') throw new Error(`worker got a malformed message: ${command}`);
    return command;
  }

  /** The next command that is not a HEARTBEAT. */
  async nextNonHeartbeat(timeoutMs = 3000): Promise<WorkerCommand> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const command = await this.next(Math.max(1, until - Date.now()));
      if (command.type !== 'heartbeat') return command;
    }
  }

  /** The next REQUEST, skipping heartbeats. */
  async request(timeoutMs = 3000): Promise<{ client: Buffer; body: Buffer[] }> {
    const command = await this.nextNonHeartbeat(timeoutMs);
    if (command.type !== 'request') throw new Error(`expected REQUEST, got ${command.type}`);
    return command;
  }

  /** Resolve when a DISCONNECT arrives (heartbeats skipped). */
  async expectDisconnect(timeoutMs = 3000): Promise<void> {
    const command = await this.nextNonHeartbeat(timeoutMs);
    if (command.type !== 'disconnect') throw new Error(`expected DISCONNECT, got ${command.type}`);
  }

  /** Serve one request as an echo. */
  async echoOnce(timeoutMs = 3000): Promise<Buffer[]> {
    const { client, body } = await this.request(timeoutMs);
    await this.send({ type: 'reply', client, body, final: true });
    return body;
  }

  close(): Promise<void> {
    return this.peer.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** A client speaking MDP by hand on a DEALER. */
export class RawClient implements AsyncDisposable {
  readonly peer: RawPeer<zmq.Dealer>;
  readonly version: MdpVersion;

  constructor(endpoint: string, version: MdpVersion = '0.1') {
    this.peer = rawDealer(endpoint);
    this.version = version;
  }

  send(service: string, body: readonly Frame[]): Promise<void> {
    return this.peer.send(encodeClientRequest(this.version, b(service), body));
  }

  async receive(timeoutMs = 3000): Promise<ClientReply> {
    const message = await this.peer.receive(timeoutMs);
    const reply = decodeClientReply(this.version, message);
    if (typeof reply === 'string') throw new Error(`client got a malformed reply: ${reply}`);
    return reply;
  }

  /** Send and wait for the FINAL reply; returns the body as strings. */
  async call(service: string, body: readonly Frame[], timeoutMs = 3000): Promise<string[]> {
    await this.send(service, body);
    for (;;) {
      const reply = await this.receive(timeoutMs);
      if (!reply.final) continue;
      if (!frameEquals(reply.service, b(service))) throw new Error('reply for another service');
      return strings(reply.body);
    }
  }

  close(): Promise<void> {
    return this.peer.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
