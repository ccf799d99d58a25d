/**
 * `.ci/prerequisites.sh`, the step of `.ci/run` that installs what the tests need from a fresh
 * machine. Run for real on a made-up machine: PATH holds only the commands each case grants, the
 * PostgreSQL directory is a temp dir, and apt-get is a stand-in that records its calls (and, when
 * told to, "installs" pg_ctl and initdb).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = resolve(import.meta.dirname, '../../.ci/prerequisites.sh');
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Machine {
  /** Commands on PATH (stubs that succeed). */
  commands: string[];
  /** Put pg_ctl and initdb in <pgLib>/16/bin before the run. */
  postgres?: boolean;
  /** Whether the fake apt-get's `install postgresql` puts them there. */
  aptInstallsPostgres?: boolean;
}

function run(machine: Machine): { status: number | null; stdout: string; stderr: string; apt: string[] } {
  const root = mkdtempSync(join(tmpdir(), 'ci-prereq-'));
  dirs.push(root);
  const bin = join(root, 'bin');
  const pgLib = join(root, 'postgresql');
  const aptLog = join(root, 'apt.log');
  mkdirSync(bin);
  mkdirSync(pgLib);
  const pgBin = join(pgLib, '16', 'bin');
  const installPostgres = `/usr/bin/mkdir -p ${pgBin} && printf '#!/bin/sh\\n' > ${pgBin}/pg_ctl && printf '#!/bin/sh\\n' > ${pgBin}/initdb && /usr/bin/chmod +x ${pgBin}/pg_ctl ${pgBin}/initdb`;
  if (machine.postgres === true) spawnSync('/bin/sh', ['-c', installPostgres]);
  for (const name of machine.commands) {
    writeFileSync(join(bin, name), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, name), 0o755);
  }
  symlinkSync('/usr/bin/dirname', join(bin, 'dirname'));
  const apt = join(root, 'apt-get');
  writeFileSync(
    apt,
    [
      '#!/bin/bash',
      `echo "$*" >> ${aptLog}`,
      machine.aptInstallsPostgres === true ? `[[ "$*" == install*postgresql* ]] && { ${installPostgres}; }` : '',
      'exit 0',
    ].join('\n'),
  );
  chmodSync(apt, 0o755);
  const result = spawnSync('/bin/bash', [script], {
    env: { PATH: bin, ZPATTERNS_PG_LIB: pgLib, ZPATTERNS_APT_GET: apt },
    encoding: 'utf8',
  });
  let calls: string[] = [];
  try {
    calls = readFileSync(aptLog, 'utf8').trim().split('\n');
  } catch {
    // apt-get never ran
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, apt: calls };
}

const ALL = ['runuser', 'useradd', 'mount', 'umount', 'systemd-analyze'];

describe('.ci/prerequisites.sh', () => {
  it('installs nothing when everything is there', () => {
    const r = run({ commands: ALL, postgres: true });
    expect(r.status).toBe(0);
    expect(r.apt).toEqual([]);
    expect(r.stdout).toMatch(/are present/);
  });

  it('finds PostgreSQL on PATH too (pg_ctl with initdb beside it)', () => {
    const r = run({ commands: [...ALL, 'pg_ctl', 'initdb'] });
    expect(r.status).toBe(0);
    expect(r.apt).toEqual([]);
  });

  it('a fresh machine: apt-get update, then installs postgresql and the tools it lacks', () => {
    const r = run({ commands: ['umount'], aptInstallsPostgres: true });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.apt).toEqual(['update', 'install -y --no-install-recommends postgresql util-linux passwd mount systemd']);
  });

  it('pg_ctl alone on PATH (no initdb) is not PostgreSQL: it installs the package', () => {
    const r = run({ commands: [...ALL, 'pg_ctl'], aptInstallsPostgres: true });
    expect(r.status).toBe(0);
    expect(r.apt).toEqual(['update', 'install -y --no-install-recommends postgresql']);
  });

  it('fails the run when the install did not bring pg_ctl and initdb', () => {
    const r = run({ commands: ALL, aptInstallsPostgres: false });
    expect(r.status).toBe(1);
    expect(r.apt).toEqual(['update', 'install -y --no-install-recommends postgresql']);
    expect(r.stderr).toMatch(/no pg_ctl and initdb/);
  });
});

describe('.ci/run', () => {
  it('installs the prerequisites, then runs exactly npm ci && npm test', () => {
    const text = readFileSync(resolve(import.meta.dirname, '../../.ci/run'), 'utf8');
    const commands = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(commands.slice(-3)).toEqual(['bash .ci/prerequisites.sh', 'npm ci', 'npm test']);
    expect(commands).toContain('set -euo pipefail');
  });
});
