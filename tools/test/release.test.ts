/**
 * What a user of the published packages gets: every public package is packed as `npm pack` would
 * publish it, checked with publint and (for libraries) Are the Types Wrong, and the tarballs are
 * installed with plain npm into a project outside the monorepo. There a plain-JS ESM service runs
 * a broker, a worker and a client from the tarballs, a TypeScript consumer (node16, strict)
 * type-checks against every library, and a daemon's bin starts. Then each library alone: its
 * tarball and those of its @zpatterns dependencies, in an empty project of its own, type-check a
 * strict consumer (`exactOptionalPropertyTypes`, `skipLibCheck: false`), and the client packages
 * bring no store driver (`better-sqlite3`, `pg`).
 *
 * Needs `npm run build` first (as `npm test` does). Installs from npm's cache when it can.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicPackages } from '../workspaces.mjs';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const packages = publicPackages(root);
const libraries = packages.filter((p) => p.library);

let work: string;
const tarballs = new Map<string, string>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'zpatterns-release-'));
  const args = ['pack', ...packages.flatMap((p) => ['-w', p.name]), '--pack-destination', work, '--json'];
  const { stdout } = await run('npm', args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  for (const entry of JSON.parse(stdout) as { name: string; filename: string }[]) {
    tarballs.set(entry.name, join(work, entry.filename));
  }
}, 120_000);

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe.each(packages)('$name', (pkg) => {
  it('has the metadata a registry page needs, a README that opens with how to install or run it, and a changelog', async () => {
    const m = pkg.manifest as Record<string, unknown> & { repository?: { directory?: string }; files?: string[] };
    expect(m['repository']).toMatchObject({ type: 'git', directory: pkg.dir.slice(root.length + 1) });
    expect(typeof m['homepage']).toBe('string');
    expect(typeof (m['bugs'] as { url?: unknown } | undefined)?.url).toBe('string');
    expect(m['keywords']).toEqual(expect.arrayContaining(['zeromq']));
    expect(m['publishConfig']).toEqual({ access: 'public', provenance: true });
    expect(m['engines']).toEqual({ node: '>=20' });
    expect(m.files).toEqual(expect.arrayContaining(['dist', 'CHANGELOG.md']));
    const readme = (await readFile(join(pkg.dir, 'README.md'), 'utf8')).split('\n');
    expect(readme[0]).toMatch(/^# /);
    if (pkg.library) {
      expect(readme.slice(1, 5)).toEqual(['', '```sh', `npm install ${pkg.name}`, '```']);
    } else {
      // An app's README opens with running it from a clone, and keeps the install line for releases.
      expect(readme.slice(1, 8).join('\n')).toContain('node_modules/.bin/');
      expect(readme.join('\n')).toContain(`npm install ${pkg.name}`);
    }
    const changelog = await readFile(join(pkg.dir, 'CHANGELOG.md'), 'utf8');
    expect(changelog.startsWith(`# ${pkg.name}\n`)).toBe(true);
    expect(changelog).toContain(`## ${String(m['version'])}`);
  });

  it('passes publint', async () => {
    const data = await readFile(tarballs.get(pkg.name) ?? '');
    const tarball = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const { messages, pkg: manifest } = await publint({ pkgDir: 'package', pack: { tarball }, strict: true });
    expect(messages.map((m) => formatMessage(m, manifest) ?? m.code)).toEqual([]);
  });

  it.runIf(pkg.library)(
    'resolves its types under node16 ESM and bundlers (Are the Types Wrong)',
    async () => {
      const attw = join(root, 'node_modules/.bin/attw');
      await run(attw, [tarballs.get(pkg.name) ?? '', '--profile', 'esm-only', '--format', 'ascii'], { cwd: work });
    },
    60_000,
  );
});

describe('installed from the tarballs', () => {
  let project: string;

  beforeAll(async () => {
    project = join(work, 'consumer');
    await run('mkdir', ['-p', project]);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const typescript = JSON.parse(await readFile(join(root, 'node_modules/typescript/package.json'), 'utf8')) as {
      version: string;
    };
    // --ignore-scripts: zeromq ships its binaries; better-sqlite3 is not needed to type-check.
    await run(
      'npm',
      [
        'install',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        ...tarballs.values(),
        `typescript@${typescript.version}`,
        '@types/node@20',
      ],
      { cwd: project, maxBuffer: 64 * 1024 * 1024 },
    );
  }, 240_000);

  it('runs a plain-JS ESM service: broker, worker and client', async () => {
    await writeFile(
      join(project, 'service.mjs'),
      `import { Broker, MajordomoClient, MajordomoWorker } from '@zpatterns/majordomo';
const broker = await Broker.start({ bind: 'tcp://127.0.0.1:*' });
const endpoint = broker.endpoints.clients[0];
const worker = await MajordomoWorker.start({ broker: endpoint, service: 'echo' });
const serving = (async () => { for await (const req of worker) await req.reply(req.body); })();
const client = await MajordomoClient.start({ broker: endpoint });
const [reply] = await client.request('echo', 'from the tarballs', { timeoutMs: 10000 });
console.log(String(reply));
await client.close();
await worker.close();
await serving;
await broker.close();
`,
    );
    const { stdout } = await run('node', ['service.mjs'], { cwd: project, timeout: 30_000 });
    expect(stdout.trim()).toBe('from the tarballs');
  }, 40_000);

  it('type-checks a strict TypeScript consumer (module node16) against every library', async () => {
    const imports = libraries.map((p, i) => `import * as lib${i} from '${p.name}';`).join('\n');
    await writeFile(
      join(project, 'consumer.ts'),
      `${imports}
import { MajordomoClient, type MajordomoClientOptions } from '@zpatterns/majordomo';
const options: MajordomoClientOptions = { broker: 'tcp://127.0.0.1:5555' };
const client: MajordomoClient = new MajordomoClient(options);
const reply: Promise<Buffer[]> = client.start().then(() => client.request('echo', 'x', { timeoutMs: 1000 }));
void reply;
export const all = [${libraries.map((_, i) => `lib${i}`).join(', ')}];
`,
    );
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          types: ['node'],
          lib: ['ES2023', 'ESNext.Disposable'],
          target: 'ES2022',
        },
        files: ['consumer.ts'],
      }),
    );
    await run(join(project, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: project });
  }, 120_000);

  it("starts a daemon from its package's bin", async () => {
    const { stdout } = await run(join(project, 'node_modules/.bin/mdbroker'), ['--help'], { cwd: project });
    expect(stdout).toMatch(/Usage: mdbroker/);
  });
});

/** The @zpatterns packages a package needs installed with it: its dependencies and required peers, transitively. */
function zpatternsClosure(name: string): string[] {
  const found = new Set<string>();
  const visit = (current: string): void => {
    const pkg = packages.find((p) => p.name === current);
    if (pkg === undefined || found.has(current)) return;
    found.add(current);
    const m = pkg.manifest as {
      dependencies?: Record<string, string>;
      peerDependencies?: Record<string, string>;
      peerDependenciesMeta?: Record<string, { optional?: boolean }>;
    };
    const peers = Object.keys(m.peerDependencies ?? {}).filter((p) => m.peerDependenciesMeta?.[p]?.optional !== true);
    for (const dep of [...Object.keys(m.dependencies ?? {}), ...peers]) if (dep.startsWith('@zpatterns/')) visit(dep);
  };
  visit(name);
  return [...found];
}

