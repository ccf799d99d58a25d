#!/usr/bin/env node
// Probe a zpatterns daemon's /healthz: exit 0 on 200, 1 otherwise (refused, 503, timeout).
//
//   deploy/healthcheck.mjs http://127.0.0.1:9101/healthz               # one probe
//   deploy/healthcheck.mjs --wait-ms 20000 http://127.0.0.1:9101/healthz  # until 200, or give up
//
// For supervisors without an HTTP probe of their own: systemd's ExecStartPost, a container
// HEALTHCHECK, a cron job. No dependencies beyond Node 20.
/* global fetch, AbortSignal */
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

const args = process.argv.slice(2);
let waitMs = 0;
let url;
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--wait-ms') {
    waitMs = Number(args[++i]);
    if (!Number.isInteger(waitMs) || waitMs < 0) usage(`--wait-ms: not a whole number of ms: ${args[i]}`);
  } else if (url === undefined && !args[i].startsWith('-')) url = args[i];
  else usage(`unexpected argument ${args[i]}`);
}
if (url === undefined) usage('missing URL');

function usage(message) {
  process.stderr.write(`healthcheck: ${message}\nusage: healthcheck.mjs [--wait-ms MS] URL\n`);
  process.exit(2);
}

async function probe() {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch (err) {
    return err instanceof Error ? (err.cause?.code ?? err.name) : String(err);
  }
}

const deadline = Date.now() + waitMs;
for (;;) {
  const status = await probe();
  if (status === 200) process.exit(0);
  if (Date.now() >= deadline) {
    process.stderr.write(`healthcheck: ${url}: ${status}\n`);
    process.exit(1);
  }
  await sleep(250);
}
