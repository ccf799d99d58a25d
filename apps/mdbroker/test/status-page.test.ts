/**
 * The status page at `/` in a real headless Chromium (Debian's `chromium`): it loads with no
 * request beyond its own origin, shows the service a real worker registered with a real mdbroker,
 * and updates without a reload when a second worker joins.
 *
 *   Chromium ──GET /, then /status every second──▶ mdbroker --metrics-port 0 ◀──MDP── workers (here)
 *
 * Without Chromium the test is skipped, except under CI=true, where it fails. ZPAT_SCREENSHOT=FILE
 * saves a screenshot of the page (docs/img/status-page.png is made this way).
 */
import { existsSync } from 'node:fs';
import { MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, rawDealer } from '@zpatterns/testkit';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const missing = !existsSync(CHROMIUM);

/** Runs in the page (the tests' tsconfig has no DOM types): does `selector`'s text equal `text`? */
function shows([selector, text]: [string, string]): boolean {
  const page = globalThis as unknown as {
    document: { querySelector(s: string): { textContent: string | null } | null };
  };
  return page.document.querySelector(selector)?.textContent === text;
}

describe('mdbroker status page', () => {
  it.skipIf(missing && process.env['CI'] !== 'true')(
    'loads offline, shows a registered service, and updates when a second worker joins',
    async () => {
      expect(missing, `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(false);
      await using daemon = await Daemon.start({
        bin: appBin('mdbroker'),
        args: ['--bind', 'tcp://127.0.0.1:*', '--heartbeat-ms', '200', '--metrics-port', '0'],
      });
      const url = daemon.ready['metrics'] as string;
      const endpoint = (daemon.ready['endpoints'] as string[])[0] ?? '';
      const worker = (): MajordomoWorker =>
        new MajordomoWorker({ broker: endpoint, service: 'echo', heartbeatIntervalMs: 200, handler: (r) => r });
      await using first = worker();
      await first.start();

      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
        const foreign: string[] = [];
        page.on('request', (request) => {
          if (!request.url().startsWith(`${url}/`)) foreign.push(request.url());
        });
        const workersOf = `#t-services tr[data-key="echo"] td[data-col="workers"]`;
        await page.goto(`${url}/`);
        await page.waitForFunction(shows, [workersOf, '1'] as [string, string], { timeout: 10_000 });
        expect(await page.textContent('#daemon')).toBe('mdbroker');
        // A mark that a reload would wipe: the update below must come without one.
        await page.evaluate(() => {
          (globalThis as { mark?: number }).mark = 42;
        });

        await using second = worker();
        await second.start();
        await page.waitForFunction(shows, [workersOf, '2'] as [string, string], { timeout: 10_000 });
        expect(await page.evaluate(() => (globalThis as { mark?: number }).mark)).toBe(42);
        expect(await page.textContent('#t-workers')).toContain('echo');
        expect(foreign).toEqual([]);

        const shot = process.env['ZPAT_SCREENSHOT'];
        if (shot !== undefined) {
          // A few answered requests, and one waiting for a service nobody serves (a queue, a client).
          await using client = await MajordomoClient.start({ broker: endpoint, attemptTimeoutMs: 5000 });
          for (let i = 0; i < 5; i++) await client.request('echo', `x${i}`);
          await using waiting = rawDealer(endpoint);
          await waiting.socket.send(['', 'MDPC01', 'reports', 'hello']);
          await page.waitForSelector('#t-clients tr[data-key]', { timeout: 10_000 });
          await page.screenshot({ path: shot, fullPage: true });
        }
      } finally {
        await browser.close();
      }
      expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    },
    60_000,
  );
});
