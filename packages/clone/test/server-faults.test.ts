/**
 * Server faults in one process, on real sockets: a journal commit that fails, the pending list of a
 * passive across a resync, concurrent snapshots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it, vi } from 'vitest';
import { CloneClient } from '../src/client.js';
import { CloneJournal } from '../src/journal.js';
import { CloneServer, type CloneServerOptions } from '../src/server.js';

vi.setConfig({ testTimeout: 60_000 });

const { track, defer } = useDisposables();

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clone-faults-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function server(options: CloneServerOptions = {}): Promise<CloneServer> {
  const s = track(new CloneServer({ hugzIntervalMs: 50, flushIntervalMs: 50, ...options }));
  await s.start();
  return s;
}

async function client(s: CloneServer, commitTimeoutMs = 10_000): Promise<CloneClient> {
  const c = track(new CloneClient({ servers: [{ ...s.endpoints }], serverTtlMs: 2000, commitTimeoutMs }));
  await c.start();
  return c;
}

describe('journal commit failure', () => {
  it('applies nothing a failed commit held: no snapshot serves it, HUGZ keeps the committed sequence', async () => {
    const s = await server({ dataDir: tempDir() });
    const c = await client(s, 1500);
    expect(await c.commit('/ok', '1')).toBe(1n);
    const write = vi.spyOn(CloneJournal.prototype, 'write').mockImplementationOnce(() => {
      throw new Error('disk full');
    });
    defer(() => write.mockRestore());
    await expect(c.commit('/lost', 'never published')).rejects.toMatchObject({ code: 'ERR_TIMEOUT' });
    expect(write).toHaveBeenCalled();
    expect(s.sequence).toBe(1n);
    expect(s.health).toMatchObject({ ok: false });
    const fresh = await client(s);
    expect(fresh.get('/lost')).toBeUndefined();
    // the next commit gets the next sequence, and nobody resyncs on a HUGZ ahead of them
    expect(await c.commit('/next', '2')).toBe(2n);
    await eventually(() => fresh.get('/next') !== undefined, { what: 'fresh client follows' });
    expect(c.stats.gaps + fresh.stats.gaps).toBe(0);
  });
});
