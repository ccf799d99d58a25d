/**
 * The Majordomo broker (7/MDP, 18/MDP, 8/MMI): one ROUTER for clients and workers of both protocol
 * versions, services with FIFO request queues and LRU idle workers, heartbeats to every worker,
 * expiry of dead workers (idle or busy) and of requests that waited too long.
 *
 * Hot path, per message: decode, one or two Map lookups, O(1) queue or idle-set operations and one
 * `post()` to the send queue. The handler never awaits. Once per heartbeat interval one timer sends
 * HEARTBEAT to every worker, purges expired workers (`ExpiryList`, amortised O(1)) and expired
 * requests (a `MinHeap` of services keyed by the deadline of their oldest request).
 *
 *   client ──REQUEST──▶ ┌──────────┐ ──REQUEST──▶ worker (longest idle of the service)
 *   client ◀──REPLY──── │  broker  │ ◀──REPLY──── worker  (back to idle, maybe next request)
 *                       │  ROUTER  │ ──HEARTBEAT▶ every worker, each interval
 *   mmi.* ◀──answer──── └──────────┘ ◀─HEARTBEAT─ workers (any message = alive)
 */
import * as zmq from 'zeromq';
import {
  applyBindSecurity,
  bindEndpoint,
  Channel,
  Component,
  componentLogger,
  ExpiryList,
  frameEquals,
  MinHeap,
  type Clock,
  type Frames,
  type Logger,
  type SecurityOptions,
  type ServerSecurity,
  type TimerHandle,
} from '@zpatterns/core';
import { answerMmi, type MmiView } from './broker-mmi.js';
import {
  createBrokerStats,
  endpointList,
  resolveBrokerOptions,
  type BrokerGauges,
  type BrokerOptions,
  type BrokerStats,
  type ResolvedBrokerOptions,
} from './broker-options.js';
import { BrokerService } from './broker-service.js';
import { brokerSnapshot, type BrokerSnapshot } from './broker-snapshot.js';
import { WarningLimiter } from './broker-warnings.js';
import { BrokerWorker, type PendingRequest } from './broker-worker.js';
import { failSpanAs, SpanKinds, startSpan, tracingAvailable } from '@zpatterns/core/internal';
import { BrokerBindError } from './errors.js';
import {
  decodeInbound,
  encodeClientReply,
  encodeWorkerRequest,
  isMmiService,
  type MdpVersion,
  type MmiServiceEntry,
  type WorkerCommand,
  WORKER_DISCONNECT,
} from './protocol.js';

type Worker = BrokerWorker<BrokerService>;

/**
 * The broker's status events, from `broker.status()` (beside `started` and `closed`): workers
 * coming and going, and services gaining their first worker or losing their last.
 */
export type BrokerStatus =
  | {
      readonly type: 'worker-ready';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** The service it registered (latin1). */
      readonly service: string;
      /** The MDP version it speaks. */
      readonly version: MdpVersion;
    }
  | {
      readonly type: 'worker-expired';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** Its service (latin1). */
      readonly service: string;
      /** Silence that expired it: `heartbeatIntervalMs * liveness` or more. */
      readonly silentMs: number;
      /** Whether it held a request (requeued for idempotent services, dropped otherwise). */
      readonly busy: boolean;
    }
  | {
      readonly type: 'worker-removed';
      /** The worker's routing id, hex. */
      readonly worker: string;
      /** Its service (latin1). */
      readonly service: string;
      /** Why: it sent DISCONNECT, became unreachable, or broke the protocol. */
      readonly reason: string;
    }
  | {
      readonly type: 'service-available';
      /** The service (latin1) that now has a live worker after having none. */
      readonly service: string;
    }
  | {
      readonly type: 'service-unavailable';
      /** The service (latin1) whose last worker went. */
      readonly service: string;
      /** Its requests still queued (they wait for a new worker until `requestTtlMs`). */
      readonly queued: number;
    };

/**
 * The Majordomo broker (7/MDP and 18/MDP, with 8/MMI): one ROUTER for clients and workers of both
 * protocol versions. Requests queue per service (FIFO) and go to the service's longest-idle worker;
 * the broker heartbeats every worker, forgets dead ones (idle or busy) after `liveness` silent
 * intervals, and drops requests that waited `requestTtlMs`.
 *
 * `new Broker({ bind })` checks the options (throws `MajordomoOptionsError`) and opens nothing.
 * `start()` binds every `bind` (and `workerBind`) endpoint and resolves once the broker is bound
 * and serving (rejects with `BrokerBindError`); `endpoints` then holds the endpoints bound.
 * `close()` tells every worker DISCONNECT and closes the sockets. `status()` reports workers and
 * services coming and going (`BrokerStatus`).
 */
