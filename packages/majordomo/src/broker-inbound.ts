/**
 * What the broker does with each message it reads: bound its size, decode it, and route it to the
 * dispatcher (client requests, worker replies), the registry (READY, DISCONNECT, signs of life),
 * MMI (`mmi.*` requests, answered by the broker itself), or drop it as malformed. A peer that
 * breaks the protocol is told DISCONNECT (7/MDP: "treat that peer as invalid").
 */
import type { BrokerContext } from './broker-context.js';
import type { Dispatcher } from './broker-dispatch.js';
import { answerMmi, type MmiView } from './broker-mmi.js';
import type { ServiceQueues } from './broker-queues.js';
import type { WorkerRegistry } from './broker-registry.js';
import {
  C02,
  decodeInbound,
  encodeClientReply,
  framesFrom,
  isMmiService,
  MDPC01,
  MDPC02,
  MDPW01,
  MDPW02,
  W01,
  W02,
  WORKER_DISCONNECT,
  type MdpVersion,
  type MmiServiceEntry,
  type WorkerCommand,
} from './codec.js';
import { isHeader } from './header-frame.js';

export class BrokerInbound {
  readonly #ctx: BrokerContext;
  readonly #queues: ServiceQueues;
  readonly #registry: WorkerRegistry;
  readonly #dispatcher: Dispatcher;
  /** Workers have a ROUTER of their own (`workerBind`): worker commands on the client one are refused. */
  readonly #workerSocket: boolean;

  constructor(
    ctx: BrokerContext,
    queues: ServiceQueues,
    registry: WorkerRegistry,
    dispatcher: Dispatcher,
    workerSocket: boolean,
  ) {
    this.#ctx = ctx;
    this.#queues = queues;
    this.#registry = registry;
    this.#dispatcher = dispatcher;
    this.#workerSocket = workerSocket;
  }

  /** Input on the client ROUTER (clients, and workers too unless they have their own). */
  readonly fromClientSocket = (message: Buffer[]): void => {
    if (!this.#admit(message) || this.#route(message, true, !this.#workerSocket)) return;
    const inbound = decodeInbound(message);
    switch (inbound.kind) {
      case 'client':
        this.#client(inbound.version, inbound.sender, inbound.service, inbound.body);
        return;
      case 'worker':
        if (this.#workerSocket) {
          this.#rejectUnknown(inbound.version, inbound.sender, '', 'worker command on the client endpoint');
          return;
        }
        this.#worker(inbound.version, inbound.sender, inbound.command);
        return;
      case 'invalid':
        this.#malformed(inbound.sender, inbound.reason);
        return;
    }
  };

  /** Input on the worker ROUTER (`workerBind`): worker commands only. */
  readonly fromWorkerSocket = (message: Buffer[]): void => {
    if (!this.#admit(message) || this.#route(message, false, true)) return;
    const inbound = decodeInbound(message);
    if (inbound.kind === 'worker') {
      this.#worker(inbound.version, inbound.sender, inbound.command);
      return;
    }
    this.#malformed(
      inbound.sender,
      inbound.kind === 'client' ? 'client request on the worker endpoint' : inbound.reason,
    );
  };

  /**
   * The two messages of every request, routed without the decoder's result objects: a client
   * REQUEST (when `clients`), and a REPLY (PARTIAL, FINAL) from a registered worker in its own
   * version (when `workers`), each with the checks `decodeInbound` makes. False, having done
   * nothing, for anything else: that takes the decoder's way.
   */
  #route(message: Buffer[], clients: boolean, workers: boolean): boolean {
    const sender = message[0] as Buffer;
    const first = message[1];
    if (first === undefined) return false;
    const v1 = first.length === 0;
    const header = v1 ? message[2] : first;
    let at = v1 ? 3 : 2;
    if (header === undefined) return false;
    if (clients && isHeader(header, v1 ? MDPC01 : MDPC02)) {
      if (!v1) {
        const command = message[at];
        if (command === undefined || command.length !== 1 || command[0] !== C02.REQUEST) return false;
        at++;
      }
      const service = message[at];
      if (service === undefined || service.length === 0 || message.length <= at + 1) return false;
      this.#client(v1 ? '0.1' : '0.2', sender, service, framesFrom(message, at + 1));
      return true;
    }
    if (!workers || !isHeader(header, v1 ? MDPW01 : MDPW02)) return false;
    const command = message[at];
    if (command === undefined || command.length !== 1) return false;
    const code = command[0];
    const final = code === (v1 ? W01.REPLY : W02.FINAL);
    if (!final && (v1 || code !== W02.PARTIAL)) return false;
    const client = message[at + 1];
    const empty = message[at + 2];
    if (client === undefined || client.length === 0 || empty === undefined || empty.length !== 0) return false;
    const worker = this.#registry.find(sender);
    if (worker === undefined || worker.version !== (v1 ? '0.1' : '0.2')) return false;
    const now = this.#ctx.clock.now();
    this.#registry.touch(worker, now);
    this.#dispatcher.reply(worker, client, framesFrom(message, at + 3), final, now);
    return true;
  }

