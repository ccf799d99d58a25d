/**
 * CURVE keys: Z85 validation and encoding, and the key files `zpat keygen` writes.
 *
 * The files use the layout of CZMQ certificates (`zcert`), so people can read them and CZMQ tools
 * can load them: a comment header, then `curve` with `public-key = "…"` (and, in the secret file,
 * `secret-key = "…"`). A secret key file must not be readable by group or others; loading one that
 * is refuses with a `KeyFileError` naming the `chmod` to run.
 */
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { InvalidArgumentError, ZPatternsError } from './errors.js';

/** A CURVE key pair, both halves Z85-encoded (40 characters each). */
export interface CurveKeyPair {
  /** The public key, Z85 (40 characters): give it to peers. */
  publicKey: string;
  /** The secret key, Z85 (40 characters): keep it private. */
  secretKey: string;
}

/** A key file that is missing, unreadable, malformed or too widely readable. */
export class KeyFileError extends ZPatternsError<'ERR_KEY_FILE'> {
  /** Always `'KeyFileError'`. */
  override name = 'KeyFileError';
  /** The key file or directory at fault. */
  readonly path: string;
  /**
   * @param path - the key file or directory at fault
   * @param message - what is wrong with it
   */
  constructor(path: string, message: string, options?: ErrorOptions) {
    super('ERR_KEY_FILE', message, options);
    this.path = path;
  }
}

const Z85_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const Z85_KEY = /^[0-9a-zA-Z.\-:+=^!/*?&<>()[\]{}@%$#]{40}$/;

/** True when `value` is a 32-byte key in Z85 (40 characters of the Z85 alphabet). */
export function isZ85Key(value: string): boolean {
  return Z85_KEY.test(value);
}

/** Z85-encode bytes whose length is a multiple of 4 (a 32-byte key gives 40 characters). */
export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0)
    throw new InvalidArgumentError(`z85Encode needs a multiple of 4 bytes, got ${data.length}`);
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let value =
      ((data[i] ?? 0) * 0x1000000 + ((data[i + 1] ?? 0) << 16) + ((data[i + 2] ?? 0) << 8) + (data[i + 3] ?? 0)) >>> 0;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.push(Z85_ALPHABET[value % 85] as string);
      value = Math.floor(value / 85);
    }
    out += chunk.reverse().join('');
  }
  return out;
}

/** A fresh key pair from libzmq (`zmq_curve_keypair`). */
export function generateKeyPair(): CurveKeyPair {
  return zmq.curveKeyPair();
}

function header(kind: 'secret' | 'public', at: Date): string {
  const lines = [`#   ****  Generated on ${at.toISOString()} by zpat keygen  ****`];
  if (kind === 'secret') {
    lines.push(
      '#   ZeroMQ CURVE **Secret** Certificate',
      '#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions (it must stay mode 0600).',
    );
  } else {
    lines.push(
      '#   ZeroMQ CURVE Public Certificate',
      '#   Give this file to the peers that must accept you (their --allow-keys directory), or',
      '#   pass its key as --curve-server-key to clients when this is a server key.',
    );
  }
  return lines.join('\n');
}

/** The text of a secret key file: header, public key, secret key. */
export function formatSecretKeyFile(pair: CurveKeyPair, at = new Date()): string {
  return `${header('secret', at)}\n\nmetadata\ncurve\n    public-key = "${pair.publicKey}"\n    secret-key = "${pair.secretKey}"\n`;
}

/** The text of a public key file: header, public key. */
export function formatPublicKeyFile(publicKey: string, at = new Date()): string {
  return `${header('public', at)}\n\nmetadata\ncurve\n    public-key = "${publicKey}"\n`;
}

/**
 * The keys in a key file's text: `public-key = "…"` / `secret-key = "…"` lines, or, for a plain
 * list of public keys, one bare Z85 key per line. Lines starting with `#` are comments.
 */