/** Where under a node_modules tree (nested ones included) any of these packages is installed. */
function installedAnywhere(nodeModules: string, names: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const scoped = entry.name.startsWith('@');
      for (const name of scoped ? readdirSync(join(dir, entry.name)).map((n) => `${entry.name}/${n}`) : [entry.name]) {
        const at = join(dir, name);
        if (names.includes(name) && existsSync(join(at, 'package.json'))) found.push(relative(work, at));
        walk(join(at, 'node_modules'));
      }
    }
  };
  walk(nodeModules);
  return found;
}

/** Store drivers a client package must not bring: native (better-sqlite3) or heavy (pg). */
const NO_DRIVERS = new Set(['@zpatterns/titanic', '@zpatterns/clone']);
const DRIVERS = ['better-sqlite3', 'pg'];

interface Alone {
  /** @zpatterns dependencies with no tarball (a private package cannot be installed). */
  missing: string[];
  /** What tsc printed on the strict consumer (nothing when it type-checks). */
  tsc: string[];
  /** Store drivers found anywhere under its node_modules. */
  drivers: string[];
}

/** Install one library alone in an empty project and type-check a strict consumer of its main entry. */
async function installAlone(pkg: (typeof libraries)[number]): Promise<Alone> {
  const project = join(work, 'alone', pkg.folder);
  await mkdir(project, { recursive: true });
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: `alone-${pkg.folder}`, private: true, type: 'module' }),
  );
  const closure = zpatternsClosure(pkg.name);
  const missing = closure.filter((n) => !tarballs.has(n));
  // --ignore-scripts: nothing runs here, and a native driver that slipped in is found by name.
  await run(
    'npm',
    [
      'install',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      ...closure.flatMap((n) => tarballs.get(n) ?? []),
      '@types/node@20',
    ],
    { cwd: project, maxBuffer: 64 * 1024 * 1024 },
  );
  await writeFile(
    join(project, 'consumer.ts'),
    `import * as lib from '${pkg.name}';\nexport const names: string[] = Object.keys(lib);\n`,
  );
  await writeFile(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        lib: ['ES2023', 'ESNext.Disposable'],
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        noEmit: true,
      },
      files: ['consumer.ts'],
    }),
  );
  // The monorepo's compiler on the project: every module resolves from the project's node_modules.
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  const output = await run(process.execPath, [tsc, '-p', project], { cwd: project, maxBuffer: 16 * 1024 * 1024 }).then(
    () => '',
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
  return {
    missing,
    tsc: output.split('\n').filter((l) => l.trim() !== ''),
    drivers: installedAnywhere(join(project, 'node_modules'), DRIVERS),
  };
}

describe('each library installed alone', () => {
  const alone = new Map<string, Alone>();

  // Two at a time: npm waits on the disk and the cache while tsc runs.
  beforeAll(async () => {
    const queue = [...libraries];
    const next = async (): Promise<void> => {
      for (let pkg = queue.shift(); pkg !== undefined; pkg = queue.shift())
        alone.set(pkg.name, await installAlone(pkg));
    };
    await Promise.all([next(), next()]);
  }, 600_000);

  describe.each(libraries)('$name', (pkg) => {
    it('installs from its tarball and those of its @zpatterns dependencies only', () => {
      expect(alone.get(pkg.name)?.missing).toEqual([]);
    });

    it('type-checks a strict consumer of its main entry (exactOptionalPropertyTypes, skipLibCheck off)', () => {
      expect(alone.get(pkg.name)?.tsc).toEqual([]);
    });

    it.runIf(NO_DRIVERS.has(pkg.name))('installs no store driver (better-sqlite3, pg)', () => {
      expect(alone.get(pkg.name)?.drivers).toEqual([]);
    });
  });
});