export class Broker extends Component<BrokerStatus> {
  readonly #stats: BrokerStats = createBrokerStats();
  readonly #options: ResolvedBrokerOptions;
  readonly #bind: readonly string[];
  readonly #workerBind: readonly string[];
  /** CURVE + ZAP of the ROUTER, when `security` is set. */
  #security: ServerSecurity | undefined;
  readonly #log: Logger;
  readonly #debug: boolean;
  readonly #clock: Clock;
  readonly #warnings: WarningLimiter;
  /** Separate budget for worker expiry lines, so a flood of garbage cannot hide them. */
  readonly #workerWarnings: WarningLimiter;
  /** Refusals at `maxQueuedBytes`: one line per second at most, with the figures. */
  readonly #overloadWarnings: WarningLimiter;
  #socket: zmq.Router | undefined;
  /** The client ROUTER's channel; set by `onStart`. */
  #channel!: Channel<zmq.Router>;
  /**
   * Where worker commands go: the one ROUTER (the book's design), or the second ROUTER for workers
   * when `workerBind` is set (then worker commands on the client ROUTER get DISCONNECT).
   */
  #workerChannel!: Channel<zmq.Router>;
  #workerSocket: zmq.Router | undefined;
  #workerSecurity: ServerSecurity | undefined;
  readonly #workerEndpoints: string[] = [];
  readonly #securityOptions: SecurityOptions | undefined;
  readonly #workerSecurityOptions: SecurityOptions | undefined;
  /** True from the first socket's creation until `onClose` begins: input is handled. */
  #open = false;
  /** True once `onStart` has bound everything: only a broker that served logs stats at close. */
  #served = false;
  readonly #services = new Map<string, BrokerService>();
  /** The service `#requireService()` found last. */
  #lastService: BrokerService | undefined;
  readonly #workers = new Map<string, Worker>();
  /** Workers in order of their last message: the head expires first. */
  readonly #liveness: ExpiryList<string, Worker>;
  /** Services with queued requests, keyed by the deadline of their oldest one (lazy deletion). */
  readonly #requestExpiry = new MinHeap<BrokerService>();
  readonly #idempotent: ReadonlySet<string>;
  readonly #endpoints: string[] = [];
  /** Bytes of every queued request (bodies, client identity, a fixed overhead), all services. */
  #queuedBytes = 0;
  /** The same per client (routing id, latin1), for `maxQueuedBytesPerClient`; 0 is deleted. */
  readonly #clientBytes = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #lastStatsAt: number;

  constructor(options: BrokerOptions) {
    super();
    const resolved = resolveBrokerOptions(options);
    this.#bind = endpointList('bind', options.bind, true);
    this.#workerBind = endpointList('workerBind', options.workerBind, false);
    this.#options = resolved;
    this.#clock = resolved.clock;
    this.#log = componentLogger(resolved.logger, { component: 'broker' });
    this.#debug = this.#log.isLevelEnabled('debug');
    this.#warnings = new WarningLimiter(this.#log, this.#clock, resolved.maxWarningsPerSecond);
    this.#workerWarnings = new WarningLimiter(this.#log, this.#clock, resolved.maxWarningsPerSecond);
    this.#overloadWarnings = new WarningLimiter(this.#log, this.#clock, 1);
    this.#liveness = new ExpiryList(resolved.heartbeatIntervalMs * resolved.liveness);
    this.#idempotent = new Set(resolved.idempotentServices);
    this.#lastStatsAt = this.#clock.now();
    this.#securityOptions = options.security;
    this.#workerSecurityOptions = options.workerSecurity;
  }

