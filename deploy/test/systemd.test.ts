/**
 * The systemd units in deploy/systemd: `systemd-analyze verify` accepts them (where it exists),
 * every ExecStart names a real bin with flags that bin knows, no two units share a port, and each
 * unit's command line, run as a real process (ports and data directory swapped for ephemeral ones),
 * becomes healthy, survives ExecReload's SIGHUP, and stops cleanly the way systemd stops it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appBin, Daemon, freePortRange, runCli } from '@zpatterns/testkit';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const unitDir = join(root, 'deploy', 'systemd');
const healthcheck = join(root, 'deploy', 'healthcheck.mjs');
const INSTALL = '/opt/zpatterns';

interface Unit {
  file: string;
  /** key -> every value, in order, of the [Service] section (and [Unit], [Install]). */
  keys: Map<string, string[]>;
  bin: string;
  args: string[];
}

function parseUnit(file: string): Unit {
  const keys = new Map<string, string[]>();
  for (const raw of readFileSync(join(unitDir, file), 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('[')) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  const execStart = keys.get('ExecStart')?.[0] ?? '';
  const [command = '', ...args] = execStart.split(/\s+/);
  return { file, keys, bin: command, args };
}

const units = readdirSync(unitDir)
  .filter((f) => f.endsWith('.service'))
  .sort()
  .map(parseUnit);

function one(unit: Unit, key: string): string {
  const values = unit.keys.get(key);
  expect(values, `${unit.file}: ${key}`).toBeDefined();
  return values?.at(-1) ?? '';
}

function flagValue(args: readonly string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i === -1 ? undefined : args[i + 1];
}

function daemonName(unit: Unit): string {
  return unit.bin.slice(`${INSTALL}/node_modules/.bin/`.length);
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('deploy/systemd units', () => {
  it('cover every daemon', () => {
    expect(new Set(units.map(daemonName))).toEqual(
      new Set(['mdbroker', 'titanic', 'ppqueue', 'bstarsrv', 'flserver', 'clonesrv']),
    );
  });

  it.each(units.map((u) => [u.file, u] as const))('%s: structure', async (_file, unit) => {
    const name = daemonName(unit);
    // The daemon's own bin (the one npm links at `npm ci`), not npx and not `node dist/...`.
    expect(unit.bin).toBe(`${INSTALL}/node_modules/.bin/${name}`);
    expect(realpathSync(join(root, 'node_modules', '.bin', name))).toBe(join(root, 'apps', name, 'bin', `${name}.js`));
    // Every flag the unit passes exists in that daemon's --help.
    const help = await runCli(appBin(name), ['--help']);
    expect(help.code).toBe(0);
    for (const arg of unit.args.filter((a) => a.startsWith('--'))) {
      expect(help.stdout, `${unit.file}: ${arg} in ${name} --help`).toMatch(new RegExp(`^\\s+${arg}[ ,\\n]`, 'm'));
    }
    expect(one(unit, 'ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one(unit, 'KillSignal')).toBe('SIGTERM');
    for (const [key, value] of [
      ['DynamicUser', 'yes'],
      ['NoNewPrivileges', 'yes'],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['CapabilityBoundingSet', ''],
    ] as const) {
      expect(one(unit, key), `${unit.file}: ${key}`).toBe(value);
    }
    // The stop timeout covers the drain (--shutdown-delay-ms) plus the daemon's 10 s clean close.
    const delayMs = Number(flagValue(unit.args, '--shutdown-delay-ms'));
    expect(delayMs).toBeGreaterThan(0);
    expect(Number.parseInt(one(unit, 'TimeoutStopSec'), 10) * 1000).toBeGreaterThan(delayMs + 10_000);
    // The start probe asks this daemon's own metrics port.
    const metricsPort = flagValue(unit.args, '--metrics-port');
    expect(one(unit, 'ExecStartPost')).toBe(
      `${INSTALL}/deploy/healthcheck.mjs --wait-ms 20000 http://127.0.0.1:${metricsPort}/healthz`,
    );
    // Data lives in the unit's StateDirectory, an absolute path.
    const dataDir = flagValue(unit.args, '--data-dir');
    if (dataDir !== undefined) expect(dataDir).toBe(`/var/lib/${one(unit, 'StateDirectory')}`);
  });

  it('no two units use the same port', () => {
    const owners = new Map<number, string>();
    for (const unit of units) {
      const ports = new Set<number>();
      const base = flagValue(unit.args, '--port');
      if (base !== undefined) for (let i = 0; i < 3; i++) ports.add(Number(base) + i);
      ports.add(Number(flagValue(unit.args, '--metrics-port')));
      for (const arg of unit.args) {
        const bound = /^tcp:\/\/(?:0\.0\.0\.0|\*):(\d+)$/.exec(arg);
        if (bound?.[1] !== undefined) ports.add(Number(bound[1]));
      }
      for (const port of ports) {
        expect(owners.get(port), `port ${port}: ${unit.file} and ${owners.get(port)}`).toBeUndefined();
        owners.set(port, unit.file);
      }
    }
    expect(owners.size).toBeGreaterThan(units.length * 2);
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const haveAnalyze = analyze.status === 0;
  it.skipIf(!haveAnalyze)(
    `systemd-analyze verify accepts every unit${haveAnalyze ? '' : ' (skipped: systemd-analyze is not installed; apt-get install systemd provides it)'}`,
    () => {
      // The units name /opt/zpatterns; verify checks that the executables exist, so point them here.
      const dir = mkdtempSync(join(tmpdir(), 'zpat-units-'));
      dirs.push(dir);
      for (const unit of units) {
        const text = readFileSync(join(unitDir, unit.file), 'utf8').replaceAll(INSTALL, root);
        writeFileSync(join(dir, unit.file), text);
      }
      const result = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u.file))], {
        encoding: 'utf8',
        cwd: dir,
      });
      // verify warns on stderr (unknown keys, bad values) and may still exit 0: both must be clean.
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
    },
  );
});

/**
 * The unit's arguments with every port replaced by a free one (the same port number always maps to
 * the same new port, so a pair's --state-connect still names its peer's --state-bind), every
 * address by the loopback, and the data directory by a temporary one.
 */
async function localArgs(unit: Unit, ports: Map<number, number>): Promise<string[]> {
  const mapped = async (port: number, n = 1): Promise<number> => {
    const known = ports.get(port);
    if (known !== undefined) return known;
    const fresh = await freePortRange(n);
    for (let i = 0; i < n; i++) ports.set(port + i, fresh + i);
    return fresh;
  };
  const out: string[] = [];
  for (let i = 0; i < unit.args.length; i++) {
    const arg = unit.args[i] ?? '';
    const next = unit.args[i + 1] ?? '';
    if (arg === '--data-dir') {
      const dir = mkdtempSync(join(tmpdir(), 'zpat-unit-data-'));
      dirs.push(dir);
      out.push(arg, dir);
      i++;
    } else if (arg === '--port') {
      out.push(arg, String(await mapped(Number(next), 3)));
      i++;
    } else if (arg === '--metrics-port') {
      out.push(arg, String(await mapped(Number(next))));
      i++;
    } else if (arg === '--host') {
      out.push(arg, '127.0.0.1');
      i++;
    } else if (arg === '--shutdown-delay-ms') {
      // Long enough to observe the drain; a second SIGTERM ends it, as it would under systemd.
      out.push(arg, '60000');
      i++;
    } else {
      const endpoint = /^tcp:\/\/([^:]+):(\d+)$/.exec(arg);
      if (endpoint?.[2] === undefined) out.push(arg);
      else out.push(`tcp://127.0.0.1:${await mapped(Number(endpoint[2]))}`);
    }
  }
  return out;
}

function probeHealth(url: string, waitMs = 0): number | null {
  return spawnSync(process.execPath, [healthcheck, '--wait-ms', String(waitMs), url], { stdio: 'ignore' }).status;
}

describe('each unit command line, as a real process', () => {
  const ports = new Map<number, number>();
  it.each(units.map((u) => [u.file, u] as const))(
    '%s: healthy, SIGHUP keeps it running, SIGTERM drains then stops cleanly',
    async (_file, unit) => {
      const name = daemonName(unit);
      const args = await localArgs(unit, ports);
      // Titanic's unit connects to mdbroker's: run that broker too.
      const deps: Daemon[] = [];
      if (name === 'titanic') {
        const broker = units.find((u) => daemonName(u) === 'mdbroker');
        if (broker === undefined) throw new Error('no mdbroker unit');
        deps.push(await Daemon.start({ bin: appBin('mdbroker'), args: await localArgs(broker, new Map(ports)) }));
      }
      const daemon = await Daemon.start({ bin: appBin(name), args });
      try {
        const metrics = String(daemon.ready['metrics']);
        const health = `${metrics}/healthz`;
        expect(probeHealth(health, 20_000)).toBe(0);
        // ExecReload: logged, still running, still healthy.
        const reloaded = daemon.waitForLog((l) => l.msg === 'reload requested');
        daemon.signal('SIGHUP');
        await reloaded;
        expect(daemon.running).toBe(true);
        expect(probeHealth(health)).toBe(0);
        // systemctl stop: SIGTERM, /healthz 503 while draining, then (a second SIGTERM here
        // instead of the end of the delay) a clean close.
        const draining = daemon.waitForLog((l) => l.msg === 'draining: still serving, /healthz 503');
        daemon.signal('SIGTERM');
        await draining;
        expect(probeHealth(health)).toBe(1);
        daemon.signal('SIGTERM');
        expect(await daemon.exited).toEqual({ code: 0, signal: null });
        expect(daemon.text).toEqual([]);
      } finally {
        await daemon.stop();
        for (const dep of deps) await dep.stop();
      }
    },
    60_000,
  );
});

it('healthcheck.mjs: exit 2 and a usage line on bad arguments', () => {
  const result = spawnSync(process.execPath, [healthcheck, '--wait-ms', 'soon'], { encoding: 'utf8' });
  expect(result.status).toBe(2);
  expect(result.stderr).toMatch(/^healthcheck: --wait-ms/);
  expect(execFileSync(process.execPath, ['--check', healthcheck], { encoding: 'utf8' })).toBe('');
});
