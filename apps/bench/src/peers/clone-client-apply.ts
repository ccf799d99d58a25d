/**
 * The process under test of the `clone-client` vs-c shape: our `CloneClient` following one Clone
 * server (snapshot, then the update stream), until it has applied `n` updates after it started.
 * It prints `ready` once it holds its snapshot, then, when the n-th update is applied:
 * `rate=<updates applied per second> cpu_us=<this process's CPU per update> replies=<updates
 * applied> expected=<n> gaps=<sequence gaps it saw> rss_kb=<its peak RSS>`.
 *
 *   node clone-client-apply.js <snapshot> <publisher> <collector> <n>
 */
import { CloneClient } from '@zpatterns/clone';

const [snapshot, publisher, collector, nArg] = process.argv.slice(2);
if (snapshot === undefined || publisher === undefined || collector === undefined) {
  throw new Error('usage: clone-client-apply <snapshot> <publisher> <collector> <n>');
}
const n = Number(nArg);
const client = new CloneClient({ servers: [{ snapshot, publisher, collector }] });
await client.start();
const base = client.stats.updates;
process.stdout.write('ready\n');

// The first update starts the clock: poll every 1 ms until then (not every turn of the event
// loop, which would spin and take a core from the server and the driver), then every 5 ms.
const started = await new Promise<{ t: number; cpu: NodeJS.CpuUsage }>((resolve) => {
  const wait = (): void => {
    if (client.stats.updates > base) resolve({ t: performance.now(), cpu: process.cpuUsage() });
    else setTimeout(wait, 1);
  };
  wait();
});
const end = await new Promise<number>((resolve) => {
  const timer = setInterval(() => {
    if (client.stats.updates - base >= n) {
      clearInterval(timer);
      resolve(performance.now());
    }
  }, 5);
});
const cpu = process.cpuUsage(started.cpu);
const { updates, gaps } = client.stats;
const applied = updates - base;
process.stdout.write(
  `rate=${((applied / (end - started.t)) * 1000).toFixed(1)} cpu_us=${((cpu.user + cpu.system) / applied).toFixed(2)} ` +
    `replies=${applied} expected=${n} gaps=${gaps} rss_kb=${process.resourceUsage().maxRSS}\n`,
);
await client.close();
