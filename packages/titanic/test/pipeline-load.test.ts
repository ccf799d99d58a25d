/**
 * The book's workload through Titanic, on default options: one client pipelines 100,000
 * `titanic.request` submissions, every one is acknowledged ("200" + UUID, stored durably in SQLite
 * first), and Titanic then dispatches all of them through one echo worker until every reply is
 * stored. Nothing is refused (the backlog bound is 250,000) and nothing is lost.
 *
 * As in majordomo's pipeline-load test, the broker's `requestTtlMs` is raised: 100,000 submissions
 * queued at once wait for one Titanic request worker, which is a question of machine speed, not
 * of any bound.
 *
 *   pipeline ──100,000 × titanic.request──▶ broker ──▶ Titanic (SQLite, group commit) ──"200"+UUID──▶
 *   Titanic dispatcher ──echo──▶ broker ──▶ 1 echo worker ──▶ reply stored (pending → done)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Broker, MajordomoPipeline, MajordomoWorker } from '@zpatterns/majordomo';
import { eventually, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';
import { SqliteStore, TitanicServer } from '../src/index.js';
import { decodeSubmitted, encodeSubmit, TSP_SERVICE } from '../src/protocol.js';

const COUNT = 100_000;
const { track, defer } = useDisposables();

describe('the book workload through Titanic on default options', () => {
  it(
    '100,000 pipelined titanic.request submissions are all acknowledged and all answered',
    { timeout: 600_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'titanic-load-'));
      defer(() => rmSync(dataDir, { recursive: true, force: true }));
      const broker = track(await Broker.start({ bind: 'tcp://127.0.0.1:*', requestTtlMs: 3_600_000 }));
      const endpoint = broker.endpoints.clients[0] ?? '';
      const titanic = track(await TitanicServer.start({ broker: endpoint, store: new SqliteStore({ dataDir }) }));
      track(await MajordomoWorker.start({ broker: endpoint, service: 'echo', handler: (request) => request }));
      const pipeline = track(await MajordomoPipeline.start({ broker: endpoint }));

      const body = encodeSubmit(Buffer.from('echo'), [Buffer.from('Hello world')]);
      for (let i = 0; i < COUNT; i++) pipeline.send(TSP_SERVICE.REQUEST, body);
      const uuids = new Set<string>();
      for (let received = 0; received < COUNT; received++) {
        const reply = await pipeline.recv({ timeoutMs: 60_000 });
        const uuid = decodeSubmitted(reply.body);
        if (typeof uuid === 'string') uuids.add(uuid);
      }
      expect(uuids.size).toBe(COUNT);
      await eventually(async () => (await titanic.store.counts()).replied === COUNT, {
        timeoutMs: 540_000,
        intervalMs: 1000,
        what: 'every reply stored',
      });
      expect(await titanic.store.counts()).toMatchObject({ pending: 0, replied: COUNT });
      expect(titanic.stats.refused).toBe(0);
    },
  );
});
