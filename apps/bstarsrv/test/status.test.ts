/**
 * bstarsrv's `/status` against the documented schema (docs/status.schema.json), for both servers
 * of a real pair:
 *
 *   test ──GET /status──▶ bstarsrv --ha primary ◀──state──▶ bstarsrv --ha backup ◀──GET /status── test
 */
import { appBin, Daemon, eventually, ipcEndpoint, validateSchema } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

interface Doc {
  pair: { role: string; state: string; peer: string; peerLastHeardMs: number | null; failovers: number };
}

describe('bstarsrv /status', () => {
  it('answers the documented schema on both servers: roles, states, the peer heard', async () => {
    const [a, b] = [ipcEndpoint('bstar-status-a'), ipcEndpoint('bstar-status-b')];
    const start = (role: string, bind: string, connect: string): Promise<Daemon> =>
      Daemon.start({
        bin: appBin('bstarsrv'),
        args: [
          ...['--ha', role, '--frontend', ipcEndpoint(`bstar-status-${role}`)],
          ...['--state-bind', bind, '--state-connect', connect, '--ha-heartbeat-ms', '100', '--metrics-port', '0'],
        ],
      });
    await using primary = await start('primary', a, b);
    await using backup = await start('backup', b, a);
    const read = async (d: Daemon): Promise<Doc> =>
      (await (await fetch(`${d.ready['metrics'] as string}/status`)).json()) as Doc;
    const [p, q] = await eventually(async () => {
      const docs = [await read(primary), await read(backup)];
      for (const d of docs) expect(d.pair.peer).toBe('alive');
      return docs;
    });
    for (const d of [p, q]) expect(validateSchema(d)).toEqual([]);
    expect(p?.pair).toMatchObject({ role: 'primary', failovers: 0 });
    expect(q?.pair).toMatchObject({ role: 'backup', state: 'passive', failovers: 0 });
    expect(q?.pair.peerLastHeardMs).toBeLessThan(10_000);
    expect(await backup.stop()).toEqual({ code: 0, signal: null });
    expect(await primary.stop()).toEqual({ code: 0, signal: null });
  });
});
