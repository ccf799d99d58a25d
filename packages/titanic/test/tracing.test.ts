/**
 * OpenTelemetry spans, with the SDK's in-memory exporter, through a real broker: a TitanicClient's
 * submit, polls and close each give a CLIENT span with the request's UUID, and the Titanic server's
 * dispatch of the stored request to its service gives a CLIENT span with the UUID, the service and
 * the outcome (`replied`; `no-worker` for a service without workers).
 *
 *   TitanicClient ──titanic.*──▶ Broker ──▶ TitanicServer ──dispatch──▶ Broker ──▶ echo worker
 *                                              spans of both ──▶ InMemorySpanExporter (here)
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace-base';
import { constantBackoff } from '@zpatterns/core';
import { Broker, MajordomoWorker } from '@zpatterns/majordomo';
import { eventually } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, TitanicClient, TitanicServer } from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});

/** The finished spans of the Titanic library (the Majordomo ones underneath are left out). */
function titanicSpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name === '@zpatterns/titanic');
}

describe('OpenTelemetry spans', () => {
  it('client spans for submit, poll and close, and the server dispatch span, all with the UUID', async () => {
    await using broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 100 });
    const endpoint = broker.endpoints.clients[0] ?? '';
    await using worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 100,
      handler: (body) => body,
    });
    await worker.start();
    await using server = new TitanicServer({
      broker: endpoint,
      store: new MemoryStore(),
      heartbeatIntervalMs: 100,
      dispatchTimeoutMs: 1000,
      retryDelay: constantBackoff(100),
      serviceRetryDelay: constantBackoff(100),
      reconnectDelay: constantBackoff(100),
    });
    await server.start();
    await using client = await TitanicClient.start({
      broker: endpoint,
      attemptTimeoutMs: 1000,
      retries: 3,
      pollIntervalMs: 20,
      maxPollIntervalMs: 50,
    });

    const uuid = await client.submit('echo', ['hi']);
    expect((await client.waitReply(uuid, { timeoutMs: 10_000 }))[0]?.toString()).toBe('hi');
    await client.closeRequest(uuid);

    const spans = titanicSpans();
    const submit = spans.find((s) => s.name === 'titanic.request');
    expect(submit?.kind).toBe(SpanKind.CLIENT);
    expect(submit?.attributes).toEqual({
      'rpc.system': 'titanic',
      'rpc.method': 'titanic.request',
      'rpc.service': 'echo',
      'titanic.uuid': uuid,
    });
    const polls = spans.filter((s) => s.name === 'titanic.reply');
    expect(polls.length).toBeGreaterThanOrEqual(1);
    for (const poll of polls) {
      expect(poll.kind).toBe(SpanKind.CLIENT);
      expect(poll.attributes).toMatchObject({ 'rpc.system': 'titanic', 'titanic.uuid': uuid });
    }
    expect(polls.at(-1)?.attributes['titanic.status']).toBe('ok');
    const close = spans.find((s) => s.name === 'titanic.close');
    expect(close?.attributes).toEqual({ 'rpc.system': 'titanic', 'rpc.method': 'titanic.close', 'titanic.uuid': uuid });
    expect(close?.status.code).toBe(SpanStatusCode.UNSET);
    // The server's dispatch: the last one replied (an earlier probe may have found no worker yet).
    const dispatches = spans.filter((s) => s.name === 'echo');
    expect(dispatches.at(-1)?.kind).toBe(SpanKind.CLIENT);
    expect(dispatches.at(-1)?.attributes).toMatchObject({
      'rpc.system': 'majordomo',
      'rpc.service': 'echo',
      'titanic.uuid': uuid,
      'titanic.outcome': 'replied',
    });
  });

  it('a dispatch to a service without workers ends as no-worker', async () => {
    exporter.reset();
    await using broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 100 });
    const endpoint = broker.endpoints.clients[0] ?? '';
    await using server = new TitanicServer({
      broker: endpoint,
      store: new MemoryStore(),
      heartbeatIntervalMs: 100,
      dispatchTimeoutMs: 1000,
      serviceRetryDelay: constantBackoff(100),
      reconnectDelay: constantBackoff(100),
    });
    await server.start();
    await using client = await TitanicClient.start({ broker: endpoint, attemptTimeoutMs: 1000, retries: 3 });

    const uuid = await client.submit('nobody', ['hi']);
    const dispatch = await eventually(() => titanicSpans().find((s) => s.name === 'nobody'));
    expect(dispatch.kind).toBe(SpanKind.CLIENT);
    expect(dispatch.attributes).toEqual({
      'rpc.system': 'majordomo',
      'rpc.service': 'nobody',
      'titanic.uuid': uuid,
      'titanic.probe': true,
      'titanic.outcome': 'no-worker',
    });
  });
});
