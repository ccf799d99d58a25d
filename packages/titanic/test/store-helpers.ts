/** What the store tests share: temporary data directories, fresh PostgreSQL schemas, readers. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { generateUuid } from '../src/protocol.js';
import type { StoreWrite, TitanicStore } from '../src/store.js';

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** A maker of temporary directories, removed after each test of the calling file. */
export function useTempDirs(): () => string {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), 'titanic-store-'));
    dirs.push(dir);
    return dir;
  };
}

let schemas = 0;
/** A fresh schema per store, so every PostgreSQL test starts from an empty database. */
export function freshSchema(): string {
  return `t${process.pid}_${Date.now().toString(36)}_${schemas++}`;
}

/** The UUIDs `store.pending()` lists, in its order. */
export async function collect(store: TitanicStore): Promise<string[]> {
  const out: string[] = [];
  for await (const ref of store.pending()) out.push(ref.uuid);
  return out;
}

/** Stores `n` requests and their replies in one batch. */
export async function replied(store: TitanicStore, n: number): Promise<void> {
  const uuids = Array.from({ length: n }, () => generateUuid());
  await store.write([
    ...uuids.map((uuid): StoreWrite => ({ type: 'request', uuid, service: b('s'), body: [] })),
    ...uuids.map((uuid): StoreWrite => ({ type: 'reply', uuid, body: [b('r')] })),
  ]);
}
