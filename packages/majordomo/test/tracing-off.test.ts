/**
 * With `@opentelemetry/api` installed but no tracer provider registered, no span is made at all
 * (the API's no-op span would record nothing, and one per request is a cost on the hot path);
 * once a provider is registered, spans are made, and after `trace.disable()` they stop again.
 */
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { startSpan, SpanKinds, tracingActive } from '@zpatterns/core/internal';
import { describe, expect, it } from 'vitest';

describe('spans only with a registered tracer provider', () => {
  it('none before a provider is registered, spans while one is, none after trace.disable()', async () => {
    expect(tracingActive()).toBe(false);
    expect(startSpan('@zpatterns/majordomo', 'echo', SpanKinds.client, { 'rpc.system': 'majordomo' })).toBeUndefined();

    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    trace.setGlobalTracerProvider(provider);
    try {
      expect(tracingActive()).toBe(true);
      const span = startSpan('@zpatterns/majordomo', 'echo', SpanKinds.client, { 'rpc.system': 'majordomo' });
      expect(span).toBeDefined();
      span?.end();
      expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['echo']);
    } finally {
      trace.disable();
      await provider.shutdown();
    }
    expect(tracingActive()).toBe(false);
  });
});
