/**
 * The shared lifecycle of a BinaryStar node and of the client `createBinaryStarClient` returns, on
 * real sockets: close twice, `await using`, `closed()`.
 */
import { BinaryStar, createBinaryStarClient } from '@zpatterns/bstar';
import { ipcEndpoint, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

function node(): BinaryStar {
  return new BinaryStar({
    role: 'primary',
    stateBind: ipcEndpoint('bstar-life-p'),
    stateConnect: ipcEndpoint('bstar-life-b'),
    heartbeatMs: 50,
  });
}

describe('Binary Star lifecycle', () => {
  it('BinaryStar: close twice and closed(), started or never started', async () => {
    const started = node();
    await started.start();
    await expectClosesOnce(started);
    await expectClosesOnce(node());
  });

  it('await using closes a node and a client', async () => {
    let kept: LongLived[] = [];
    {
      await using star = node();
      await star.start();
      await using client = createBinaryStarClient(['tcp://127.0.0.1:5', 'tcp://127.0.0.1:6']);
      kept = [star, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('the Binary Star client: close twice, closed()', async () => {
    await expectClosesOnce(createBinaryStarClient(['tcp://127.0.0.1:5', 'tcp://127.0.0.1:6']));
  });
});
