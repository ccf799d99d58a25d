#!/usr/bin/env node
/**
 * A configuration watcher to copy: follows one subtree of a Clone server (or a Binary Star pair of
 * them), prints the whole configuration once, then every change as it happens, as JSON lines.
 * Replace `apply()` with what your service does when its configuration changes.
 *
 *   node examples/dist/config-watcher.js --server tcp://127.0.0.1:5590 --prefix /config/
 *   node examples/dist/config-watcher.js --server tcp://10.0.0.1:5590 --server tcp://10.0.0.2:5593
 *   # elsewhere: node_modules/.bin/zpat clone set /config/mode fast --server tcp://127.0.0.1:5590
 */
import process from 'node:process';
import { parseArgs } from 'node:util';
import { CloneClient } from '@zpatterns/clone';

const { values: flags } = parseArgs({
  options: {
    server: { type: 'string', multiple: true, default: ['tcp://127.0.0.1:5590'] },
    prefix: { type: 'string', default: '/config/' },
  },
});

const config = new Map<string, string>();
function apply(key: string, value: string | undefined): void {
  if (value === undefined) config.delete(key);
  else config.set(key, value);
  process.stdout.write(`${JSON.stringify({ key, value: value ?? null })}\n`);
}

const clone = new CloneClient({ servers: flags.server, subtrees: [flags.prefix] });
const stop = new AbortController();
process.once('SIGTERM', () => stop.abort());
process.once('SIGINT', () => stop.abort());

// start() resolves with the snapshot in the replica; watch() then yields each change in order.
await clone.start({ signal: stop.signal });
const initial = Object.fromEntries(clone.entries().map(([k, v]) => [k, v.toString('utf8')]));
process.stdout.write(`${JSON.stringify({ snapshot: initial })}\n`);
for (const [key, value] of Object.entries(initial)) config.set(key, value);
try {
  for await (const change of clone.watch(flags.prefix, { signal: stop.signal })) {
    apply(change.key, change.value?.toString('utf8'));
  }
} catch (err) {
  // SIGTERM/SIGINT abort the watch: its next() rejects with AbortError, which is no failure
  if (!stop.signal.aborted) {
    process.stderr.write(`config-watcher: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
} finally {
  await clone.close();
}
