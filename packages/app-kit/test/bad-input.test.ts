/**
 * Every mistake an operator can make when starting a daemon, run against the built daemons as real
 * processes, a table per kind of mistake:
 *
 *   bad flag        ─▶ one line on stderr `<daemon>: error: --flag: ...`, exit 2
 *   cannot start    ─▶ one line on stderr `<daemon>: <what> (<CODE>)`, exit 1, no stats line
 *   Ctrl-C          ─▶ exit 0 within 1 s, also while Titanic still waits for its broker
 *
 * and never a stack trace (no `    at ` line) on stderr or stdout. A process that cannot start
 * exits as soon as it knows (well under the 5 s a timer would take). Cases run a few at a time.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appBin, curveFixture, Daemon, freePortRange } from '@zpatterns/testkit';

const ANY = 'tcp://127.0.0.1:*';
/**
 * From the one stderr line to the exit: a failure is reported once it is known, and then nothing
 * may keep the process alive (an open socket or a timer made mdbroker linger 5 s). Measured from
 * the line, not from the spawn, so a loaded machine's slow start does not count.
 */
const EXIT_AFTER_LINE_MS = 1000;
/** Processes of this file running at once (the machine has 2 cores). */
const AT_ONCE = 3;
/** What the docs promise for Ctrl-C. */
const CTRL_C_MS = 1000;

type Bin = 'mdbroker' | 'titanic' | 'ppqueue' | 'bstarsrv' | 'flserver' | 'clonesrv';
const BINS: readonly Bin[] = ['mdbroker', 'titanic', 'ppqueue', 'bstarsrv', 'flserver', 'clonesrv'];

let dir = '';
let held: Server;
/** A loopback port a plain TCP listener holds for the whole file. */
let busy = 0;
/** A loopback port nobody listens on (taken and released). */
let closed = 0;
/** clonesrv's base port: free when the file starts, and the port after it held for the whole file. */
let cloneBase = 0;
let cloneHeld: Server;
let file = '';

