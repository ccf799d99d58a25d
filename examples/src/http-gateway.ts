#!/usr/bin/env node
/**
 * An HTTP endpoint in front of Majordomo services, the service most users write first: each
 * `GET /<service>?text=...` becomes one Majordomo request with a whole-call timeout, and the
 * answer an HTTP status.
 *
 *   node examples/dist/http-gateway.js --broker tcp://127.0.0.1:5555 --port 8080 --timeout-ms 2000
 *   curl 'http://127.0.0.1:8080/echo?text=hello'        # 200 hello (from the echo service)
 *
 *   200  the service's reply (its frames joined by newlines, as text/plain)
 *   400  no `text` parameter
 *   404  not a GET of /<service>
 *   503  the broker knows no live worker of that service (asked first, through MMI)
 *   504  no reply within --timeout-ms (core's TimeoutError, `err.code === 'ERR_TIMEOUT'`)
 *   502  any other failure of the call
 *
 * SIGTERM or SIGINT: stop taking connections, let the requests in flight finish (up to
 * --timeout-ms), close the client, exit 0.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { MajordomoClient } from '@zpatterns/majordomo';

const { values: flags } = parseArgs({
  options: {
    broker: { type: 'string', default: 'tcp://127.0.0.1:5555' },
    port: { type: 'string', default: '8080' },
    'timeout-ms': { type: 'string', default: '5000' },
    'log-level': { type: 'string', default: 'info' },
  },
});
const port = Number(flags.port);
const timeoutMs = Number(flags['timeout-ms']);
if (!Number.isInteger(port) || port < 0 || port > 65_535 || !(timeoutMs > 0)) {
  process.stderr.write('http-gateway: --port is 0..65535 and --timeout-ms a positive number\n');
  process.exit(2);
}
const log = pino({ name: 'http-gateway', level: flags['log-level'] });

const client = new MajordomoClient({ broker: flags.broker, logger: log });
await client.start();

/** Service names a caller may reach: no `mmi.*` (the broker's own), nothing odd in a path. */
const SERVICE = /^\/([A-Za-z0-9][A-Za-z0-9._-]{0,63})$/;

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://gateway');
  const service = SERVICE.exec(url.pathname)?.[1];
  const text = url.searchParams.get('text');
  if (req.method !== 'GET' || service === undefined || service.startsWith('mmi.')) {
    return reply(res, 404, 'not found\n');
  }
  if (text === null) return reply(res, 400, 'a text parameter is needed\n');
  try {
    // MDP queues a request for a service nobody serves; ask first, so the caller hears 503 now.
    if ((await client.serviceStatus(service, { timeoutMs })) !== '200') {
      return reply(res, 503, `no worker serves ${service}\n`);
    }
    const frames = await client.request(service, text, { timeoutMs });
    reply(res, 200, `${frames.map((f) => f.toString('utf8')).join('\n')}\n`);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_TIMEOUT') {
      return reply(res, 504, `no reply from ${service} within ${timeoutMs} ms\n`);
    }
    log.error({ err, service }, 'request failed');
    reply(res, 502, 'the service call failed\n');
  }
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
}

const server = createServer((req, res) => void handle(req, res));
await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
const address = server.address();
const url = address !== null && typeof address === 'object' ? `http://127.0.0.1:${address.port}` : undefined;

let stopping = false;
const stop = async (signal: NodeJS.Signals): Promise<void> => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  // No new connections; idle keep-alive ones go now, busy ones after their answer.
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const late = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(late);
  await client.close();
  log.info('stopped');
};
process.once('SIGTERM', (s) => void stop(s));
process.once('SIGINT', (s) => void stop(s));

log.info({ broker: flags.broker, url, timeoutMs }, 'ready');
