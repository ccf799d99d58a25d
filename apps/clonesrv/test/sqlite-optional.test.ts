/**
 * clonesrv where better-sqlite3 cannot be found (a module hook sends every import of it to a
 * package that does not exist): it serves in memory, since nothing loads the driver without
 * --data-dir; with --data-dir it fails to start with one line on stderr that says what to install.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CloneClient } from '@zpatterns/clone';
import { appBin, Daemon, freePortRange, runCli, useDisposables } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

const { track, defer } = useDisposables();

/** NODE_OPTIONS that hide better-sqlite3 from the process. */
function withoutSqlite(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'clonesrv-nosqlite-'));
  defer(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function resolve(specifier, context, next) {
  return next(specifier === 'better-sqlite3' ? 'better-sqlite3-is-not-installed' : specifier, context);
}\n`,
  );
  writeFileSync(
    join(dir, 'register.mjs'),
    `import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n`,
  );
  return { NODE_OPTIONS: `--import ${pathToFileURL(join(dir, 'register.mjs')).href}` };
}

describe('clonesrv without better-sqlite3', () => {
  it('serves in memory: the driver is loaded only for --data-dir', async () => {
    const port = await freePortRange(3);
    track(await Daemon.start({ bin: appBin('clonesrv'), args: ['--port', String(port)], env: withoutSqlite() }));
    const client = track(new CloneClient({ servers: [`tcp://127.0.0.1:${port}`], peerTtlMs: 2000 }));
    await client.start();
    expect(await client.commit('/k', 'v')).toBe(1n);
  });

  it('--data-dir: one line on stderr naming the package to install, exit 1', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'clonesrv-data-'));
    defer(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePortRange(3);
    const run = await runCli(appBin('clonesrv'), ['--port', String(port), '--data-dir', dataDir], {
      env: withoutSqlite(),
    });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain("CloneServer's dataDir needs the better-sqlite3 package: npm install better-sqlite3@12");
  });
});