  /** Count the message; false (and dropped) when the broker is closing or it is over the limits. */
  #admit(message: readonly Buffer[]): boolean {
    const ctx = this.#ctx;
    if (!ctx.isOpen()) return false;
    ctx.stats.received++;
    let bytes = 0;
    for (const part of message) bytes += part.length;
    if (message.length <= ctx.options.maxFramesPerMessage && bytes <= ctx.options.maxMessageBytes) return true;
    ctx.stats.malformed++;
    ctx.stats.oversize++;
    const peer = message[0]?.toString('hex');
    ctx.warnings.warn({ peer, frames: message.length, bytes }, 'oversize message dropped');
    const worker = peer === undefined ? undefined : this.#registry.get(peer);
    if (worker !== undefined) this.#dispatcher.remove(worker, 'error');
    return false;
  }

  #malformed(sender: Buffer | undefined, reason: string): void {
    this.#ctx.stats.malformed++;
    const peer = sender?.toString('hex');
    this.#ctx.warnings.warn({ peer, reason }, 'malformed message dropped');
    // 7/MDP: "treat that peer as invalid": a known worker sending garbage is disconnected,
    // whether or not the garbage carried the worker header (the connection is the worker's).
    const worker = peer === undefined ? undefined : this.#registry.get(peer);
    if (worker !== undefined) this.#dispatcher.remove(worker, 'error');
  }

  #client(version: MdpVersion, client: Buffer, name: Buffer, body: Buffer[]): void {
    const ctx = this.#ctx;
    ctx.stats.requests++;
    if (!ctx.options.clientVoter.vote()) {
      // The passive broker of an HA pair: no reply, so the client fails over to the active one.
      ctx.stats.refusedPassive++;
      return;
    }
    if (isMmiService(name)) {
      ctx.stats.mmi++;
      this.#dispatcher.purge(ctx.clock.now());
      ctx.toClient(encodeClientReply(version, client, name, answerMmi(name, body, this.#mmiView), true));
      return;
    }
    this.#dispatcher.request(version, client, name, body, ctx.clock.now());
  }

  readonly #mmiView: MmiView = {
    liveWorkers: (key) => this.#queues.get(key)?.workers ?? 0,
    services: () => {
      const out: MmiServiceEntry[] = [];
      for (const service of this.#queues.values()) out.push({ name: service.name, workers: service.workers });
      return out;
    },
  };

  #worker(version: MdpVersion, sender: Buffer, command: WorkerCommand): void {
    const worker = this.#registry.find(sender);
    if (worker === undefined) {
      this.#unknownWorker(version, sender, sender.toString('hex'), command);
      return;
    }
    // One clock read per message: its liveness, and the times of what it causes.
    const now = this.#ctx.clock.now();
    this.#registry.touch(worker, now);
    if (version !== worker.version) {
      this.#dispatcher.violation(worker, `MDP/${version} command from an MDP/${worker.version} worker`);
      return;
    }
    switch (command.type) {
      case 'reply':
        this.#dispatcher.reply(worker, command.client, command.body, command.final, now);
        return;
      case 'heartbeat':
        return;
      case 'disconnect':
        this.#ctx.stats.disconnectsReceived++;
        this.#dispatcher.remove(worker, 'disconnect');
        return;
      case 'ready':
        this.#dispatcher.violation(worker, 'READY from a registered worker');
        return;
      case 'request':
        this.#dispatcher.violation(worker, 'REQUEST from a worker');
        return;
    }
  }

  #unknownWorker(version: MdpVersion, sender: Buffer, id: string, command: WorkerCommand): void {
    switch (command.type) {
      case 'ready': {
        if (isMmiService(command.service)) {
          // 8/MMI: MUST disconnect a worker registering an mmi.* service. (The book's broker checks
          // the sender identity here instead of the service frame.)
          const name = command.service.toString('latin1');
          this.#rejectUnknown(version, sender, id, `READY for the reserved service ${name}`);
          return;
        }
        const worker = this.#registry.register(version, sender, id, this.#queues.require(command.service));
        this.#dispatcher.registered(worker);
        return;
      }
      case 'disconnect':
        this.#ctx.stats.disconnectsReceived++;
        return;
      case 'reply':
      case 'heartbeat':
      case 'request':
        // 7/MDP: a command other than READY from a worker we do not know: DISCONNECT, so that a
        // worker that outlived its registration (broker restart, expiry) re-registers.
        this.#rejectUnknown(version, sender, id, `${command.type.toUpperCase()} from an unknown worker`);
        return;
    }
  }

  /** DISCONNECT a peer that is no registered worker: on the worker ROUTER, or on the client one (`id` ''). */
  #rejectUnknown(version: MdpVersion, sender: Buffer, id: string, reason: string): void {
    const ctx = this.#ctx;
    ctx.stats.protocolErrors++;
    ctx.stats.disconnectsSent++;
    const onClientSocket = id === '';
    ctx.warnings.warn(
      { peer: onClientSocket ? sender.toString('hex') : id, reason },
      'worker protocol error, DISCONNECT sent',
    );
    const message = [sender, ...WORKER_DISCONNECT[version]];
    if (onClientSocket) ctx.toClient(message);
    else ctx.toWorker(message);
  }
}
