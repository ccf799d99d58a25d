/**
 * `zpat top` against a live mdbroker, through a pseudo-terminal (util-linux `script`): it shows
 * the service a real worker registered, redraws when a second worker joins, and quits on `q` and
 * on Ctrl-C, giving the terminal back (exit 0).
 *
 *   test ──keys──▶ script (pty) ──▶ zpat top ──GET /status──▶ mdbroker --metrics-port 0 ◀── workers
 */
import { spawn } from 'node:child_process';
import { MajordomoWorker } from '@zpatterns/majordomo';
import { appBin, Daemon, eventually } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const LEAVE = '\u001b[?25h\u001b[?1049l';
/** Terminal control sequences (cursor moves, clears), dropped to read the text. */
const CONTROL = new RegExp(`${'\u001b'}\\[[0-9;?]*[A-Za-z]`, 'g');

/** `zpat top` in a 120x50 pseudo-terminal; `screen()` is the text of the last frame drawn. */
function topInPty(metrics: string) {
  const command = `stty rows 50 cols 120; exec node ${appBin('zpat')} top --metrics ${metrics} --interval-ms 200`;
  const child = spawn('script', ['-qfc', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    screen: (): string => {
      const frames = output.split('\u001b[H');
      return (frames.at(-1) ?? '').replace(CONTROL, '');
    },
    output: (): string => output,
    key: (k: string): boolean => child.stdin.write(k),
    exited,
  };
}

describe('zpat top', () => {
  it('shows a live broker in a terminal, redraws as workers join, quits on q and Ctrl-C', async () => {
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

    const top = topInPty(url);
    // SERVICES columns: name, workers, idle workers, ...
    await eventually(() => /^ {2}echo +1 +1 /m.test(top.screen()), { timeoutMs: 15_000 });
    expect(top.screen()).toMatch(/^mdbroker {2}pid \d+/);
    await using second = worker();
    await second.start();
    await eventually(() => /^ {2}echo +2 +2 /m.test(top.screen()), { timeoutMs: 15_000 });
    top.key('q');
    expect(await top.exited).toBe(0);
    expect(top.output().trimEnd().endsWith(LEAVE)).toBe(true);

    const again = topInPty(url);
    await eventually(() => again.screen().includes('SERVICES'), { timeoutMs: 15_000 });
    again.key('\u0003'); // Ctrl-C, as a raw terminal delivers it
    expect(await again.exited).toBe(0);
    expect(again.output().trimEnd().endsWith(LEAVE)).toBe(true);
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
