/**
 * OpenTelemetry spans, with the SDK's in-memory exporter: a request to two real servers of which
 * the first never answers gives a CLIENT span with an `attempt` event per server tried and the
 * server that answered, and the answering server's SERVER span; a request no server answers ends
 * its client span as an error, and a handler that throws ends its server span as an error.
 *
 *   FreelanceClient ──[A] request──▶ silent "server" A (answers PING only)
 *                   ──[B] resend───▶ FreelanceServer B      spans ──▶ InMemorySpanExporter (here)
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { eventually } from '@zpatterns/testkit';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import * as zmq from 'zeromq';
import { TimeoutError } from '@zpatterns/core';
import { FreelanceClient, FreelanceServer } from '../src/index.js';
import { freeTcpEndpoint } from '../src/protocol.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
  exporter.reset();
});

/** A server that answers PING with PONG and never answers a request. */
async function silentServer(): Promise<string> {
  const endpoint = await freeTcpEndpoint();
  const socket = new zmq.Router({ linger: 0, routingId: endpoint });
  await socket.bind(endpoint);
  const loop = (async () => {
    try {
      for await (const message of socket) {
        if (String(message[1]) === 'PING') await socket.send([message[0] as Buffer, 'PONG']);
      }
    } catch {
      // closed
    }
  })();
  cleanup.push(async () => {
    socket.close();
    await loop;
  });
  return endpoint;
}

async function startClient(servers: string[]): Promise<FreelanceClient> {
  const client = new FreelanceClient({
    servers,
    strategy: 'priority',
    attemptTimeoutMs: 1000,
    retries: 1,
    timeoutMs: 10_000,
    heartbeatIntervalMs: 200,
    peerTtlMs: 2000,
    connectPingMs: 20,
  });
  cleanup.push(() => client.close());
  await client.start();
  // Both servers alive, so the first attempt goes to the first (silent) one.
  await eventually(() => client.servers.every((s) => s.state === 'alive') || undefined);
  return client;
}

describe('OpenTelemetry spans', () => {
  it('a client span with an attempt per server tried and the server span of the one that answered', async () => {
    const silent = await silentServer();
    const server = await FreelanceServer.start({ bind: 'tcp://127.0.0.1:*' });
    cleanup.push(() => server.close());
    const client = await startClient([silent, server.endpoints.clients]);

    expect((await client.request(['hi']))[0]?.toString()).toBe('hi');
    const spans = await eventually(() => {
      const done = exporter.getFinishedSpans();
      return done.length >= 2 ? done : undefined;
    });
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    expect(clientSpan?.name).toBe('freelance');
    expect(clientSpan?.instrumentationScope.name).toBe('@zpatterns/freelance');
    expect(clientSpan?.attributes).toEqual({
      'rpc.system': 'freelance',
      'freelance.attempts': 2,
      'server.address': server.endpoints.clients,
    });
    expect(clientSpan?.events.map((e) => [e.name, e.attributes])).toEqual([
      ['attempt', { 'freelance.attempt': 1, 'server.address': silent }],
      ['attempt', { 'freelance.attempt': 2, 'server.address': server.endpoints.clients }],
    ]);
    expect(clientSpan?.status.code).toBe(SpanStatusCode.UNSET);
    const serverSpans = spans.filter((s) => s.kind === SpanKind.SERVER);
    expect(serverSpans).toHaveLength(1);
    expect(serverSpans[0]?.name).toBe('freelance');
    expect(serverSpans[0]?.attributes).toEqual({
      'rpc.system': 'freelance',
      'server.address': server.endpoints.clients,
    });
    expect(serverSpans[0]?.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('a request no server answers and a handler that throws end their spans as errors', async () => {
    const silent = await silentServer();
    const client = await startClient([silent]);
    await expect(client.request(['hi'])).rejects.toBeInstanceOf(TimeoutError);
    const [failed] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes).toEqual({
      'rpc.system': 'freelance',
      'freelance.attempts': 2,
      'error.type': 'ERR_TIMEOUT',
    });
    expect(failed?.events.filter((e) => e.name === 'attempt').map((e) => e.attributes?.['server.address'])).toEqual([
      silent,
      silent,
    ]);

    exporter.reset();
    const broken = await FreelanceServer.start({
      bind: 'tcp://127.0.0.1:*',
      handler: () => Promise.reject(new Error('boom')),
    });
    cleanup.push(() => broken.close());
    const other = await startClient([broken.endpoints.clients]);
    await expect(other.request(['hi'])).rejects.toBeInstanceOf(TimeoutError);
    const [serverSpan] = await eventually(() => {
      const done = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
      return done.length > 0 ? done : undefined;
    });
    expect(serverSpan?.status.code).toBe(SpanStatusCode.ERROR);
    expect(serverSpan?.attributes).toEqual({
      'rpc.system': 'freelance',
      'server.address': broken.endpoints.clients,
      'error.type': 'Error',
    });
  });
});