  /** A ROUTER with the broker's settings, and its CURVE side when `security` is set. */
  #router(security: SecurityOptions | undefined): [zmq.Router, ServerSecurity | undefined] {
    const o = this.#options;
    // mandatory + sendTimeout 0: a send to a vanished peer (EHOSTUNREACH) or to one at its
    // high-water mark (EAGAIN) fails at once and is counted, instead of stalling the send queue.
    const socket = new zmq.Router({
      mandatory: true,
      sendTimeout: 0,
      linger: o.lingerMs,
      sendHighWaterMark: o.sendHighWaterMark,
      receiveHighWaterMark: o.receiveHighWaterMark,
    });
    return [socket, applyBindSecurity(socket, security, o.logger)];
  }

  #newChannel(socket: zmq.Router, name: string): Channel<zmq.Router> {
    return new Channel(socket, {
      name,
      logger: this.#options.logger,
      directSend: true,
      onSendError: (err, message) => {
        this.#onSendError(err, message);
      },
    });
  }

  /** Create the ROUTER(s), bind every `bind` and `workerBind` endpoint, start the heartbeat timer. */
  protected async onStart(): Promise<void> {
    const [socket, security] = this.#router(this.#securityOptions);
    this.#socket = socket;
    this.#security = security;
    this.#channel = this.#newChannel(socket, 'broker');
    this.#workerChannel = this.#channel;
    if (this.#workerBind.length > 0) {
      const [workerSocket, workerSecurity] = this.#router(this.#workerSecurityOptions ?? this.#securityOptions);
      this.#workerSocket = workerSocket;
      this.#workerSecurity = workerSecurity;
      this.#workerChannel = this.#newChannel(workerSocket, 'broker-workers');
    }
    this.#open = true;
    void this.#channel.start(this.#onMessage);
    if (this.#workerSocket !== undefined) void this.#workerChannel.start(this.#onWorkerSocketMessage);
    for (const endpoint of this.#workerBind) {
      const bound = await this.#bindTo(this.#workerSocket as zmq.Router, this.#workerSecurity, endpoint);
      this.#workerEndpoints.push(bound);
      this.#log.info({ endpoint: bound }, 'broker bound for workers');
    }
    for (const endpoint of this.#bind) {
      const bound = await this.#bindTo(socket, security, endpoint);
      this.#endpoints.push(bound);
      this.#log.info({ endpoint: bound }, 'broker bound');
    }
    this.#lastStatsAt = this.#clock.now();
    this.#served = true;
    this.#schedule();
  }

  async #bindTo(socket: zmq.Router, security: ServerSecurity | undefined, endpoint: string): Promise<string> {
    try {
      await security?.ready();
      return await bindEndpoint(socket, endpoint);
    } catch (err) {
      throw new BrokerBindError(endpoint, { cause: err });
    }
  }

  /** The worker ROUTER's CURVE side, when `workerBind` made one with CURVE. */
  get workerSecurity(): ServerSecurity | undefined {
    return this.#workerSecurity;
  }

  /** Every endpoint bound for workers (`workerBind`, ports chosen by the kernel filled in). */
  get workerEndpoints(): readonly string[] {
    return this.#workerEndpoints;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): BrokerStats {
    return { ...this.#stats };
  }

  /** Input on the worker ROUTER: worker commands only. */
  readonly #onWorkerSocketMessage = (message: Buffer[]): void => {
    if (!this.#open) return;
    this.#stats.received++;
    if (message.length > this.#options.maxFramesPerMessage || this.#tooManyBytes(message)) {
      this.#onOversize(message);
      return;
    }
    const inbound = decodeInbound(message);
    if (inbound.kind === 'worker') {
      this.#onWorker(inbound.version, inbound.sender, inbound.command);
      return;
    }
    this.#stats.malformed++;
    const peer = inbound.sender?.toString('hex');
    const reason = inbound.kind === 'client' ? 'client request on the worker endpoint' : inbound.reason;
    this.#warnings.warn({ peer, reason }, 'malformed message dropped');
    const worker = peer === undefined ? undefined : this.#workers.get(peer);
    if (worker !== undefined) this.#removeWorker(worker, `invalid command: ${reason}`, true);
  };

  /**
   * Bind one more client endpoint on the running broker; resolves with the endpoint actually bound
   * (port chosen by the kernel). Rejects with `NotStartedError` before `start()`, `ClosedError`
   * after `close()`, `BrokerBindError` when the bind fails.
   */
  async bind(endpoint: string): Promise<string> {
    this.assertRunning();
    const bound = await this.#bindTo(this.#socket as zmq.Router, this.#security, endpoint);
    this.#endpoints.push(bound);
    this.#log.info({ endpoint: bound }, 'broker bound');
    return bound;
  }

  /**
   * The broker's CURVE side: ZAP counters (`stats.allowed`/`denied`) and `reload()` of its
   * allow-list. `undefined` when the broker is plain.
   */
  get security(): ServerSecurity | undefined {
    return this.#security;
  }

  /** Every client endpoint bound so far (ports chosen by the kernel filled in). */
  get endpoints(): readonly string[] {
    return this.#endpoints;
  }

  /** What the broker holds now: services, workers (idle/busy), queued requests. O(services). */
  gauges(): BrokerGauges {
    let idleWorkers = 0;
    let queuedRequests = 0;
    for (const service of this.#services.values()) {
      idleWorkers += service.idle.size;
      queuedRequests += service.queue.length;
    }
    return {
      services: this.#services.size,
      workers: this.#workers.size,
      idleWorkers,
      busyWorkers: this.#workers.size - idleWorkers,
      queuedRequests,
      queuedBytes: this.#queuedBytes,
    };
  }

  /** Services, workers and clients with queued work, now (for a status page). O(services + workers + queued). */
  snapshot(): BrokerSnapshot {
    return brokerSnapshot(this.#services.values(), this.#workers.values(), this.#clock.now());
  }

  /** Log one info line with the counters and gauges (and the ZAP counters under CURVE). */
  logStats(): void {
    const zap = this.#security === undefined ? {} : { zap: { ...this.#security.stats } };
    this.#log.info({ stats: this.stats, ...this.gauges(), ...zap }, 'broker stats');
  }

  /**
   * Stop (on `close()`): no more input is handled, every worker gets DISCONNECT (so it re-registers
   * elsewhere at once), queued sends are flushed within `lingerMs`, the sockets and the timer are
   * closed. Queued and in-flight requests are dropped.
   */
  protected async onClose(): Promise<void> {
    this.#open = false;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#socket === undefined) return;
    for (const worker of this.#workers.values()) {
      this.#workerChannel.post(worker.disconnect);
      this.#stats.disconnectsSent++;
    }
    this.#warnings.flush();
    this.#workerWarnings.flush();
    this.#overloadWarnings.flush();
    if (this.#served) this.logStats();
    await Promise.all([
      this.#channel.drain(),
      this.#workerSocket === undefined ? undefined : this.#workerChannel.drain(),
    ]);
    this.#workers.clear();
    this.#services.clear();
    await this.#security?.release();
    await this.#workerSecurity?.release();
    this.#queuedBytes = 0;
    this.#clientBytes.clear();
  }

  // -------------------------------------------------------------------------------------------
  // Inbound

  readonly #onMessage = (message: Buffer[]): void => {
    if (!this.#open) return;
    this.#stats.received++;
    const options = this.#options;
    if (message.length > options.maxFramesPerMessage || this.#tooManyBytes(message)) {
      this.#onOversize(message);
      return;
    }
    const inbound = decodeInbound(message);
    switch (inbound.kind) {
      case 'client':
        this.#onClient(inbound.version, inbound.sender, inbound.service, inbound.body);
        return;
      case 'worker':
        if (this.#workerSocket !== undefined) {
          this.#rejectUnknown(inbound.version, inbound.sender, '', 'worker command on the client endpoint');
          return;
        }
        this.#onWorker(inbound.version, inbound.sender, inbound.command);
        return;
      case 'invalid': {
        this.#stats.malformed++;
        const peer = inbound.sender?.toString('hex');
        this.#warnings.warn({ peer, reason: inbound.reason }, 'malformed message dropped');
        // 7/MDP: "treat that peer as invalid": a known worker sending garbage is disconnected,
        // whether or not the garbage carried the worker header (the connection is the worker's).
        const worker = peer === undefined ? undefined : this.#workers.get(peer);
        if (worker !== undefined) this.#removeWorker(worker, `invalid command: ${inbound.reason}`, true);
        return;
      }
    }
  };

  #tooManyBytes(message: readonly Buffer[]): boolean {
    let bytes = 0;
    for (const part of message) bytes += part.length;
    return bytes > this.#options.maxMessageBytes;
  }

  #onOversize(message: readonly Buffer[]): void {
    this.#stats.malformed++;
    this.#stats.oversize++;
    const peer = message[0]?.toString('hex');
    let bytes = 0;
    for (const part of message) bytes += part.length;
    this.#warnings.warn({ peer, frames: message.length, bytes }, 'oversize message dropped');
    const worker = peer === undefined ? undefined : this.#workers.get(peer);
    if (worker !== undefined) this.#removeWorker(worker, 'oversize message', true);
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  #onClient(version: MdpVersion, client: Buffer, name: Buffer, body: Buffer[]): void {
    this.#stats.requests++;
    if (!this.#options.clientVoter.vote()) {
      // The passive broker of an HA pair: no reply, so the client fails over to the active one.
      this.#stats.refusedPassive++;
      return;
    }
    if (isMmiService(name)) {
      this.#onMmi(version, client, name, body);
      return;
    }
    const service = this.#requireService(name);
    service.requests++;
    this.#options.observer.request?.(service.key);
    const now = this.#clock.now();
    const request: PendingRequest = {
      client,
      version,
      body,
      arrivedAt: now,
      deadline: now + this.#options.requestTtlMs,
      bytes: requestBytes(client, body),
      clientKey: undefined,
      span: tracingAvailable
        ? startSpan('@zpatterns/majordomo', service.key, SpanKinds.internal, {
            'rpc.system': 'majordomo',
            'rpc.service': service.key,
          })
        : undefined,
    };
    if (service.idle.size > 0) {
      const worker = this.#takeIdle(service);
      if (worker !== undefined) {
        this.#sendRequest(worker, request);
        return;
      }
      // Every idle worker had expired; removing the last one may have removed the service too.
      this.#enqueue(this.#requireService(name), request);
      return;
    }
    this.#enqueue(service, request);
  }

  #requireService(name: Buffer): BrokerService {
    // Consecutive messages mostly name the same service: compare bytes before making a key.
    const last = this.#lastService;
    if (last !== undefined && frameEquals(last.name, name) && this.#services.get(last.key) === last) return last;
    const key = name.toString('latin1');
    let service = this.#services.get(key);
    if (service === undefined) {
      service = new BrokerService(name, key, this.#idempotent.has(key));
      this.#services.set(key, service);
      if (this.#debug) this.#log.debug({ service: key }, 'service created');
    }
    this.#lastService = service;
    return service;
  }

  /**
   * Queue a new request, unless the queued bytes of all services would pass `maxQueuedBytes`: then
   * the new request is refused (counted, one rate-limited warning) and the accepted ones are kept.
   * MDP has no error reply, so the client's own timeout reports a refusal.
   */
  #enqueue(service: BrokerService, request: PendingRequest): void {
    const limit = this.#options.maxQueuedBytes;
    const clientBytes = this.#clientBytes.get(clientKey(request)) ?? 0;
    if (clientBytes + request.bytes > this.#options.maxQueuedBytesPerClient) {
      this.#refuseClientShare(service, request, clientBytes);
      if (request.span !== undefined) failSpanAs(request.span, 'refused', 'the client has its share of the queue');
      return;
    }
    if (this.#queuedBytes + request.bytes > limit) {
      this.#stats.refusedRequests++;
      if (request.span !== undefined) failSpanAs(request.span, 'refused', 'the queue holds maxQueuedBytes');
      this.#overloadWarnings.warn(
        {
          service: service.key,
          queuedBytes: this.#queuedBytes,
          requestBytes: request.bytes,
          maxQueuedBytes: limit,
          queuedRequests: service.queue.length,
          refusedRequests: this.#stats.refusedRequests,
        },
        'queued bytes at maxQueuedBytes, new request refused',
      );
      this.#maybeDropService(service);
      return;
    }
    this.#charge(request, 1);
    service.queue.push(request);
    this.#scheduleExpiry(service);
  }

  /** One client is at its share of the queue bound: refuse its new request, keep the others'. */
  #refuseClientShare(service: BrokerService, request: PendingRequest, clientBytes: number): void {
    this.#stats.refusedRequests++;
    this.#stats.refusedClientShare++;
    this.#overloadWarnings.warn(
      {
        service: service.key,
        client: request.client.toString('hex'),
        clientQueuedBytes: clientBytes,
        maxQueuedBytesPerClient: this.#options.maxQueuedBytesPerClient,
        refusedRequests: this.#stats.refusedRequests,
      },
      'client at its share of the queue, its new request refused',
    );
    this.#maybeDropService(service);
  }

  /** Count a request in (`sign` 1) or out (-1) of the queued bytes, overall and per client. */
  #charge(request: PendingRequest, sign: 1 | -1): void {
    this.#queuedBytes += sign * request.bytes;
    const client = clientKey(request);
    const bytes = (this.#clientBytes.get(client) ?? 0) + sign * request.bytes;
    if (bytes > 0) this.#clientBytes.set(client, bytes);
    else this.#clientBytes.delete(client);
  }

  #dequeue(service: BrokerService): PendingRequest | undefined {
    const request = service.queue.shift();
    if (request !== undefined) this.#charge(request, -1);
    return request;
  }

  #onMmi(version: MdpVersion, client: Buffer, name: Buffer, body: Buffer[]): void {
    this.#stats.mmi++;
    this.#purgeWorkers(this.#clock.now());
    const reply = answerMmi(name, body, this.#mmiView);
    this.#channel.post(encodeClientReply(version, client, name, reply, true));
  }

  readonly #mmiView: MmiView = {
    liveWorkers: (key) => this.#services.get(key)?.workers ?? 0,
    services: () => {
      const out: MmiServiceEntry[] = [];
      for (const service of this.#services.values()) out.push({ name: service.name, workers: service.workers });
      return out;
    },
  };

  // -------------------------------------------------------------------------------------------
  // Workers

  #onWorker(version: MdpVersion, sender: Buffer, command: WorkerCommand): void {
    const id = sender.toString('hex');
    const worker = this.#workers.get(id);
    if (worker === undefined) {
      this.#onUnknownWorker(version, sender, id, command);
      return;
    }
    this.#liveness.touch(id, worker, this.#clock.now());
    if (version !== worker.version) {
      this.#violation(worker, `MDP/${version} command from an MDP/${worker.version} worker`);
      return;
    }
    switch (command.type) {
      case 'reply':
        this.#onReply(worker, command.client, command.body, command.final);
        return;
      case 'heartbeat':
        return;
      case 'disconnect':
        this.#stats.disconnectsReceived++;
        this.#removeWorker(worker, 'worker disconnected', false);
        return;
      case 'ready':
        this.#violation(worker, 'READY from a registered worker');
        return;
      case 'request':
        this.#violation(worker, 'REQUEST from a worker');
        return;
    }
  }

  #onUnknownWorker(version: MdpVersion, sender: Buffer, id: string, command: WorkerCommand): void {
    switch (command.type) {
      case 'ready': {
        if (isMmiService(command.service)) {
          // 8/MMI: MUST disconnect a worker registering an mmi.* service. (The book's broker checks
          // the sender identity here instead of the service frame.)
          this.#rejectUnknown(
            version,
            sender,
            id,
            `READY for the reserved service ${command.service.toString('latin1')}`,
          );
          return;
        }
        this.#register(version, sender, id, command.service);
        return;
      }
      case 'disconnect':
        this.#stats.disconnectsReceived++;
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
    this.#stats.protocolErrors++;
    this.#stats.disconnectsSent++;
    const onClientSocket = id === '';
    this.#warnings.warn(
      { peer: onClientSocket ? sender.toString('hex') : id, reason },
      'worker protocol error, DISCONNECT sent',
    );
    (onClientSocket ? this.#channel : this.#workerChannel).post([sender, ...WORKER_DISCONNECT[version]]);
  }

  #register(version: MdpVersion, sender: Buffer, id: string, name: Buffer): void {
    const service = this.#requireService(name);
    const worker: Worker = new BrokerWorker(id, Buffer.from(sender), version, service);
    this.#workers.set(id, worker);
    this.#liveness.touch(id, worker, this.#clock.now());
    service.workers++;
    this.#stats.workersRegistered++;
    this.#log.info({ worker: id, service: service.key, version }, 'worker ready');
    this.emit({ type: 'worker-ready', worker: id, service: service.key, version });
    if (service.workers === 1) this.emit({ type: 'service-available', service: service.key });
    this.#workerIdle(worker);
  }

  #onReply(worker: Worker, client: Buffer, body: Buffer[], final: boolean): void {
    const request = worker.request;
    if (request === undefined) {
      this.#violation(worker, 'reply from a worker that holds no request');
      return;
    }
    if (!frameEquals(client, request.client)) {
      this.#violation(worker, 'reply for a client other than the request in hand');
      return;
    }
    if (!final) {
      if (request.version === '0.2') {
        this.#stats.partials++;
        this.#channel.post(encodeClientReply('0.2', request.client, worker.service.name, body, false));
      } else {
        this.#stats.partialsDropped++;
      }
      return;
    }
    this.#stats.replies++;
    worker.served++;
    request.span?.end();
    this.#options.observer.reply?.(worker.service.key, this.#clock.now() - request.arrivedAt);
    this.#channel.post(encodeClientReply(request.version, request.client, worker.service.name, body, true));
    this.#workerIdle(worker);
  }

  /** The worker has nothing in hand: give it the oldest queued request, or park it as idle. */
  #workerIdle(worker: Worker): void {
    const service = worker.service;
    const next = this.#dequeue(service);
    if (next !== undefined) {
      this.#sendRequest(worker, next);
      return;
    }
    worker.transition({ state: 'idle' }, this.#debug ? this.#log : undefined);
    worker.idleSince = this.#clock.now();
    service.idle.set(worker.id, worker);
  }

  /** The longest-idle live worker of `service`, taken out of the idle set. */
  #takeIdle(service: BrokerService): Worker | undefined {
    const now = this.#clock.now();
    for (;;) {
      const worker = service.popIdle();
      if (worker === undefined) return undefined;
      const expiresAt = this.#liveness.expiresAt(worker.id);
      if (expiresAt !== undefined && expiresAt > now) return worker;
      this.#expireWorker(worker);
    }
  }

  #sendRequest(worker: Worker, request: PendingRequest): void {
    worker.transition({ state: 'busy', request }, this.#debug ? this.#log : undefined);
    worker.busySince = this.#clock.now();
    // The queue time, as an event on the request's span: waiting for a worker ends here.
    request.span?.addEvent('dispatched', {
      'majordomo.queue_time_ms': worker.busySince - request.arrivedAt,
      'majordomo.worker': worker.id,
    });
    this.#stats.dispatched++;
    this.#workerChannel.post(encodeWorkerRequest(worker.version, worker.identity, request.client, request.body));
  }

  /** Hand queued requests of `service` to its idle workers (after a requeue). */
  #dispatch(service: BrokerService): void {
    while (service.queue.length > 0 && service.idle.size > 0) {
      const worker = this.#takeIdle(service);
      const request = worker === undefined ? undefined : this.#dequeue(service);
      if (worker === undefined || request === undefined) return;
      this.#sendRequest(worker, request);
    }
  }

  #violation(worker: Worker, reason: string): void {
    this.#stats.protocolErrors++;
    this.#warnings.warn(
      { worker: worker.id, service: worker.service.key, reason },
      'worker protocol error, DISCONNECT sent',
    );
    this.#removeWorker(worker, reason, true);
  }

  #expireWorker(worker: Worker): void {
    this.#stats.expiredWorkers++;
    const silentMs = this.#options.heartbeatIntervalMs * this.#options.liveness;
    this.#workerWarnings.warn(
      { worker: worker.id, service: worker.service.key, busy: worker.request !== undefined, silentMs },
      'worker expired',
    );
    this.emit({
      type: 'worker-expired',
      worker: worker.id,
      service: worker.service.key,
      silentMs,
      busy: worker.request !== undefined,
    });
    // The DISCONNECT tells a worker that is alive but was too slow to re-register.
    this.#removeWorker(worker, 'expired', true);
  }

  /**
   * Take `worker` out of every table. Its request in hand, if any, is requeued at the head of the
   * queue when the service is idempotent, and dropped with a log line otherwise.
   */
  #removeWorker(worker: Worker, reason: string, sendDisconnect: boolean, unsent = false): void {
    if (worker.state.state === 'removed') return;
    const request = worker.request;
    const service = worker.service;
    this.#workers.delete(worker.id);
    this.#liveness.delete(worker.id);
    service.idle.delete(worker.id);
    service.workers--;
    worker.transition({ state: 'removed', reason }, this.#debug ? this.#log : undefined);
    if (this.#open) {
      if (reason !== 'expired') this.emit({ type: 'worker-removed', worker: worker.id, service: service.key, reason });
      if (service.workers === 0) {
        this.emit({ type: 'service-unavailable', service: service.key, queued: service.queue.length });
      }
    }
    if (sendDisconnect && this.#open) {
      this.#stats.disconnectsSent++;
      this.#workerChannel.post(worker.disconnect);
    }
    if (request !== undefined) {
      // A request whose REQUEST never left the broker can be requeued whatever the service.
      if (service.idempotent || unsent) {
        this.#stats.requeued++;
        if (unsent) this.#stats.requeuedUnsent++;
        // Already accepted: put back even past maxQueuedBytes.
        this.#charge(request, 1);
        service.queue.unshift(request);
        this.#scheduleExpiry(service);
        this.#log.info({ worker: worker.id, service: service.key, reason }, 'in-flight request requeued');
        this.#dispatch(service);
      } else {
        this.#stats.droppedRequests++;
        this.#stats.lostInFlight++;
        if (request.span !== undefined) failSpanAs(request.span, 'lost', `lost with its worker: ${reason}`);
        this.#workerWarnings.warn(
          { worker: worker.id, service: service.key, client: request.client.toString('hex'), reason },
          'in-flight request lost with its worker (service not idempotent; the client retries)',
        );
      }
    }
    if (this.#debug) this.#log.debug({ worker: worker.id, service: service.key, reason }, 'worker removed');
    this.#maybeDropService(service);
  }

  #maybeDropService(service: BrokerService): void {
    if (service.unused && this.#services.get(service.key) === service) {
      this.#services.delete(service.key);
      if (this.#debug) this.#log.debug({ service: service.key }, 'service removed');
    }
  }

  #onSendError(err: Error, message: Frames): void {
    this.#stats.sendFailures++;
    const code = (err as { code?: unknown }).code;
    const identity = message[0];
    const peer = identity === undefined ? undefined : Buffer.from(identity as Uint8Array).toString('hex');
    const worker = peer === undefined || !this.#open ? undefined : this.#workers.get(peer);
    // The failed message is the REQUEST the worker holds (the very client frame is in it): the
    // worker never got it. Requeue it at the head for the next worker, whatever the service, and
    // remove the worker: gone (EHOSTUNREACH) or not reading (EAGAIN), it must not stay busy.
    const request = worker?.request;
    if (worker !== undefined && request !== undefined && message.includes(request.client)) {
      if (code === 'EHOSTUNREACH') this.#stats.unreachableWorkers++;
      this.#log.info(
        { worker: worker.id, service: worker.service.key, code },
        'request could not be sent to its worker: requeued, worker removed',
      );
      this.#removeWorker(
        worker,
        code === 'EHOSTUNREACH' ? 'unreachable' : 'send failed',
        code !== 'EHOSTUNREACH',
        true,
      );
      return;
    }
    if (code !== 'EHOSTUNREACH') {
      // EAGAIN: the peer is at its high-water mark and the message is lost; worth a warning.
      this.#warnings.warn({ peer, code }, 'send failed, message dropped');
      return;
    }
    // EHOSTUNREACH: the peer has disconnected, which is normal (a client that gave up, a worker
    // that died). A worker is removed at once instead of after its liveness timeout.
    if (worker === undefined) {
      if (this.#debug) this.#log.debug({ peer }, 'peer gone, message dropped');
      return;
    }
    this.#stats.unreachableWorkers++;
    this.#log.info({ worker: worker.id, service: worker.service.key }, 'worker disconnected, removed');
    this.#removeWorker(worker, 'unreachable', false);
  }

  // -------------------------------------------------------------------------------------------
  // Time: heartbeats, worker expiry, request expiry

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(this.#tick, this.#options.heartbeatIntervalMs);
  }

  readonly #tick = (): void => {
    if (!this.#open) return;
    const now = this.#clock.now();
    this.#purgeWorkers(now);
    this.#expireRequests(now);
    for (const worker of this.#workers.values()) {
      this.#workerChannel.post(worker.heartbeat);
    }
    this.#stats.heartbeatsSent += this.#workers.size;
    const statsIntervalMs = this.#options.statsIntervalMs;
    if (statsIntervalMs > 0 && now - this.#lastStatsAt >= statsIntervalMs) {
      this.#lastStatsAt = now;
      this.logStats();
    }
    this.#warnings.flush();
    this.#workerWarnings.flush();
    this.#overloadWarnings.flush();
    this.#schedule();
  };

  #purgeWorkers(now: number): void {
    this.#liveness.purge(now, (_id, worker) => {
      this.#expireWorker(worker);
    });
  }

  #scheduleExpiry(service: BrokerService): void {
    const head = service.queue.peek();
    if (head === undefined || service.expiryScheduled) return;
    service.expiryScheduled = true;
    this.#requestExpiry.push(head.deadline, service);
  }

  #expireRequests(now: number): void {
    const heap = this.#requestExpiry;
    let expired = 0;
    const services: string[] = [];
    for (let key = heap.peekKey(); key !== undefined && key <= now; key = heap.peekKey()) {
      const service = heap.pop() as BrokerService;
      service.expiryScheduled = false;
      let count = 0;
      for (let head = service.queue.peek(); head !== undefined && head.deadline <= now; head = service.queue.peek()) {
        const dropped = this.#dequeue(service);
        if (dropped?.span !== undefined) failSpanAs(dropped.span, 'expired', 'waited longer than requestTtlMs');
        count++;
      }
      if (count > 0) {
        expired += count;
        services.push(service.key);
      }
      this.#scheduleExpiry(service);
      this.#maybeDropService(service);
    }
    if (expired > 0) {
      // One line per tick, however many services: 1,000 services must not mean 1,000 lines.
      this.#stats.expiredRequests += expired;
      this.#log.warn(
        {
          expired,
          services: services.slice(0, 10),
          serviceCount: services.length,
          requestTtlMs: this.#options.requestTtlMs,
        },
        'queued requests expired before a worker took them',
      );
    }
  }
}

/** What a queued request costs: its frames plus a fixed overhead for the record and the queue slot. */
function requestBytes(client: Buffer, body: readonly Buffer[]): number {
  let bytes = 96 + client.length;
  for (const frame of body) bytes += frame.length + 16;
  return bytes;
}

/** The key of a request's client in the per-client queued bytes, made once per request. */
function clientKey(request: PendingRequest): string {
  return (request.clientKey ??= request.client.toString('latin1'));
}
