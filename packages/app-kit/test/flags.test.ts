/**
 * One name per idea, the environment, and the old names, as a user meets them: each daemon and
 * `zpat` run as real processes. For each program: a variable `ZPAT_<PROGRAM>_<FLAG>` (`ZPAT_<FLAG>`
 * for zpat) sets its flag and the command line beats it; an old flag name still works, sets the
 * new flag and logs a deprecation warning; `--help` shows the new name with its variable and not
 * the old one; a bad value from the environment is a one-line usage error, exit code 2.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appBin, Daemon, freePortRange, runCli, useDisposables, type LogLine } from '@zpatterns/testkit';
import { defaultDataDir } from '../src/flags.js';

const { track } = useDisposables();
const ANY = 'tcp://127.0.0.1:*';
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zpat-flags-'));
  dirs.push(dir);
  return dir;
}

async function start(bin: string, args: string[], env: Record<string, string> = {}): Promise<Daemon> {
  return track(await Daemon.start({ bin: appBin(bin), args, env }));
}

const deprecations = (daemon: Daemon): LogLine[] =>
  daemon.logs.filter((line) => typeof line.msg === 'string' && line.msg.includes('is deprecated'));

describe('--help names the new flags and their variables, never the old names', () => {
  it.each([
    {
      bin: 'mdbroker',
      shown: ['--ha <role>', '--state-bind', '--ha-heartbeat-ms', 'ZPAT_MDBROKER_HEARTBEAT_MS'],
      hidden: [],
    },
    {
      bin: 'bstarsrv',
      shown: ['--ha <role>', '--state-bind', '--ha-heartbeat-ms', 'ZPAT_BSTARSRV_HA_HEARTBEAT_MS'],
      hidden: ['--primary', '--backup', '--heartbeat-ms'],
    },
    {
      bin: 'clonesrv',
      shown: ['--ha <role>', '--state-bind', '--state-connect', '--ha-heartbeat-ms', 'ZPAT_CLONESRV_PORT'],
      hidden: ['--primary', '--backup', '--bstar-local', '--bstar-remote', '--heartbeat-ms'],
    },
    { bin: 'ppqueue', shown: ['--heartbeat-ms', 'ZPAT_PPQUEUE_FRONTEND', 'tcp://127.0.0.1:5560'], hidden: [] },
    { bin: 'flserver', shown: ['ZPAT_FLSERVER_BIND', 'tcp://127.0.0.1:5570'], hidden: [] },
    { bin: 'titanic', shown: ['--request-workers', 'ZPAT_TITANIC_DATA_DIR'], hidden: ['--workers'] },
  ])('$bin', async ({ bin, shown, hidden }) => {
    const { code, stdout } = await runCli(appBin(bin), ['--help']);
    expect(code).toBe(0);
    const flat = stdout.replaceAll(/\s+/g, ' ');
    for (const text of shown) expect(flat).toContain(text);
    for (const flag of hidden) expect(flat).not.toMatch(new RegExp(`${flag}(?![-\\w])`));
  });

  it('zpat call: --curve-secret-key-file and ZPAT_BROKER, not --curve-key-file', async () => {
    const { code, stdout } = await runCli(appBin('zpat'), ['call', '--help']);
    expect(code).toBe(0);
    const flat = stdout.replaceAll(/\s+/g, ' ');
    expect(flat).toContain('--curve-secret-key-file <file>');
    expect(flat).toContain('ZPAT_CURVE_SECRET_KEY_FILE');
    expect(flat).toContain('env: ZPAT_BROKER');
    expect(flat).not.toContain('--curve-key-file');
  });
});

describe('ZPAT_<PROGRAM>_<FLAG> sets a flag; the command line beats it', () => {
  it('mdbroker', async () => {
    const env = { ZPAT_MDBROKER_BIND: ANY, ZPAT_MDBROKER_HEARTBEAT_MS: '1234' };
    expect((await start('mdbroker', [], env)).ready).toMatchObject({ heartbeatMs: 1234 });
    expect((await start('mdbroker', ['--heartbeat-ms', '999'], env)).ready).toMatchObject({ heartbeatMs: 999 });
  });

  it('ppqueue', async () => {
    const env = { ZPAT_PPQUEUE_FRONTEND: ANY, ZPAT_PPQUEUE_BACKEND: ANY, ZPAT_PPQUEUE_LIVENESS: '7' };
    expect((await start('ppqueue', [], env)).ready).toMatchObject({ liveness: 7 });
    expect((await start('ppqueue', ['--liveness', '5'], env)).ready).toMatchObject({ liveness: 5 });
  });

  it('flserver', async () => {
    const daemon = await start('flserver', [], { ZPAT_FLSERVER_BIND: ANY });
    expect((daemon.ready['endpoints'] as string[])[0]).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it('bstarsrv (a valued flag, and a flag without a value: ZPAT_BSTARSRV_PRETTY=0 leaves JSON logs)', async () => {
    const env = {
      ZPAT_BSTARSRV_HA: 'backup',
      ZPAT_BSTARSRV_FRONTEND: ANY,
      ZPAT_BSTARSRV_STATE_BIND: ANY,
      ZPAT_BSTARSRV_STATE_CONNECT: 'tcp://127.0.0.1:9',
      ZPAT_BSTARSRV_PRETTY: '0',
    };
    expect((await start('bstarsrv', [], env)).ready).toMatchObject({ role: 'backup' });
    expect((await start('bstarsrv', ['--ha', 'primary'], env)).ready).toMatchObject({ role: 'primary' });
  });

  it('clonesrv', async () => {
    const port = await freePortRange(3);
    const daemon = await start('clonesrv', [], { ZPAT_CLONESRV_PORT: String(port), ZPAT_CLONESRV_DATA_DIR: tempDir() });
    expect(daemon.ready['snapshot']).toBe(`tcp://127.0.0.1:${port}`);
    expect(daemon.ready['dataDir']).toEqual(expect.any(String));
  });

  it('titanic (and its store commands read the same variables)', async () => {
    const dataDir = tempDir();
    const env = { ZPAT_TITANIC_DATA_DIR: dataDir, ZPAT_TITANIC_BROKER: ANY, ZPAT_TITANIC_WITH_BROKER: '1' };
    const daemon = await start('titanic', ['--log-level', 'info'], env);
    expect(daemon.ready).toMatchObject({ dataDir });
    await daemon.stop();
    const pending = await runCli(appBin('titanic'), ['pending'], { env: { ZPAT_TITANIC_DATA_DIR: dataDir } });
    expect(pending).toMatchObject({ code: 0, stdout: 'no pending requests\n' });
  });

  it('zpat: --force is never read from the environment (ZPAT_FORCE=1 replaces nothing)', async () => {
    const dataDir = tempDir();
    const titanic = await start('titanic', ['--with-broker', '--broker', ANY, '--data-dir', dataDir]);
    await titanic.stop();
    const out = join(tempDir(), 'backup.sqlite');
    writeFileSync(out, 'keep me');
    const refused = await runCli(appBin('zpat'), ['store', 'backup', '--data-dir', dataDir, '--out', out], {
      env: { ZPAT_FORCE: '1' },
    });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--force replaces it');
    expect(readFileSync(out, 'utf8')).toBe('keep me');
    const help = await runCli(appBin('zpat'), ['store', 'backup', '--help']);
    expect(help.stdout).not.toContain('ZPAT_FORCE');
    const forced = await runCli(appBin('zpat'), ['store', 'backup', '--data-dir', dataDir, '--out', out, '--force']);
    expect(forced.code).toBe(0);
  });

  it('zpat (ZPAT_<FLAG>)', async () => {
    const out = join(tempDir(), 'from-env');
    const { code } = await runCli(appBin('zpat'), ['keygen'], { env: { ZPAT_OUT: out } });
    expect(code).toBe(0);
    expect(existsSync(`${out}.pub`)).toBe(true);
  });

  it.each([
    { bin: 'mdbroker', env: { ZPAT_MDBROKER_HEARTBEAT_MS: 'soon' } },
    { bin: 'bstarsrv', env: { ZPAT_BSTARSRV_HA: 'leader' } },
    { bin: 'clonesrv', env: { ZPAT_CLONESRV_PORT: '70000' } },
  ])('$bin: a bad value from the environment is a one-line usage error', async ({ bin, env }) => {
    const { code, stderr } = await runCli(appBin(bin), [], { env });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(Object.keys(env)[0]);
  });
});

describe('old flag names still work for one release, and warn', () => {
  it('bstarsrv --primary --heartbeat-ms: --ha primary --ha-heartbeat-ms, over the environment', async () => {
    const daemon = await start(
      'bstarsrv',
      ['--primary', '--heartbeat-ms', '777', '--frontend', ANY, '--state-bind', ANY],
      {
        ZPAT_BSTARSRV_HA: 'backup',
      },
    );
    expect(daemon.ready).toMatchObject({ role: 'primary', heartbeatMs: 777 });
    expect(deprecations(daemon).map((line) => line['flag'])).toEqual(['--primary', '--heartbeat-ms']);
    expect(deprecations(daemon)[0]).toMatchObject({ level: 40, replacement: '--ha primary' });
  });

  it('bstarsrv --primary --backup is a usage error', async () => {
    const { code, stderr } = await runCli(appBin('bstarsrv'), ['--primary', '--backup']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^bstarsrv: error: .*conflicts/);
  });

  it('clonesrv --backup --bstar-local --bstar-remote', async () => {
    const port = await freePortRange(3);
    const daemon = await start('clonesrv', [
      '--backup',
      '--port',
      String(port),
      '--peer-port',
      String(port),
      '--bstar-local',
      ANY,
      '--bstar-remote',
      'tcp://127.0.0.1:9',
    ]);
    expect(daemon.ready).toMatchObject({ pair: 'backup' });
    expect(daemon.ready['stateBind']).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(deprecations(daemon).map((line) => [line['flag'], line['replacement']])).toEqual([
      ['--backup', '--ha backup'],
      ['--bstar-local', '--state-bind'],
      ['--bstar-remote', '--state-connect'],
    ]);
  });

  it('titanic --workers', async () => {
    const daemon = await start('titanic', [
      '--with-broker',
      '--broker',
      ANY,
      '--data-dir',
      tempDir(),
      '--workers',
      '3',
    ]);
    expect(daemon.ready).toMatchObject({ requestWorkers: 3 });
    expect(deprecations(daemon)).toMatchObject([{ flag: '--workers', replacement: '--request-workers' }]);
  });

  it('zpat --curve-key-file: a warning on stderr, then the new name in the error', async () => {
    const { code, stderr } = await runCli(appBin('zpat'), ['call', 'echo', '--curve-key-file', 'nowhere.key']);
    expect(code).toBe(2);
    expect(stderr).toContain('zpat: warning: --curve-key-file is deprecated');
    expect(stderr).toContain('use --curve-secret-key-file');
    expect(stderr).toContain('--curve-server-key and --curve-secret-key-file go together');
  });
});

describe("titanic's default data directory is absolute, whatever the working directory", () => {
  it('systemd StateDirectory= first, then XDG_STATE_HOME, then ~/.local/state', () => {
    expect(defaultDataDir('titanic', { STATE_DIRECTORY: '/var/lib/titanic:/var/lib/other' })).toBe('/var/lib/titanic');
    expect(defaultDataDir('titanic', { XDG_STATE_HOME: '/srv/state' })).toBe('/srv/state/zpatterns/titanic');
    expect(defaultDataDir('titanic', { XDG_STATE_HOME: 'relative' })).toBe(
      join(homedir(), '.local', 'state', 'zpatterns', 'titanic'),
    );
    expect(defaultDataDir('titanic', {})).toBe(join(homedir(), '.local', 'state', 'zpatterns', 'titanic'));
  });

  it('the daemon and its store commands open the store there', async () => {
    const state = tempDir();
    const daemon = await start('titanic', ['--with-broker', '--broker', ANY, '--log-level', 'info'], {
      XDG_STATE_HOME: state,
    });
    const store = join(state, 'zpatterns', 'titanic', 'titanic.sqlite');
    expect(daemon.ready).toMatchObject({ store });
    await daemon.stop();
    const pending = await runCli(appBin('titanic'), ['pending'], { env: { XDG_STATE_HOME: state } });
    expect(pending).toMatchObject({ code: 0, stdout: 'no pending requests\n' });
  });
});
