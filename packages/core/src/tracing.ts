/**
 * Optional OpenTelemetry. When the application has `@opentelemetry/api` installed (an optional peer
 * dependency) and registers a tracer provider, the libraries' spans go there; without the package
 * nothing is loaded and every `startSpan()` returns `undefined`, so the only cost is one `if`.
 * With the package but no provider registered (yet), `startSpan()` returns `undefined` too: the
 * API's no-op span would record nothing, and making one per message cost a measurable part of a
 * worker's or client's request.
 *
 * The package is loaded by name at run time, so no type of it leaks into ours: the few methods a
 * span needs are declared here. Attribute names follow the OpenTelemetry semantic conventions for
 * RPC (`rpc.system`, `rpc.service`, `server.address`, `error.type`).
 */
import { toError } from './errors.js';

/** The part of an OpenTelemetry `Span` the libraries use. */
export interface TraceSpan {
  setAttribute(key: string, value: string | number | boolean): unknown;
  addEvent(name: string, attributes?: Record<string, string | number | boolean>): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  recordException(exception: Error): unknown;
  end(): void;
}

interface Tracer {
  startSpan(name: string, options: { kind: number; attributes: Record<string, string | number | boolean> }): TraceSpan;
}

/** The API's provider: its global one is a proxy that forwards to the registered provider, if any. */
interface TracerProvider {
  getDelegate?(): unknown;
}

interface OtelApi {
  trace: { getTracer(name: string, version?: string): Tracer; getTracerProvider(): TracerProvider };
  ProxyTracerProvider?: new () => TracerProvider;
}

/** OpenTelemetry's `SpanKind` values. */
export const SpanKinds = { internal: 0, server: 1, client: 2, producer: 3, consumer: 4 } as const;
const STATUS_ERROR = 2;

async function load(): Promise<OtelApi | undefined> {
  const name = '@opentelemetry/api';
  try {
    return (await import(name)) as OtelApi;
  } catch {
    return undefined;
  }
}

const api = await load();
const tracers = new Map<string, Tracer>();

/**
 * The API's no-op provider, what its global proxy forwards to while no provider is registered: a
 * fresh proxy has no delegate yet, so it answers with that one. (With another copy of the API in
 * the process, its no-op provider is another object: spans are then made, as before.)
 */
const noopProvider: unknown =
  api?.ProxyTracerProvider === undefined ? undefined : new api.ProxyTracerProvider().getDelegate?.();

/** Whether `@opentelemetry/api` is installed (spans may be made). */
export const tracingAvailable: boolean = api !== undefined;

/**
 * Whether spans are made now: `@opentelemetry/api` is installed and a tracer provider registered.
 * Cheap enough to ask per message; ask it before building a span's attributes.
 */
export function tracingActive(): boolean {
  if (api === undefined) return false;
  if (noopProvider === undefined) return true;
  const provider = api.trace.getTracerProvider();
  return (provider.getDelegate === undefined ? provider : provider.getDelegate()) !== noopProvider;
}

/**
 * A started span from the tracer `library`, or `undefined` when OpenTelemetry is not installed or
 * no tracer provider is registered.
 */
export function startSpan(
  library: string,
  name: string,
  kind: number,
  attributes: Record<string, string | number | boolean>,
): TraceSpan | undefined {
  if (api === undefined || !tracingActive()) return undefined;
  let tracer = tracers.get(library);
  if (tracer === undefined) {
    tracer = api.trace.getTracer(library);
    tracers.set(library, tracer);
  }
  return tracer.startSpan(name, { kind, attributes });
}

/**
 * End `span` as failed where there is no error object, only an outcome: `error.type` is `type`
 * (e.g. `refused`, `expired`), status ERROR with `message`.
 */
export function failSpanAs(span: TraceSpan, type: string, message: string): void {
  span.setAttribute('error.type', type);
  span.setStatus({ code: STATUS_ERROR, message });
  span.end();
}

/** End `span` as failed by `caught`: `error.type` (the error's `code`, else its name), status ERROR. */
export function failSpan(span: TraceSpan, caught: unknown): void {
  const err = toError(caught);
  const code = (err as { code?: unknown }).code;
  span.setAttribute('error.type', typeof code === 'string' ? code : err.name);
  span.recordException(err);
  span.setStatus({ code: STATUS_ERROR, message: err.message });
  span.end();
}
