/**
 * `zpat keygen` as a real process: NAME.key (0600, both keys) and NAME.pub (public key only), both
 * loadable; an existing file is never overwritten (exit 2).
 */
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadPublicKey, loadSecretKeyFile } from '@zpatterns/core';
import { appBin, runCli } from '@zpatterns/testkit';
import { describe, expect, it } from 'vitest';

describe('zpat keygen', () => {
  it('writes NAME.key (mode 0600) and NAME.pub, prints the public key, refuses to overwrite', async () => {
    const name = join(mkdtempSync(join(tmpdir(), 'zpat-keygen-')), 'broker');
    const run = await runCli(appBin('zpat'), ['keygen', '--out', name]);
    expect(run.code).toBe(0);
    const printed = JSON.parse(run.stdout) as { secretFile: string; publicFile: string; publicKey: string };
    expect(printed).toMatchObject({ secretFile: `${name}.key`, publicFile: `${name}.pub` });
    expect(statSync(`${name}.key`).mode & 0o777).toBe(0o600);
    const pair = loadSecretKeyFile(`${name}.key`);
    expect(pair.publicKey).toBe(printed.publicKey);
    expect(loadPublicKey(`${name}.pub`)).toBe(printed.publicKey);
    expect(readFileSync(`${name}.pub`, 'utf8')).not.toContain(pair.secretKey);

    const again = await runCli(appBin('zpat'), ['keygen', '--out', name]);
    expect(again.code).toBe(2);
    expect(again.stderr.trim()).toMatch(/^zpat keygen: error: .*already exists/);
    expect(loadSecretKeyFile(`${name}.key`)).toEqual(pair);
  });
});