export function parseKeyText(text: string): { publicKeys: string[]; secretKey?: string } {
  const publicKeys: string[] = [];
  let secretKey: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const quoted = /^(public|secret)-key\s*=\s*"(.*)"$/.exec(line);
    if (quoted !== null) {
      const [, kind, key = ''] = quoted;
      if (!isZ85Key(key)) throw new InvalidArgumentError(`${kind ?? ''}-key is not a 40-character Z85 key`);
      if (kind === 'secret') secretKey = key;
      else publicKeys.push(key);
    } else if (isZ85Key(line)) {
      publicKeys.push(line);
    }
  }
  return secretKey === undefined ? { publicKeys } : { publicKeys, secretKey };
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new KeyFileError(path, `cannot read key file ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Load a secret key file (as `zpat keygen` writes it). Refuses a file that group or others can
 * read or write, a file without exactly one public and one secret key, or a missing file.
 */
export function loadSecretKeyFile(path: string): CurveKeyPair {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw new KeyFileError(path, `cannot read secret key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new KeyFileError(
      path,
      `secret key file ${path} is accessible by group or others (mode ${octal}); run: chmod 600 ${path}`,
    );
  }
  let parsed: ReturnType<typeof parseKeyText>;
  try {
    parsed = parseKeyText(readText(path));
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(path, `bad secret key file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const [publicKey] = parsed.publicKeys;
  if (publicKey === undefined || parsed.secretKey === undefined || parsed.publicKeys.length !== 1) {
    throw new KeyFileError(path, `bad secret key file ${path}: expected one public-key and one secret-key line`);
  }
  return { publicKey, secretKey: parsed.secretKey };
}

/** Load one public key: a Z85 string as is, or the single key of a public (or secret) key file. */
export function loadPublicKey(keyOrPath: string): string {
  if (isZ85Key(keyOrPath)) return keyOrPath;
  let keys: string[];
  try {
    keys = parseKeyText(readText(keyOrPath)).publicKeys;
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(keyOrPath, `bad public key file ${keyOrPath}: ${(err as Error).message}`, { cause: err });
  }
  const [key] = keys;
  if (key === undefined || keys.length !== 1) {
    throw new KeyFileError(keyOrPath, `bad public key file ${keyOrPath}: expected one public-key line`);
  }
  return key;
}

/** Refuse an allow-list file or folder that group or others may write: they could add a key. */
function checkNotWritableByOthers(path: string, mode: number): void {
  if (process.platform === 'win32' || (mode & 0o022) === 0) return;
  const octal = (mode & 0o777).toString(8).padStart(4, '0');
  throw new KeyFileError(
    path,
    `allow-list ${path} is writable by group or others (mode ${octal}); run: chmod go-w ${path}`,
  );
}

/**
 * Every public key under `path`: a directory (each regular file not starting with `.` and not
 * ending in `.key`: the `.pub` files of peers, or lists) or a single file of keys. Secret key files
 * are never read as allow-lists. A directory or file that group or others may write is refused
 * with a `KeyFileError` (anyone who can write it can let themselves in).
 */
export function readPublicKeys(path: string): Set<string> {
  const keys = new Set<string>();
  let files: string[];
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new KeyFileError(path, `cannot read allow-list ${path}: ${(err as Error).message}`, { cause: err });
  }
  checkNotWritableByOthers(path, stat.mode);
  try {
    files = stat.isDirectory()
      ? readdirSync(path, { withFileTypes: true })
          .filter((e) => e.isFile() && !e.name.startsWith('.') && !e.name.endsWith('.key'))
          .map((e) => join(path, e.name))
          .sort()
      : [path];
  } catch (err) {
    throw new KeyFileError(path, `cannot read allow-list ${path}: ${(err as Error).message}`, { cause: err });
  }
  for (const file of files) {
    try {
      if (file !== path) checkNotWritableByOthers(file, statSync(file).mode);
      for (const key of parseKeyText(readText(file)).publicKeys) keys.add(key);
    } catch (err) {
      if (err instanceof KeyFileError) throw err;
      throw new KeyFileError(file, `bad key in ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  return keys;
}

function writeNew(path: string, text: string, mode: number): void {
  let fd: number;
  try {
    fd = openSync(path, 'wx', mode);
  } catch (err) {
    throw new KeyFileError(path, `cannot create ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `NAME.key` (secret, created with mode 0600) and `NAME.pub`. Never overwrites: an existing
 * file is a `KeyFileError`.
 */
export function saveKeyPair(
  name: string,
  pair: CurveKeyPair,
  at = new Date(),
): { secretFile: string; publicFile: string } {
  const secretFile = `${name}.key`;
  const publicFile = `${name}.pub`;
  writeNew(secretFile, formatSecretKeyFile(pair, at), 0o600);
  writeNew(publicFile, formatPublicKeyFile(pair.publicKey, at), 0o644);
  return { secretFile, publicFile };
}
