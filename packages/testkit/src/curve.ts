/**
 * CURVE fixtures: key pairs written as `zpat keygen` writes them, and an allow-list directory.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, saveKeyPair, type CurveKeyPair, type SecurityOptions } from '@zpatterns/core';

export interface CurvePeer extends CurveKeyPair {
  /** `NAME.key` (mode 0600). */
  keyFile: string;
  /** `NAME.pub`. */
  pubFile: string;
}

export interface CurveFixture {
  dir: string;
  /** A directory for `--allow-keys`, holding the `.pub` files of the peers named in `allowed`. */
  allowDir: string;
  peers: Record<string, CurvePeer>;
  /** Put `name`'s public key file in the allow-list directory. */
  allow(name: string): void;
  /** Remove `name`'s public key file from the allow-list directory. */
  revoke(name: string): void;
  /** Client-side `security` for `name` connecting to `server`. */
  client(name: string, server: string): SecurityOptions;
}

/** Key pairs for `names` in a fresh temporary directory; `allowed` go in the allow-list. */
export function curveFixture(names: readonly string[], allowed: readonly string[] = []): CurveFixture {
  const dir = mkdtempSync(join(tmpdir(), 'zpat-curve-'));
  const allowDir = join(dir, 'allow');
  mkdirSync(allowDir);
  const peers: Record<string, CurvePeer> = {};
  for (const name of names) {
    const pair = generateKeyPair();
    const { secretFile, publicFile } = saveKeyPair(join(dir, name), pair);
    peers[name] = { ...pair, keyFile: secretFile, pubFile: publicFile };
  }
  const peer = (name: string): CurvePeer => {
    const found = peers[name];
    if (found === undefined) throw new Error(`no CURVE peer named ${name}`);
    return found;
  };
  const fixture: CurveFixture = {
    dir,
    allowDir,
    peers,
    allow: (name) => copyFileSync(peer(name).pubFile, join(allowDir, `${name}.pub`)),
    revoke: (name) => rmSync(join(allowDir, `${name}.pub`)),
    client: (name, server) => {
      const { publicKey, secretKey } = peer(name);
      return { curve: { publicKey, secretKey, serverPublicKey: peer(server).publicKey } };
    },
  };
  for (const name of allowed) fixture.allow(name);
  return fixture;
}
