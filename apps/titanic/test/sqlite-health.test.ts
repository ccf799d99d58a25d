/**
 * /healthz of a SQLite titanic follows its disk (real process, real full disk):
 *
 *   MajordomoClient ──titanic.request──> titanic --with-broker --data-dir <2 MB tmpfs>
 *   fetch ──/healthz────────────────────────┘          (filled up by the test, then freed)
 *
 * 200 while commits succeed; once the disk is full a submission is answered "500" and /healthz
 * turns 503; once space is freed /healthz is 200 again without any traffic (the store probes
 * with a one-page commit) and submissions are answered "200".
 *
 * A full disk needs a small file system of its own: a tmpfs, which only root can mount. Without
 * that the test is skipped for a developer; under CI=true it fails.
 */
import { closeSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { MajordomoClient } from '@zpatterns/majordomo';
import { appBin, Daemon, mountSmallDisk } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const disk = mountSmallDisk(2);
const mounted = disk !== undefined;
const mountPoint = disk?.path ?? '';
afterAll(() => disk?.unmount());

const health = async (url: string): Promise<number> => (await fetch(`${url}/healthz`)).status;

/** Write zeros into `path` until the file system is full. */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!mounted)('titanic on SQLite when the disk fills up', () => {
  it('/healthz 503 and "500" for submissions while commits fail, 200 again once they succeed', async () => {
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [
        '--with-broker',
        '--broker',
        'tcp://127.0.0.1:*',
        '--data-dir',
        join(mountPoint, 'data'),
        '--metrics-port',
        '0',
      ],
    });
    const url = titanic.ready['metrics'] as string;
    await using client = await MajordomoClient.start({
      broker: titanic.ready['broker'] as string,
      attemptTimeoutMs: 10_000,
      retries: 0,
    });
    const submit = async (): Promise<string> =>
      (await client.request('titanic.request', ['nobody', 'hello']))[0]?.toString() ?? '';

    expect(await health(url)).toBe(200);
    expect(await submit()).toBe('200');

    const filler = join(mountPoint, 'filler');
    fillUp(filler);
    expect(await submit()).toBe('500');
    expect(await health(url)).toBe(503);
    expect(await submit()).toBe('500');
    expect(await health(url)).toBe(503);

    unlinkSync(filler);
    const freedAt = Date.now();
    await expect.poll(() => health(url), { timeout: 10_000, interval: 50 }).toBe(200);
    const healthyAfterMs = Date.now() - freedAt;
    console.log(`/healthz 200 again ${healthyAfterMs} ms after space was freed (no traffic meanwhile)`);
    // The probe commits once a second: 200 within that, plus 1 s for scheduling on a loaded machine.
    expect(healthyAfterMs).toBeLessThanOrEqual(1000 + 1000);
    expect(await submit()).toBe('200');
    expect(await titanic.stop()).toEqual({ code: 0, signal: null });
  }, 30_000);
});
