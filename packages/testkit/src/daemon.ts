/**
 * Run an app's bin as a real child process: wait for its JSON ready line, read its logs as data,
 * and SIGKILL / SIGSTOP / restart it. Crash-safety and failover tests are built on this.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One parsed JSON log line (pino shape: level, time, msg, plus fields). */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface DaemonOptions {
  /** Absolute path of the script to run with node, e.g. `appBin('mdbroker')`. */
  bin: string;
  args?: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  /** How long to wait for the ready line. @default 15000 */
  readyTimeoutMs?: number;
  /** Which log line means ready. @default msg === 'ready' */
  isReady?: (line: LogLine) => boolean;
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The built entry point of `apps/<name>` (tests run after `npm run build`). */
export function appBin(name: string): string {
  const bin = join(repoRoot, 'apps', name, 'dist', 'main.js');
  if (!existsSync(bin)) throw new Error(`${bin} does not exist: run 'npm run build' first`);
  return bin;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class Daemon implements AsyncDisposable {
  readonly options: DaemonOptions;
  /** Every JSON line the process has printed, across restarts. */
  readonly logs: LogLine[] = [];
  /** Lines that were not JSON (stderr, crashes). */
  readonly text: string[] = [];
  #child: ChildProcess | undefined;
  #exited: Promise<ExitStatus> = Promise.resolve({ code: null, signal: null });
  #ready: LogLine | undefined;
  #listeners = new Set<(line: LogLine) => void>();

  private constructor(options: DaemonOptions) {
    this.options = options;
  }

  /** Start the process and resolve once it has printed its ready line. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    await daemon.#spawn();
    return daemon;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The ready line of the current run. */
  get ready(): LogLine {
    if (this.#ready === undefined) throw new Error('daemon is not ready');
    return this.#ready;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Resolves when the current process exits. */
  get exited(): Promise<ExitStatus> {
    return this.#exited;
  }

  async #spawn(): Promise<void> {
    const { bin, args = [], env = {}, cwd, readyTimeoutMs = 15_000 } = this.options;
    const isReady = this.options.isReady ?? ((line: LogLine) => line.msg === 'ready');
    this.#ready = undefined;
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#exited = new Promise((resolveExit) => {
      // 'close', not 'exit': stdout and stderr are fully read by then, so `text` holds what the
      // process wrote while exiting (zeromq.js prints its linger warning at that very moment).
      child.once('close', (code, signal) => resolveExit({ code, signal }));
    });
    const onLine = (raw: string): void => {
      const line = parseLine(raw);
      if (line === undefined) {
        if (raw.trim() !== '') this.text.push(raw);
        return;
      }
      this.logs.push(line);
      for (const listener of this.#listeners) listener(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    try {
      // Only this run's lines: after a restart, `logs` still holds the previous run's ready line.
      // The listener is registered before any line of the new child can arrive.
      this.#ready = await this.waitForLog(isReady, readyTimeoutMs, false);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${bin} did not become ready: ${(err as Error).message}\n${this.text.slice(-20).join('\n')}`, {
        cause: err,
      });
    }
  }

  /** Call `listener` with every log line from now on, across restarts; returns the unsubscribe. */
  onLog(listener: (line: LogLine) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolve with the first log line (from now on, or already seen when `includePast`) for which
   * `predicate` holds. Rejects if the process exits or `timeoutMs` passes first.
   */
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs = 10_000, includePast = false): Promise<LogLine> {
    if (includePast) {
      const seen = this.logs.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
    }
    return new Promise((resolveLine, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching log line within ${timeoutMs} ms`));
      }, timeoutMs);
      const listener = (line: LogLine): void => {
        if (!predicate(line)) return;
        cleanup();
        resolveLine(line);
      };
      const child = this.#child;
      const onExit = (): void => {
        cleanup();
        reject(new Error('process exited while waiting for a log line'));
      };
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(listener);
        child?.off('exit', onExit);
      };
      this.#listeners.add(listener);
      child?.once('exit', onExit);
    });
  }

  /** Send a signal; for SIGKILL and SIGTERM/SIGINT, resolve with the exit status. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus> {
    if (!this.running) return this.#exited;
    this.#child?.kill(signal);
    return this.#exited;
  }

  /** Send a signal and return at once (`kill()` waits for the exit). */
  signal(signal: NodeJS.Signals): void {
    if (this.running) this.#child?.kill(signal);
  }

  /** Freeze the process (SIGSTOP): alive to the kernel, silent to its peers. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Start a new process with the same options (after a kill), waiting for ready again. */
  async restart(args?: readonly string[]): Promise<void> {
    if (this.running) await this.kill('SIGKILL');
    if (args !== undefined) this.options.args = args;
    await this.#spawn();
  }

  /** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
  async stop(graceMs = 5000): Promise<ExitStatus> {
    if (!this.running) return this.#exited;
    this.resume();
    this.#child?.kill('SIGTERM');
    const timer = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
    const status = await this.#exited;
    clearTimeout(timer);
    return status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

function parseLine(raw: string): LogLine | undefined {
  if (!raw.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null ? (value as LogLine) : undefined;
  } catch {
    return undefined;
  }
}

/** Run a CLI to completion and collect its output. */
export function runCli(
  bin: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${bin} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 20_000} ms`));
    }, options.timeoutMs ?? 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolveRun({ code, stdout, stderr });
    });
  });
}
