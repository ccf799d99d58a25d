/**
 * The shared lifecycle of a BinaryStar node and of a BinaryStarClient, on real sockets: close
 * twice, `await using`, `closed()`, nothing opened before `start()`.
 */
import { BinaryStar, BinaryStarClient, binaryStarClientDefaults } from '@zpatterns/bstar';
import { ipcEndpoint, expectClosesOnce, type LongLived } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

function node(): BinaryStar {
  return new BinaryStar({
    role: 'primary',
    stateBind: ipcEndpoint('bstar-life-p'),
    stateConnect: ipcEndpoint('bstar-life-b'),
    heartbeatIntervalMs: 50,
  });
}

const servers = ['tcp://127.0.0.1:5', 'tcp://127.0.0.1:6'];

describe('Binary Star lifecycle', () => {
  it('BinaryStar: close twice and closed(), started or never started', async () => {
    const started = node();
    await started.start();
    await expectClosesOnce(started);
    await expectClosesOnce(node());
  });

  it('BinaryStar: new opens nothing; endpoints, vote() and serve() need start()', async () => {
    const star = node();
    expect(() => star.endpoints).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    expect(() => star.vote()).toThrow(expect.objectContaining({ code: 'ERR_NOT_STARTED' }));
    await star.close();
    expect(star.vote()).toBe(false);
  });

  it('await using closes a node and a client', async () => {
    let kept: LongLived[] = [];
    {
      await using star = node();
      await star.start();
      await using client = await BinaryStarClient.start({ servers });
      kept = [star, client];
    }
    for (const target of kept) await expect(target.closed()).resolves.toBeUndefined();
  });

  it('the Binary Star client: close twice, closed(), started or never started; the bstar defaults apply', async () => {
    const client = await BinaryStarClient.start({ servers });
    await expectClosesOnce(client);
    await expectClosesOnce(new BinaryStarClient({ servers }));
    expect(binaryStarClientDefaults).toMatchObject({ attemptTimeoutMs: 1000, settleDelayMs: 2000, retries: 5 });
  });
});