function listen(port = 0): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zpat-bad-input-'));
  file = join(dir, 'a-file');
  writeFileSync(file, 'not a directory');
  held = await listen();
  busy = (held.address() as { port: number }).port;
  const probe = await listen();
  closed = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r));
  cloneBase = await freePortRange(2);
  cloneHeld = await listen(cloneBase + 1);
});
afterAll(async () => {
  await new Promise((r) => held.close(r));
  await new Promise((r) => cloneHeld.close(r));
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Arguments of each daemon with ephemeral ports and a private data directory; clonesrv's base port
 * is one nobody listens on, enough for a run that stops before binding (`serving` is for one that binds).
 */
function base(bin: Bin): string[] {
  switch (bin) {
    case 'mdbroker':
      return ['--bind', ANY];
    case 'titanic':
      return ['--with-broker', '--broker', ANY, '--data-dir', join(dir, `titanic-${Math.random()}`)];
    case 'ppqueue':
      return ['--frontend', ANY, '--backend', ANY];
    case 'bstarsrv':
      return ['--ha', 'primary', '--frontend', ANY, '--state-bind', ANY];
    case 'flserver':
      return ['--bind', ANY];
    case 'clonesrv':
      return ['--port', String(closed)];
  }
}

/** Arguments for a daemon that will bind: clonesrv gets three consecutive free ports. */
async function serving(bin: Bin): Promise<string[]> {
  return bin === 'clonesrv' ? ['--port', String(await freePortRange(3))] : base(bin);
}

/** A slot among `AT_ONCE`: resolves when this process may start; call the result when done. */
const waiting: (() => void)[] = [];
let running = 0;
async function slot(): Promise<() => void> {
  if (running >= AT_ONCE) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  return () => {
    running--;
    waiting.shift()?.();
  };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  ms: number;
  /** From the first stderr output to exit. */
  afterStderrMs?: number;
  /** From the signal (sent once `until` matched stdout) to exit. */
  afterSignalMs?: number;
}

/** Run a daemon; with `until`, send `signal` once stdout matches it and time the exit. */
async function run(
  bin: Bin,
  args: readonly string[],
  options: { env?: Record<string, string>; until?: RegExp; signal?: NodeJS.Signals; timeoutMs?: number } = {},
): Promise<Run> {
  const done = await slot();
  try {
    return await runNow(bin, args, options);
  } finally {
    done();
  }
}

function runNow(
  bin: Bin,
  args: readonly string[],
  options: { env?: Record<string, string>; until?: RegExp; signal?: NodeJS.Signals; timeoutMs?: number },
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    let signalledAt: number | undefined;
    let stderrAt: number | undefined;
    const child = spawn(process.execPath, [appBin(bin), ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (options.until !== undefined && signalledAt === undefined && options.until.test(stdout)) {
        signalledAt = performance.now();
        child.kill(options.signal ?? 'SIGINT');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderrAt ??= performance.now();
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${bin} ${args.join(' ')}: no exit within ${options.timeoutMs ?? 20_000} ms\n${stdout}${stderr}`),
      );
    }, options.timeoutMs ?? 20_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      const now = performance.now();
      resolve({
        code,
        stdout,
        stderr,
        ms: now - started,
        ...(signalledAt === undefined ? {} : { afterSignalMs: now - signalledAt }),
        ...(stderrAt === undefined ? {} : { afterStderrMs: now - stderrAt }),
      });
    });
  });
}

/** Exactly one line on stderr, matching `line`; no stack trace, on stderr or in a log line. */
function expectOneLine(result: Run, line: RegExp): void {
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(line);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stdout).not.toContain('"stack"');
}

interface Case {
  bin: Bin;
  args: () => string[];
  env?: Record<string, string>;
  line: () => RegExp;
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The flag each daemon binds its clients' socket with, and a port out of range on it. */
const mainBind: Record<Bin, string> = {
  mdbroker: '--bind',
  titanic: '--broker',
  ppqueue: '--frontend',
  bstarsrv: '--frontend',
  flserver: '--bind',
  clonesrv: '--port',
};

const usageCases: Case[] = [
  // The same port rule everywhere, clonesrv's base port included.
  ...BINS.map((bin) => ({
    bin,
    args: () => [...base(bin), mainBind[bin], bin === 'clonesrv' ? '99999' : 'tcp://127.0.0.1:99999'],
    line: () => new RegExp(`^${bin}: error: ${mainBind[bin]}: port 99999 is out of range \\(1-65535\\)$`),
  })),
  ...BINS.map((bin) => ({
    bin,
    args: () => [...base(bin), '--metrics-port', '70000'],
    line: () => new RegExp(`^${bin}: error: --metrics-port: 70000 is out of range \\(0-65535\\)$`),
  })),
  ...BINS.map((bin) => ({
    bin,
    args: () => [...base(bin), '--no-such-flag'],
    line: () => new RegExp(`^${bin}: error: unknown option '--no-such-flag'$`),
  })),
  {
    bin: 'clonesrv',
    args: () => ['--port', '65535'],
    line: () => /^clonesrv: error: --port: port 65535 leaves no room for ports 65535-65537 \(at most 65533\)$/,
  },
  {
    bin: 'clonesrv',
    args: () => ['--port', '0'],
    line: () => /^clonesrv: error: --port: port 0 is out of range \(1-65535\)$/,
  },
  {
    bin: 'clonesrv',
    args: () => ['--host', 'no such host'],
    line: () => /^clonesrv: error: --host: 'no such host' is not a host name or address/,
  },
  {
    bin: 'ppqueue',
    args: () => ['--frontend', ANY, '--backend', 'ws://127.0.0.1:5561'],
    line: () => /^ppqueue: error: --backend: transport 'ws' is not supported/,
  },
  {
    bin: 'ppqueue',
    args: () => ['--frontend', 'tcp://127.0.0.1:0'],
    line: () => /^ppqueue: error: --frontend: port 0 is out of range \(1-65535; use \* for any free port\)$/,
  },
  // `*` only where the flag binds.
  {
    bin: 'titanic',
    args: () => ['--broker', ANY],
    line: () => /^titanic: error: --broker: port '\*' only makes sense for a bind/,
  },
  {
    bin: 'bstarsrv',
    args: () => [...base('bstarsrv'), '--state-connect', 'tcp://*:5583'],
    line: () => /^bstarsrv: error: --state-connect: host '\*' only makes sense for a bind/,
  },
  {
    bin: 'mdbroker',
    args: () => [...base('mdbroker'), '--ha', 'primary', '--state-bind', ANY, '--state-connect', ANY],
    line: () => /^mdbroker: error: --state-connect: port '\*' only makes sense for a bind/,
  },
  {
    bin: 'flserver',
    args: () => [...base('flserver'), '--endpoint', 'tcp://127.0.0.1:65536'],
    line: () => /^flserver: error: --endpoint: port 65536 is out of range \(1-65535\)$/,
  },
  {
    bin: 'bstarsrv',
    args: () => ['--frontend', ANY],
    line: () => /^bstarsrv: error: --ha is required \(primary or backup\)$/,
  },
  {
    bin: 'bstarsrv',
    args: () => ['--ha', 'third'],
    line: () => /^bstarsrv: error: --ha: 'third' is not one of primary, backup$/,
  },
  {
    bin: 'mdbroker',
    args: () => [...base('mdbroker'), '--metrics-port', '0', '--metrics-host', 'no such host'],
    line: () => /^mdbroker: error: --metrics-host: 'no such host' is not a host name or address \(or \*\)$/,
  },
  {
    bin: 'ppqueue',
    args: () => [],
    env: { ZPAT_PPQUEUE_FRONTEND: 'tcp://127.0.0.1:99999' },
    line: () => /^ppqueue: error: ZPAT_PPQUEUE_FRONTEND \(--frontend\): port 99999 is out of range \(1-65535\)$/,
  },
];

describe.concurrent('a bad flag: one line naming the flag, exit 2, at once', () => {
  it.each(usageCases.map((c) => ({ ...c, name: `${c.bin} ${c.args().join(' ')}` })))('$name', async (c) => {
    const result = await run(c.bin, c.args(), c.env === undefined ? {} : { env: c.env });
    expect(result.code).toBe(2);
    expectOneLine(result, c.line());
    expect(result.stdout).toBe('');
    expect(result.afterStderrMs).toBeLessThan(EXIT_AFTER_LINE_MS);
  });
});

const bindLine = (bin: Bin, endpoint: string): RegExp =>
  new RegExp(`^${bin}: cannot bind ${escape(endpoint)}: address in use \\(ERR_BIND\\)$`);

const startupCases: Case[] = [
  // The clients' port taken: mdbroker, ppqueue, bstarsrv, flserver, titanic's own broker, and one
  // of clonesrv's three.
  ...(['mdbroker', 'ppqueue', 'bstarsrv', 'flserver', 'titanic'] as const).map((bin) => ({
    bin,
    args: () => {
      const args = base(bin);
      args[args.indexOf(mainBind[bin]) + 1] = `tcp://127.0.0.1:${busy}`;
      return args;
    },
    line: () => bindLine(bin, `tcp://127.0.0.1:${busy}`),
  })),
  {
    bin: 'clonesrv',
    args: () => ['--port', String(cloneBase)],
    line: () => bindLine('clonesrv', `tcp://127.0.0.1:${cloneBase + 1}`),
  },
  // The metrics port taken.
  ...BINS.map((bin) => ({
    bin,
    args: () => [...base(bin), '--metrics-port', String(busy)],
    line: () => bindLine(bin, `http://127.0.0.1:${busy}`),
  })),
  // A data directory that is a file, or under one.
  ...(['titanic', 'clonesrv'] as const).flatMap((bin) => [
    {
      bin,
      args: () => [
        ...base(bin).filter((a, i, all) => a !== '--data-dir' && all[i - 1] !== '--data-dir'),
        '--data-dir',
        file,
      ],
      line: () =>
        new RegExp(
          `^${bin}: cannot use data directory ${escape(file)}: it is a file, not a directory \\(ERR_DATA_DIR\\)$`,
        ),
    },
    {
      bin,
      args: () => [
        ...base(bin).filter((a, i, all) => a !== '--data-dir' && all[i - 1] !== '--data-dir'),
        '--data-dir',
        join(file, 'titanic'),
      ],
      line: () =>
        new RegExp(
          `^${bin}: cannot use data directory ${escape(join(file, 'titanic'))}: ${escape(file)} is a file, not a directory \\(ERR_DATA_DIR\\)$`,
        ),
    },
  ]),
  // A key file that is missing.
  ...BINS.map((bin) => ({
    bin,
    args: () => [...base(bin), '--curve-secret-key-file', join(dir, 'missing.key')],
    line: () =>
      new RegExp(
        `^${bin}: cannot read secret key file ${escape(join(dir, 'missing.key'))}: no such file or directory \\(ERR_KEY_FILE\\)$`,
      ),
  })),
  // A store nobody serves.
  {
    bin: 'titanic',
    // A short broker expiry: it waits for its broker that long before it opens the store.
    args: () => [
      ...['--broker', `tcp://127.0.0.1:${closed}`, '--heartbeat-ms', '100', '--liveness', '1'],
      ...['--store', `postgres://titanic@127.0.0.1:${closed}/titanic`],
    ],
    line: () => /^titanic: cannot open the Titanic store on PostgreSQL: connection refused \(ERR_TITANIC_STORE\)$/,
  },
  // The same with the broker in the process: it was bound, but its stats are not a run's.
  {
    bin: 'titanic',
    args: () => ['--with-broker', '--broker', ANY, '--store', `postgres://titanic@127.0.0.1:${closed}/titanic`],
    line: () => /^titanic: cannot open the Titanic store on PostgreSQL: connection refused \(ERR_TITANIC_STORE\)$/,
  },
];

describe.concurrent('a start that fails: one line with its code, exit 1, at once, no stats', () => {
  it.each(startupCases.map((c) => ({ ...c, name: `${c.bin} ${c.args().join(' ')}` })))('$name', async (c) => {
    const result = await run(c.bin, c.args());
    expect(result.code).toBe(1);
    expectOneLine(result, c.line());
    // A run that never started has no end: no 'ready', no stats, no 'stopped'.
    expect(result.stdout).not.toMatch(/"msg":"(ready|stopped|final stats|broker stats|clone server closed)"/);
    expect(result.afterStderrMs).toBeLessThan(EXIT_AFTER_LINE_MS);
  });

  it('a data directory another server holds: one line, exit 1 (clonesrv, titanic)', async () => {
    const cloneDir = join(dir, 'clone-held');
    const titanicDir = join(dir, 'titanic-held');
    await using clone = await Daemon.start({
      bin: appBin('clonesrv'),
      args: [...(await serving('clonesrv')), '--data-dir', cloneDir],
    });
    await using titanic = await Daemon.start({
      bin: appBin('titanic'),
      args: [...base('titanic'), '--data-dir', titanicDir],
    });
    expect(clone.running && titanic.running).toBe(true);
    const second = await run('clonesrv', [...(await serving('clonesrv')), '--data-dir', cloneDir]);
    expect(second.code).toBe(1);
    expectOneLine(
      second,
      new RegExp(
        `^clonesrv: cannot use data directory ${escape(cloneDir)}: its journal is locked by another clonesrv \\(ERR_DATA_DIR\\)$`,
      ),
    );
    const again = await run('titanic', [...base('titanic'), '--data-dir', titanicDir]);
    expect(again.code).toBe(1);
    expectOneLine(again, /^titanic: cannot open the Titanic store at .*: database is locked \(ERR_TITANIC_STORE\)$/);
  });

  it('a key file others may read: one line naming the chmod, exit 1', async () => {
    const keys = curveFixture(['server']);
    const keyFile = keys.peers['server']?.keyFile ?? '';
    chmodSync(keyFile, 0o644);
    const result = await run('ppqueue', [...base('ppqueue'), '--curve-secret-key-file', keyFile]);
    expect(result.code).toBe(1);
    expectOneLine(result, /^ppqueue: .*mode 0644.*chmod 600.*\(ERR_KEY_FILE\)$/);
  });

  it('with --log-level debug the stack is in the log, and stderr still has the one line', async () => {
    const result = await run('flserver', ['--bind', `tcp://127.0.0.1:${busy}`, '--log-level', 'debug']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`flserver: cannot bind tcp://127.0.0.1:${busy}: address in use (ERR_BIND)\n`);
    expect(result.stdout).toContain('"msg":"failed to start"');
    expect(result.stdout).toContain('"stack":');
  });
});

describe.concurrent('Ctrl-C ends every daemon within 1 s', () => {
  it.each(BINS)('%s, once ready', async (bin) => {
    const result = await run(bin, await serving(bin), { until: /"msg":"ready"/ });
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.afterSignalMs).toBeLessThan(CTRL_C_MS);
    // One end-of-run line, with the run's counters.
    expect(result.stdout).toMatch(/"stats":\{.*"msg":"stopped"/);
    expect(result.stdout).not.toContain('"msg":"final stats"');
  });

  it('titanic waiting for a broker that does not answer: it says so at once, and Ctrl-C ends it', async () => {
    const args = ['--broker', `tcp://127.0.0.1:${closed}`, '--data-dir', join(dir, 'no-broker')];
    const early = await run('titanic', args, { until: /"msg":"broker not answering/ });
    expect(early.code).toBe(0);
    expect(early.afterSignalMs).toBeLessThan(CTRL_C_MS);
    // It said so after its one question of a second, by its own clock.
    const warning = JSON.parse(
      early.stdout.split('\n').find((l) => l.includes('broker not answering')) ?? '{}',
    ) as Record<string, unknown>;
    expect(warning['waitedMs']).toBeLessThan(2000);
    // And again, later, while it still does not answer; still no stack, nothing on stderr.
    const later = await run('titanic', args, { until: /"msg":"still no answer from the broker"/ });
    expect(later.code).toBe(0);
    expect(later.afterSignalMs).toBeLessThan(CTRL_C_MS);
    expect(later.stderr).toBe('');
    expect(later.stdout).not.toContain('"stack"');
  });

  it('titanic, Ctrl-C while it asks the broker during start-up', async () => {
    const args = [
      '--broker',
      `tcp://127.0.0.1:${closed}`,
      '--data-dir',
      join(dir, 'no-broker-2'),
      '--log-level',
      'debug',
    ];
    const result = await run('titanic', args, { until: /"msg":"asking the broker"/ });
    expect(result.code).toBe(0);
    expect(result.afterSignalMs).toBeLessThan(CTRL_C_MS);
  });
});

describe.concurrent('--shutdown-delay-ms without --metrics-port', () => {
  it.each(BINS)('%s keeps serving for the delay, then stops', async (bin) => {
    const result = await run(bin, [...(await serving(bin)), '--shutdown-delay-ms', '300'], {
      until: /"msg":"ready"/,
      signal: 'SIGTERM',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"delayMs":300,"msg":"draining');
    expect(result.afterSignalMs).toBeGreaterThanOrEqual(300);
  });
});

describe.concurrent('log lines', () => {
  it('--pretty into a pipe: no colour codes', async () => {
    const result = await run('ppqueue', [...base('ppqueue'), '--pretty'], { until: /ready/ });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ready');
    expect(result.stdout).not.toContain('\u001b[');
  });

  it("titanic: one component per line, its own workers' 'worker ready' at debug, the worker counts once", async () => {
    const result = await run('titanic', [...base('titanic'), '--request-workers', '3', '--reply-workers', '2'], {
      until: /"msg":"ready"/,
    });
    const lines = result.stdout.split('\n').filter((l) => l.startsWith('{'));
    for (const line of lines) expect(line.match(/"component":/g)?.length ?? 0, line).toBeLessThanOrEqual(1);
    expect(result.stdout).not.toContain('"msg":"worker ready"');
    const ready = JSON.parse(lines.find((l) => l.includes('"msg":"ready"')) ?? '{}') as Record<string, unknown>;
    expect(ready).toMatchObject({ requestWorkers: 3, replyWorkers: 2 });
    expect(ready).not.toHaveProperty('workers');
  });

  it('clonesrv: the sequence is a number; flserver: the endpoint once, and what is bound', async () => {
    const clone = await run('clonesrv', await serving('clonesrv'), { until: /"msg":"ready"/ });
    const cloneReady = JSON.parse(clone.stdout.split('\n').find((l) => l.includes('"msg":"ready"')) ?? '{}') as object;
    expect(cloneReady).toMatchObject({ sequence: 0 });
    const fl = await run('flserver', base('flserver'), { until: /"msg":"ready"/ });
    const flReady = JSON.parse(fl.stdout.split('\n').find((l) => l.includes('"msg":"ready"')) ?? '{}') as Record<
      string,
      unknown
    >;
    expect(flReady['endpoints']).toEqual([flReady['endpoint']]);
    expect(flReady).not.toHaveProperty('bound');
  });
});
