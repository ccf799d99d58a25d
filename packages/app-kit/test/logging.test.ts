import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createRootLogger, type RootLoggerOptions } from '../src/logging.js';

function capture(options: Omit<RootLoggerOptions, 'destination'>): {
  logger: ReturnType<typeof createRootLogger>;
  lines: () => string[];
} {
  let text = '';
  const destination = new Writable({ write: (c: Buffer, _e, done) => ((text += c.toString()), done()) });
  const logger = createRootLogger({ ...options, destination });
  return { logger, lines: () => text.split('\n').filter((l) => l !== '') };
}

describe('createRootLogger', () => {
  it('a component inside a component: the key once, with the inner value', () => {
    const { logger, lines } = capture({ name: 'titanic' });
    logger.child({ component: 'titanic' }).child({ component: 'mdp-worker', service: 'titanic.request' }).warn('x');
    const [raw = ''] = lines();
    expect(raw.match(/"component"/g)).toHaveLength(1);
    expect(JSON.parse(raw)).toMatchObject({ name: 'titanic', component: 'mdp-worker', service: 'titanic.request' });
  });

  it('demote: the chosen lines at debug, others unchanged', () => {
    const demote = (msg: string, b: Record<string, unknown>): boolean =>
      msg === 'worker ready' && String(b['service']).startsWith('titanic.');
    const info = capture({ name: 't', demote });
    info.logger.child({ service: 'titanic.reply' }).info({ worker: 'a' }, 'worker ready');
    info.logger.info({ worker: 'c', service: 'titanic.close' }, 'worker ready');
    info.logger.child({ service: 'echo' }).info({ worker: 'b' }, 'worker ready');
    expect(info.lines().map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { level: 30, service: 'echo', worker: 'b' },
    ]);
    const debug = capture({ name: 't', level: 'debug', demote });
    debug.logger.child({ service: 'titanic.reply' }).info({ worker: 'a' }, 'worker ready');
    expect(debug.lines().map((l) => JSON.parse(l) as Record<string, unknown>)).toMatchObject([
      { level: 20, service: 'titanic.reply', worker: 'a', msg: 'worker ready' },
    ]);
  });

  it('--pretty into a stream that is not a terminal: no colour codes', () => {
    const { logger, lines } = capture({ name: 't', pretty: true });
    logger.warn({ n: 1 }, 'hello');
    expect(lines().join('\n')).toContain('hello');
    expect(lines().join('\n')).not.toContain('\u001b[');
  });
});

describe('errors in log lines', () => {
  it('no stack above debug; the stack at debug', () => {
    const err = new Error('outer', { cause: new Error('inner') });
    const info = capture({ name: 't' });
    info.logger.warn({ err }, 'failed');
    expect(info.lines()[0]).not.toContain('"stack"');
    const line = JSON.parse(info.lines()[0] ?? '{}') as { err: { type: string; message: string } };
    expect(line.err.type).toBe('Error');
    expect(line.err.message).toContain('outer');
    const debug = capture({ name: 't', level: 'debug' });
    debug.logger.warn({ err }, 'failed');
    expect(debug.lines()[0]).toContain('"stack":"Error: outer');
  });
});
