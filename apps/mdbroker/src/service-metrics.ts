/**
 * Per-service request counts and latency histograms for mdbroker's /metrics, kept in plain
 * objects on the hot path (an increment and a bucket search per request) and handed to the
 * registry only when it is scraped: no labelled prom-client call per request.
 *
 * The series are the same as prom-client's labelled Counter and Histogram would print:
 * `<requests>{service}`, `<latency>_bucket{le,service}` (cumulative), `_sum` and `_count`.
 */
import type { Registry } from '@zpatterns/app-kit';
import type { BrokerObserver } from '@zpatterns/majordomo/internal';

type Metric = Parameters<Registry['registerMetric']>[0];
interface Value {
  metricName?: string;
  labels: Record<string, string | number>;
  value: number;
}
interface Scraped {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Value[];
}

interface Figures {
  requests: number;
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

export interface ServiceMetricsOptions {
  registry: Registry;
  requestsName: string;
  requestsHelp: string;
  latencyName: string;
  latencyHelp: string;
  /** Upper bounds in seconds, ascending. */
  buckets: readonly number[];
  /** Maps a service name to its label (bounded: the overflow shares one label). */
  label: (service: string) => string;
}

export class ServiceMetrics {
  readonly #bounds: readonly number[];
  readonly #label: (service: string) => string;
  /** By service name, only for services that got a label of their own. */
  readonly #byService = new Map<string, Figures>();
  /** By label: what the scrape prints. */
  readonly #byLabel = new Map<string, Figures>();

  constructor(options: ServiceMetricsOptions) {
    this.#bounds = options.buckets;
    this.#label = options.label;
    const byLabel = this.#byLabel;
    const bounds = this.#bounds;
    const requests = {
      name: options.requestsName,
      help: options.requestsHelp,
      type: 'counter',
      aggregator: 'sum',
      get: (): Promise<Scraped> => {
        const values: Value[] = [];
        for (const [service, f] of byLabel) values.push({ labels: { service }, value: f.requests });
        return Promise.resolve({
          name: options.requestsName,
          help: options.requestsHelp,
          type: 'counter',
          values,
          aggregator: 'sum',
        });
      },
      reset: () => undefined,
    };
    const latencyName = options.latencyName;
    const latency = {
      name: latencyName,
      help: options.latencyHelp,
      type: 'histogram',
      aggregator: 'sum',
      get: (): Promise<Scraped> => {
        const values: Value[] = [];
        for (const [service, f] of byLabel) {
          if (f.count === 0) continue;
          let acc = 0;
          for (let i = 0; i < bounds.length; i++) {
            acc += f.buckets[i] ?? 0;
            values.push({
              metricName: `${latencyName}_bucket`,
              labels: { le: bounds[i] as number, service },
              value: acc,
            });
          }
          values.push(
            { metricName: `${latencyName}_bucket`, labels: { le: '+Inf', service }, value: f.count },
            { metricName: `${latencyName}_sum`, labels: { service }, value: f.sum },
            { metricName: `${latencyName}_count`, labels: { service }, value: f.count },
          );
        }
        return Promise.resolve({
          name: latencyName,
          help: options.latencyHelp,
          type: 'histogram',
          values,
          aggregator: 'sum',
        });
      },
      reset: () => undefined,
    };
    options.registry.registerMetric(requests as unknown as Metric);
    options.registry.registerMetric(latency as unknown as Metric);
  }

  /** The broker's observer: one Map lookup per request and per reply. */
  readonly observer: Required<BrokerObserver> = {
    request: (service) => {
      this.#figures(service).requests++;
    },
    reply: (service, ms) => {
      const f = this.#figures(service);
      const seconds = ms / 1000;
      const bounds = this.#bounds;
      let i = 0;
      while (i < bounds.length && seconds > (bounds[i] as number)) i++;
      f.buckets[i] = (f.buckets[i] ?? 0) + 1;
      f.sum += seconds;
      f.count++;
    },
  };

  #figures(service: string): Figures {
    const known = this.#byService.get(service);
    if (known !== undefined) return known;
    const label = this.#label(service);
    let f = this.#byLabel.get(label);
    if (f === undefined) {
      f = { requests: 0, buckets: new Array<number>(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
      this.#byLabel.set(label, f);
    }
    // The overflow label is looked up again each time, so unbounded service names stay unstored.
    if (label === service) this.#byService.set(service, f);
    return f;
  }
}
