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
  .option('--count <n>', 'how many', intFlag(1, 10), 3);
program.parse();
const logger = createRootLogger({ name: 'toyd' });
process.exitCode = await runDaemon({
  logger,
  async start() {
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

describe('flags', () => {
  it.each([
    [['--count', 'x'], /expected a whole number, got 'x'/],
    [['--count', '11'], /expected a number from 1 to 10, got 11/],
    [['--bind', 'http://nope'], /expected an endpoint/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
  ])('%j: one line on stderr, exit code 2', async (args, message) => {
    const result = await run(args);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^toyd: error: /);
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
