import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { BindError, KeyFileError, ZPatternsError } from '@zpatterns/core';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { describeStartupFailure, prepareDataDir, reportStartupFailure, startupFailureLine } from '../src/startup.js';

function errno(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

const root = mkdtempSync(join(tmpdir(), 'zpat-startup-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the start-up failure line', () => {
  it('a bind error of any package: cannot bind <endpoint>: <why> (ERR_BIND)', () => {
    const zmq = errno('EADDRINUSE', 'Address already in use', { errno: 98, address: 'tcp://127.0.0.1:5555' });
    class BrokerBindError extends BindError {}
    const wrapped = new BrokerBindError('tcp://127.0.0.1:5555', 'broker could not bind tcp://127.0.0.1:5555', {
      cause: zmq,
    });
    expect(startupFailureLine('mdbroker', wrapped)).toBe(
      'mdbroker: cannot bind tcp://127.0.0.1:5555: address in use (ERR_BIND)',
    );
    // A raw zeromq error says the same.
    expect(startupFailureLine('ppqueue', zmq)).toBe(
      'ppqueue: cannot bind tcp://127.0.0.1:5555: address in use (ERR_BIND)',
    );
    // And a raw net error (an HTTP listener).
    const net = errno('EADDRINUSE', 'listen EADDRINUSE', { address: '127.0.0.1', port: 9100 });
    expect(startupFailureLine('x', net)).toBe('x: cannot bind 127.0.0.1:9100: address in use (ERR_BIND)');
    const other = new BindError('tcp://10.9.9.9:5555', undefined, {
      cause: errno('EADDRNOTAVAIL', 'Cannot assign requested address'),
    });
    expect(startupFailureLine('x', other)).toBe(
      'x: cannot bind tcp://10.9.9.9:5555: address not available on this host (ERR_BIND)',
    );
  });

  it('a coded error: its message, a quoted system error said in short words, and its code', () => {
    const cause = errno('ENOENT', "ENOENT: no such file or directory, open '/k/server.key'");
    const err = new KeyFileError('/k/server.key', `cannot read secret key file /k/server.key: ${cause.message}`, {
      cause,
    });
    expect(describeStartupFailure(err)).toEqual({
      message: 'cannot read secret key file /k/server.key: no such file or directory',
      code: 'ERR_KEY_FILE',
    });
    const store = new ZPatternsError('ERR_TITANIC_STORE', 'cannot open store postgres://u@db/t:\nconnection refused');
    expect(startupFailureLine('titanic', store)).toBe(
      'titanic: cannot open store postgres://u@db/t: connection refused (ERR_TITANIC_STORE)',
    );
  });

  it('anything else: cannot start: <why> (ERR_START)', () => {
    expect(startupFailureLine('x', new Error('Boom'))).toBe('x: cannot start: boom (ERR_START)');
    expect(startupFailureLine('x', 'text')).toBe('x: cannot start: text (ERR_START)');
  });

  it('is one line on stderr, exit code 1; the stack is logged only at debug', () => {
    const run = (level: string): { code: number; err: string; log: string } => {
      let err = '';
      let log = '';
      const stderr = new Writable({ write: (c: Buffer, _e, done) => ((err += c.toString()), done()) });
      const out = new Writable({ write: (c: Buffer, _e, done) => ((log += c.toString()), done()) });
      const logger = pino({ level }, out);
      const code = reportStartupFailure('mdbroker', new Error('boom'), { logger, stderr });
      return { code, err, log };
    };
    const quiet = run('info');
    expect(quiet).toEqual({ code: 1, err: 'mdbroker: cannot start: boom (ERR_START)\n', log: '' });
    const debug = run('debug');
    expect(debug.err).toBe('mdbroker: cannot start: boom (ERR_START)\n');
    expect(debug.log).toContain('"stack":"Error: boom');
  });
});

describe('prepareDataDir', () => {
  it('creates the directory and its parents', () => {
    const dir = join(root, 'a', 'b', 'c');
    expect(prepareDataDir(dir)).toBe(dir);
    expect(prepareDataDir(dir)).toBe(dir);
  });

  it('says which path is a file: the directory itself, or one above it', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect(() => prepareDataDir(file)).toThrow(`cannot use data directory ${file}: it is a file, not a directory`);
    expect(() => prepareDataDir(join(file, 'sub', 'dir'))).toThrow(
      `cannot use data directory ${join(file, 'sub', 'dir')}: ${file} is a file, not a directory`,
    );
    try {
      prepareDataDir(file);
    } catch (err) {
      expect(startupFailureLine('titanic', err)).toBe(
        `titanic: cannot use data directory ${file}: it is a file, not a directory (ERR_DATA_DIR)`,
      );
    }
  });
});
