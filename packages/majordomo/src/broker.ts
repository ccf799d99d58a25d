/**
 * The Majordomo broker (7/MDP, 18/MDP, 8/MMI): one ROUTER for clients and workers of both protocol
 * versions, services with FIFO request queues and LRU idle workers, heartbeats to every worker,
 * expiry of dead workers (idle or busy) and of requests that waited too long.
 *
 * This file owns the sockets, the lifecycle and the heartbeat timer; the work is done by its parts,
 * which share one `BrokerContext`:
 *   broker-inbound.ts   decode and route each message (and MMI)
 *   broker-dispatch.ts  requests to workers, replies to clients, requeue on worker loss
 *   broker-registry.ts  registered workers, their liveness, their coming and going
 *   broker-queues.ts    services, queued requests, queue bounds, request expiry
 *
 *   client ──REQUEST──▶ ┌──────────┐ ──REQUEST──▶ worker (longest idle of the service)
 *   client ◀──REPLY──── │  broker  │ ◀──REPLY──── worker  (back to idle, maybe next request)
 *                       │  ROUTER  │ ──HEARTBEAT▶ every worker, each interval
 *   mmi.* ◀──answer──── └──────────┘ ◀─HEARTBEAT─ workers (any message = alive)
 */
import * as zmq from 'zeromq';
import { Component, type Clock, type Logger, type SecurityOptions, type TimerHandle } from '@zpatterns/core';
import {
  applyBindSecurity,
  bindEndpoint,
  Channel,
  componentLogger,
  type ServerSecurity,
  WarningLimiter,
} from '@zpatterns/core/internal';
import type { BrokerContext } from './broker-context.js';
import { Dispatcher } from './broker-dispatch.js';
import { BrokerInbound } from './broker-inbound.js';
import {
  createBrokerStats,
  endpointList,
  resolveBrokerOptions,
  type BrokerEndpoints,
  type BrokerGauges,
  type BrokerObserver,
  type BrokerOptions,
  type BrokerStats,
  type ResolvedBrokerOptions,
} from './broker-options.js';
import { ServiceQueues } from './broker-queues.js';
import { WorkerRegistry } from './broker-registry.js';
import { brokerSnapshot, type BrokerSnapshot } from './broker-snapshot.js';
import type { BrokerStatus } from './broker-status.js';
import { BrokerBindError } from './errors.js';

/** Set by the class's static block: the one way in to a broker's observer (see `observeBroker`). */
let setObserver: (broker: Broker, observer: BrokerObserver) => void;

/**
 * The Majordomo broker (7/MDP and 18/MDP, with 8/MMI): one ROUTER for clients and workers of both
 * protocol versions. Requests queue per service (FIFO) and go to the service's longest-idle worker;
 * the broker heartbeats every worker, forgets dead ones (idle or busy) after `liveness` silent
 * intervals, and drops requests that waited `requestTtlMs`.
 *
 * `new Broker({ bind })` checks the options (throws `InvalidArgumentError`) and opens nothing.
 * `start()` binds every `bind` (and `workerBind`) endpoint and resolves once the broker is bound
 * and serving (rejects with `BrokerBindError`); `endpoints` then holds the endpoints bound.
 * `close()` tells every worker DISCONNECT and closes the sockets. `status()` reports workers and
 * services coming and going (`BrokerStatus`).
 */
export class Broker extends Component<BrokerStatus> {
  static {
    setObserver = (broker, observer) => {
      broker.#ctx.observer = observer;
    };
  }

  readonly #stats: BrokerStats = createBrokerStats();
  readonly #options: ResolvedBrokerOptions;
  readonly #bind: readonly string[];
  readonly #workerBind: readonly string[];
  readonly #securityOptions: SecurityOptions | undefined;
  readonly #workerSecurityOptions: SecurityOptions | undefined;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #ctx: BrokerContext;
  readonly #queues: ServiceQueues;
  readonly #registry: WorkerRegistry;
  readonly #dispatcher: Dispatcher;
  readonly #inbound: BrokerInbound;
  /** The client ROUTER (and the workers' too, without `workerBind`), its CURVE side, its channel. */
  #socket: zmq.Router | undefined;
  #security: ServerSecurity | undefined;
  #channel: Channel<zmq.Router> | undefined;
  /** The second ROUTER, for workers, when `workerBind` is set. */
  #workerSecurity: ServerSecurity | undefined;
  #workerChannel: Channel<zmq.Router> | undefined;
  readonly #endpoints: string[] = [];
  readonly #workerEndpoints: string[] = [];
  /** True from the first socket's creation until `onClose` begins: input is handled. */
  #open = false;
  /** True once `onStart` has bound everything: only a broker that served logs stats at close. */
  #served = false;
  #timer: TimerHandle | undefined;
  #lastStatsAt: number;

