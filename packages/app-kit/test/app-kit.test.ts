/**
 * app-kit in real processes: a tiny daemon built from the compiled package, signalled the moment
 * it prints its ready line, and a CLI given bad flags.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js');

const daemonScript = `
import { createProgram, createRootLogger, endpointFlag, intFlag, runDaemon } from ${JSON.stringify(dist)};
const program = createProgram('toyd', 'a toy daemon')
  .option('--bind <endpoint>', 'where', endpointFlag, 'ipc:///tmp/toyd-default')
  .option('--count <n>', 'how many', intFlag(1, 10), 3)
  .option('--fail', 'fail to start', false)
  .option('--debug', 'log at debug', false);
program.parse();
const logger = createRootLogger({ name: 'toyd', level: program.opts().debug ? 'debug' : 'info' });
process.exitCode = await runDaemon({
  logger,
  async start() {
    if (program.opts().fail) {
      const cause = Object.assign(new Error('Address already in use'), { code: 'EADDRINUSE', errno: 98 });
      throw Object.assign(new Error('could not bind', { cause }), { code: 'ERR_BIND', endpoint: 'tcp://127.0.0.1:5555' });
    }
    const keepAlive = setInterval(() => undefined, 1000);
    return { handle: { close: async () => clearInterval(keepAlive) }, ready: { endpoints: [program.opts().bind] } };
  },
});
`;

function run(args: string[], onLine?: (line: Record<string, unknown>, kill: (s: NodeJS.Signals) => void) => void) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', daemonScript, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  createInterface({ input: child.stdout }).on('line', (raw) => {
    const line = JSON.parse(raw) as Record<string, unknown>;
    lines.push(line);
    onLine?.(line, (s) => child.kill(s));
  });
  return new Promise<{ code: number | null; lines: Record<string, unknown>[]; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, lines, stderr })),
  );
}

describe('runDaemon', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s sent the instant the ready line appears: clean stop, exit 0',
    async (signal) => {
      const result = await run(['--bind', 'ipc:///tmp/toyd'], (line, kill) => {
        if (line['msg'] === 'ready') kill(signal);
      });
      expect(result.code).toBe(0);
      expect(result.lines.map((l) => l['msg'])).toEqual(['ready', 'shutting down', 'stopped']);
      expect(result.lines[0]).toMatchObject({ name: 'toyd', endpoints: ['ipc:///tmp/toyd'] });
    },
  );
});

describe('runDaemon: a start that fails', () => {
  it('is one line on stderr, exit code 1, and no log line at all', async () => {
    const result = await run(['--fail']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('toyd: cannot bind tcp://127.0.0.1:5555: address in use (ERR_BIND)\n');
    expect(result.lines).toEqual([]);
  });

  it('with --log-level debug the stack is logged too (stdout), the stderr line is the same', async () => {
    const result = await run(['--fail', '--debug']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('toyd: cannot bind tcp://127.0.0.1:5555: address in use (ERR_BIND)\n');
    expect(result.lines).toHaveLength(1);
    expect(result.lines[0]).toMatchObject({ msg: 'failed to start', err: { code: 'ERR_BIND' } });
    expect(JSON.stringify(result.lines[0])).toContain('"stack":"Error: could not bind');
  });
});

describe('flags', () => {
  it.each([
    [['--count', 'x'], /^toyd: error: --count: expected a whole number, got 'x'$/],
    [['--count', '11'], /^toyd: error: --count: 11 is out of range \(1-10\)$/],
    [['--bind', 'http://nope'], /^toyd: error: --bind: transport 'http' is not supported/],
    [['--bind', 'tcp://127.0.0.1:99999'], /^toyd: error: --bind: port 99999 is out of range \(1-65535\)$/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
  ])('%j: one line on stderr, exit code 2', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr.trim()).toMatch(message);
  });

  it('--help shows the defaults and exits 0', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', daemonScript, '--', '--help']);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise((r) => child.once('close', r));
    expect(code).toBe(0);
    expect(out).toContain('(default: "ipc:///tmp/toyd-default")');
    expect(out).toContain('(default: 3)');
  });
});
