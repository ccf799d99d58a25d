/**
 * OpenTelemetry spans, with the SDK's in-memory exporter: one request through a real broker gives
 * a CLIENT span (its attempts as events), a worker's SERVER span and the broker's INTERNAL span
 * (its queue time as an event), with the RPC semantic conventions' attributes; a request nobody
 * answers ends its client span as an error after each attempt.
 *
 *   client ──REQUEST "echo"──▶ Broker ──▶ worker          spans ──▶ InMemorySpanExporter (here)
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { eventually } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { TimeoutError } from '@zpatterns/core';
import { Broker, MajordomoClient, MajordomoWorker } from '../src/index.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
afterAll(async () => {
  trace.disable();
  await provider.shutdown();
});

describe('OpenTelemetry spans', () => {
  it('a client span with its attempt and a worker span for one request; an error span for no reply', async () => {
    await using broker = await Broker.start({ bind: 'tcp://127.0.0.1:*', heartbeatIntervalMs: 200 });
    const endpoint = broker.endpoints.clients[0] ?? '';
    await using worker = new MajordomoWorker({
      broker: endpoint,
      service: 'echo',
      heartbeatIntervalMs: 200,
      handler: (body) => body,
    });
    await worker.start();
    await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 300, retries: 1 });

    expect((await client.request('echo', 'hi'))[0]?.toString()).toBe('hi');
    const spans = await eventually(() => {
      const done = exporter.getFinishedSpans();
      return done.length >= 3 ? done : undefined;
    });
    const clientSpan = spans.find((s) => s.kind === SpanKind.CLIENT);
    const workerSpan = spans.find((s) => s.kind === SpanKind.SERVER);
    expect(clientSpan?.name).toBe('echo');
    expect(clientSpan?.attributes).toMatchObject({
      'rpc.system': 'majordomo',
      'rpc.service': 'echo',
      'majordomo.attempts': 1,
    });
    expect(clientSpan?.events.map((e) => [e.name, e.attributes])).toEqual([
      ['attempt', { 'majordomo.attempt': 1, 'server.address': endpoint }],
    ]);
    expect(clientSpan?.status.code).toBe(SpanStatusCode.UNSET);
    expect(workerSpan?.name).toBe('echo');
    expect(workerSpan?.attributes).toEqual({
      'rpc.system': 'majordomo',
      'rpc.service': 'echo',
      'server.address': endpoint,
    });
    expect(workerSpan?.instrumentationScope.name).toBe('@zpatterns/majordomo');
    // The broker's span: arrival to final reply, the queue time as the `dispatched` event.
    const brokerSpan = spans.find((s) => s.kind === SpanKind.INTERNAL);
    expect(brokerSpan?.attributes).toEqual({ 'rpc.system': 'majordomo', 'rpc.service': 'echo' });
    const dispatched = brokerSpan?.events.find((e) => e.name === 'dispatched');
    expect(dispatched?.attributes?.['majordomo.queue_time_ms']).toBeGreaterThanOrEqual(0);
    expect(typeof dispatched?.attributes?.['majordomo.worker']).toBe('string');

    exporter.reset();
    await expect(client.request('nobody', 'hi')).rejects.toBeInstanceOf(TimeoutError);
    const [failed] = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(failed?.name).toBe('nobody');
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed?.attributes).toMatchObject({ 'majordomo.attempts': 2, 'error.type': 'ERR_TIMEOUT' });
    expect(failed?.events.filter((e) => e.name === 'attempt')).toHaveLength(2);
  });
});