  constructor(options: BrokerOptions) {
    super();
    const resolved = resolveBrokerOptions(options);
    this.#bind = endpointList(resolved.bind);
    this.#workerBind = endpointList(resolved.workerBind);
    this.#options = resolved;
    this.#clock = resolved.clock;
    this.#log = componentLogger(resolved.logger, { component: 'broker' });
    this.#lastStatsAt = this.#clock.now();
    this.#securityOptions = options.security;
    this.#workerSecurityOptions = options.workerSecurity;
    const log = this.#log;
    this.#ctx = {
      options: resolved,
      stats: this.#stats,
      clock: resolved.clock,
      log,
      debugLog: log.isLevelEnabled('debug') ? log : undefined,
      warnings: new WarningLimiter(log, resolved.clock, resolved.maxWarningsPerSecond),
      workerWarnings: new WarningLimiter(log, resolved.clock, resolved.maxWarningsPerSecond),
      overloadWarnings: new WarningLimiter(log, resolved.clock, 1),
      observer: {},
      isOpen: () => this.#open,
      emit: (event) => {
        this.emit(event);
      },
      toClient: (message) => {
        this.#channel?.post(message);
      },
      toWorker: (message) => {
        (this.#workerChannel ?? this.#channel)?.post(message);
      },
    };
    this.#queues = new ServiceQueues(this.#ctx);
    this.#registry = new WorkerRegistry(this.#ctx);
    this.#dispatcher = new Dispatcher(this.#ctx, this.#queues, this.#registry);
    this.#inbound = new BrokerInbound(
      this.#ctx,
      this.#queues,
      this.#registry,
      this.#dispatcher,
      this.#workerBind.length > 0,
    );
  }

  /** A ROUTER with the broker's settings, its CURVE side when `security` is set, and its channel. */
  #router(
    security: SecurityOptions | undefined,
    name: string,
  ): [zmq.Router, ServerSecurity | undefined, Channel<zmq.Router>] {
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
    const channel = new Channel(socket, {
      name,
      logger: o.logger,
      directSend: true,
      onSendError: (err, message) => {
        this.#dispatcher.sendFailed(err, message);
      },
    });
    return [socket, applyBindSecurity(socket, security, o.logger, o.maxMessageBytes), channel];
  }

  /** Create the ROUTER(s), bind every `bind` and `workerBind` endpoint, start the heartbeat timer. */
  protected async onStart(): Promise<void> {
    const [socket, security, channel] = this.#router(this.#securityOptions, 'broker');
    this.#socket = socket;
    this.#security = security;
    this.#channel = channel;
    let workerSocket: zmq.Router | undefined;
    if (this.#workerBind.length > 0) {
      const [ws, wsSecurity, wsChannel] = this.#router(
        this.#workerSecurityOptions ?? this.#securityOptions,
        'broker-workers',
      );
      workerSocket = ws;
      this.#workerSecurity = wsSecurity;
      this.#workerChannel = wsChannel;
    }
    this.#open = true;
    void channel.start(this.#inbound.fromClientSocket);
    if (workerSocket !== undefined) {
      void this.#workerChannel?.start(this.#inbound.fromWorkerSocket);
      for (const endpoint of this.#workerBind) {
        const bound = await this.#bindTo(workerSocket, this.#workerSecurity, endpoint);
        this.#workerEndpoints.push(bound);
        this.#log.info({ endpoint: bound }, 'broker bound for workers');
      }
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
   * The endpoints bound so far, by role (ports chosen by the kernel filled in): `clients` from
   * `bind` (workers may connect there too), `workers` from `workerBind`.
   */
  get endpoints(): BrokerEndpoints {
    return { clients: [...this.#endpoints], workers: [...this.#workerEndpoints] };
  }

  /**
   * The broker's CURVE side: ZAP counters (`stats.allowed`/`denied`) and `reload()` of its
   * allow-list. `undefined` when the broker is plain.
   */
  get security(): ServerSecurity | undefined {
    return this.#security;
  }

  /** The worker ROUTER's CURVE side, when `workerBind` made one with CURVE. */
  get workerSecurity(): ServerSecurity | undefined {
    return this.#workerSecurity;
  }

  /** A snapshot of the counters; read it again for fresh figures. */
  get stats(): BrokerStats {
    return { ...this.#stats };
  }

  /** What the broker holds now: services, workers (idle/busy), queued requests. O(services). */
  gauges(): BrokerGauges {
    let idleWorkers = 0;
    let queuedRequests = 0;
    for (const service of this.#queues.values()) {
      idleWorkers += service.idle.size;
      queuedRequests += service.queue.length;
    }
    const workers = this.#registry.size;
    return {
      services: this.#queues.size,
      workers,
      idleWorkers,
      busyWorkers: workers - idleWorkers,
      queuedRequests,
      queuedBytes: this.#queues.queuedBytes,
    };
  }

  /** Services, workers and clients with queued work, now (for a status page). O(services + workers + queued). */
  snapshot(): BrokerSnapshot {
    return brokerSnapshot(this.#queues.values(), this.#registry.values(), this.#clock.now());
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
    if (this.#channel === undefined) return;
    this.#registry.disconnectAll();
    this.#flushWarnings();
    if (this.#served) this.logStats();
    await Promise.all([this.#channel.drain(), this.#workerChannel?.drain()]);
    this.#registry.clear();
    this.#queues.clear();
    await this.#security?.release();
    await this.#workerSecurity?.release();
  }

  #schedule(): void {
    this.#timer = this.#clock.setTimeout(this.#tick, this.#options.heartbeatIntervalMs);
  }

  /** Once per heartbeat interval: expire silent workers and old requests, heartbeat the rest. */
  readonly #tick = (): void => {
    if (!this.#open) return;
    const now = this.#clock.now();
    this.#dispatcher.purge(now);
    this.#queues.expire(now);
    this.#registry.heartbeat();
    const statsIntervalMs = this.#options.statsIntervalMs;
    if (statsIntervalMs > 0 && now - this.#lastStatsAt >= statsIntervalMs) {
      this.#lastStatsAt = now;
      this.logStats();
    }
    this.#flushWarnings();
    this.#schedule();
  };

  #flushWarnings(): void {
    this.#ctx.warnings.flush();
    this.#ctx.workerWarnings.flush();
    this.#ctx.overloadWarnings.flush();
  }
}

/**
 * Hook `observer` into `broker`'s hot path: told of each client request and each FINAL reply, per
 * service (the mdbroker daemon's latency histograms). Internal: from `@zpatterns/majordomo/internal`.
 */
export function observeBroker(broker: Broker, observer: BrokerObserver): void {
  setObserver(broker, observer);
}
