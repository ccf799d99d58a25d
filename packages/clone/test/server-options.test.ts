/**
 * CloneServer's options: the defaults fill what is absent or undefined, and a bad value throws
 * `InvalidArgumentError` in the one message style, from the constructor (nothing is opened).
 */
import { InvalidArgumentError } from '@zpatterns/core';
import { describe, expect, it } from 'vitest';
import { CloneServer, cloneServerDefaults, portEndpoints } from '../src/server.js';

describe('CloneServer options', () => {
  it.each([
    [{ heartbeatIntervalMs: 0 }, 'CloneServer: heartbeatIntervalMs must be a finite number > 0, got 0'],
    [{ maxPending: 1.5 }, 'CloneServer: maxPending must be a whole number > 0, got 1.5'],
    [{ lingerMs: -1 }, 'CloneServer: lingerMs must be a finite number >= 0, got -1'],
    [{ maxMessageBytes: 0 }, 'CloneServer: maxMessageBytes must be a whole number of bytes >= 1, or -1, got 0'],
    [{ snapshotBind: '' }, 'CloneServer: snapshotBind must be a non-empty string, got ""'],
    [
      {
        pair: {
          role: 'primary',
          stateBind: 'ipc://a',
          stateConnect: 'ipc://b',
          peer: 'tcp://h:1',
          heartbeatIntervalMs: -5,
        },
      },
      'CloneServer: pair.heartbeatIntervalMs must be a finite number > 0, got -5',
    ],
  ] as const)('%o is refused', (options, message) => {
    expect(() => new CloneServer(options)).toThrow(InvalidArgumentError);
    expect(() => new CloneServer(options)).toThrow(message);
  });

  it('takes undefined for every option as its default', () => {
    const undefinedAll = Object.fromEntries(Object.keys(cloneServerDefaults).map((k) => [k, undefined]));
    expect(() => new CloneServer(undefinedAll)).not.toThrow();
    expect(() => new CloneServer({ maxMessageBytes: -1 })).not.toThrow();
  });

  it('portEndpoints gives the book layout as the three bind options', () => {
    expect(portEndpoints(5590)).toEqual({
      snapshotBind: 'tcp://127.0.0.1:5590',
      publisherBind: 'tcp://127.0.0.1:5591',
      collectorBind: 'tcp://127.0.0.1:5592',
    });
  });

  it('endpoints: NotStartedError before start', () => {
    expect(() => new CloneServer().endpoints).toThrow(/not started/);
  });
});
