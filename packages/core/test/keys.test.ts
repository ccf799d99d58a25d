import { mkdtempSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../src/errors.js';
import { ManualClock } from '../src/clock.js';
import {
  formatSecretKeyFile,
  generateKeyPair,
  isZ85Key,
  KeyFileError,
  loadPublicKey,
  loadSecretKeyFile,
  parseKeyText,
  readPublicKeys,
  saveKeyPair,
  z85Encode,
} from '../src/keys.js';
import { AllowList, decodeZapRequest, encodeZapReply, ZAP_DENIAL_KEYS_TRACKED, ZapDomain } from '../src/zap.js';

const dir = (): string => mkdtempSync(join(tmpdir(), 'zpat-keys-'));

describe('keys', () => {
  it('z85Encode matches the RFC 32 test vector', () => {
    expect(z85Encode(Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]))).toBe('HelloWorld');
    expect(() => z85Encode(Buffer.alloc(3))).toThrow(InvalidArgumentError);
  });

  it('saveKeyPair writes NAME.key (0600, both keys) and NAME.pub (public only); both load back', () => {
    const pair = generateKeyPair();
    const name = join(dir(), 'server');
    const { secretFile, publicFile } = saveKeyPair(name, pair);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    const secretText = readFileSync(secretFile, 'utf8');
    expect(secretText).toMatch(/^#/);
    expect(secretText).toContain(`public-key = "${pair.publicKey}"`);
    expect(secretText).toContain(`secret-key = "${pair.secretKey}"`);
    expect(readFileSync(publicFile, 'utf8')).not.toContain(pair.secretKey);
    expect(loadSecretKeyFile(secretFile)).toEqual(pair);
    expect(loadPublicKey(publicFile)).toBe(pair.publicKey);
    expect(loadPublicKey(pair.publicKey)).toBe(pair.publicKey);
    expect(() => saveKeyPair(name, pair)).toThrow(KeyFileError);
  });

  it('refuses a secret key file that group or others can read, naming the chmod', () => {
    const file = join(dir(), 'open.key');
    writeFileSync(file, formatSecretKeyFile(generateKeyPair()));
    chmodSync(file, 0o644);
    expect(() => loadSecretKeyFile(file)).toThrow(/mode 0644.*chmod 600/);
    chmodSync(file, 0o640);
    expect(() => loadSecretKeyFile(file)).toThrow(KeyFileError);
    chmodSync(file, 0o600);
    expect(isZ85Key(loadSecretKeyFile(file).secretKey)).toBe(true);
  });

  it('refuses malformed and missing files with a KeyFileError', () => {
    const file = join(dir(), 'bad.key');
    writeFileSync(file, 'curve\n    public-key = "short"\n', { mode: 0o600 });
    expect(() => loadSecretKeyFile(file)).toThrow(/Z85/);
    expect(() => loadSecretKeyFile(join(dir(), 'missing.key'))).toThrow(KeyFileError);
  });

  it('reads allow-lists from a directory of .pub files (never .key) or a file of bare keys', () => {
    const d = dir();
    const [a, b, c] = [generateKeyPair(), generateKeyPair(), generateKeyPair()];
    saveKeyPair(join(d, 'a'), a);
    writeFileSync(join(d, 'list.txt'), `# two more\n${b.publicKey}\n\n${c.publicKey}\n`);
    expect(readPublicKeys(d)).toEqual(new Set([a.publicKey, b.publicKey, c.publicKey]));
    expect(readPublicKeys(join(d, 'list.txt'))).toEqual(new Set([b.publicKey, c.publicKey]));
    expect(parseKeyText(`# ${a.publicKey}\n`).publicKeys).toEqual([]);
    const list = new AllowList(join(d, 'list.txt'));
    expect(list.has(b.publicKey)).toBe(true);
    writeFileSync(join(d, 'list.txt'), `${c.publicKey}\n`);
    expect(list.reload()).toBe(1);
    expect(list.has(b.publicKey)).toBe(false);
  });

  it('refuses an allow-list folder or file that group or others may write, and a reload keeps the old list', () => {
    const d = dir();
    const a = generateKeyPair();
    saveKeyPair(join(d, 'a'), a);
    chmodSync(d, 0o775);
    expect(() => readPublicKeys(d)).toThrow(/writable by group or others \(mode 0775\); run: chmod go-w/);
    chmodSync(d, 0o755);
    const list = new AllowList(d);
    chmodSync(join(d, 'a.pub'), 0o646);
    expect(() => list.reload()).toThrow(KeyFileError);
    expect(list.has(a.publicKey)).toBe(true);
    const file = join(d, 'list.txt');
    writeFileSync(file, `${a.publicKey}\n`, { mode: 0o620 });
    chmodSync(file, 0o620);
    expect(() => new AllowList(file)).toThrow(/list\.txt is writable by group or others/);
  });
});

describe('ZAP (RFC 27) frames', () => {
  it('decodes a CURVE request and encodes 200 and 400 replies', () => {
    const key = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    const credential = Buffer.concat([key, key, key, key]);
    const frames = ['1.0', '7', 'dom', '10.0.0.1', '', 'CURVE'].map((s) => Buffer.from(s));
    const decoded = decodeZapRequest([...frames, credential]);
    expect(decoded?.requestId.toString()).toBe('7');
    expect(decoded?.request).toMatchObject({
      domain: 'dom',
      address: '10.0.0.1',
      mechanism: 'CURVE',
      publicKey: 'HelloWorld'.repeat(4),
    });
    expect(decodeZapRequest([Buffer.from('2.0'), ...frames.slice(1)])).toBeUndefined();
    expect(decodeZapRequest(frames.slice(0, 4))).toBeUndefined();
    const id = Buffer.from('7');
    expect(encodeZapReply(id, true, 'k').map(String)).toEqual(['1.0', '7', '200', 'OK', 'k', '']);
    expect(encodeZapReply(id, false, 'k').map(String)).toEqual(['1.0', '7', '400', 'Not allowed', '', '']);
  });
});

describe('ZapDomain', () => {
  function harness() {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'debug' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const clock = new ManualClock(0);
    const allowed = generateKeyPair().publicKey;
    const domain = new ZapDomain('d', { authorize: new Set([allowed]), logger, clock });
    const request = (publicKey?: string) => ({
      domain: 'd',
      address: '127.0.0.1',
      identity: Buffer.alloc(0),
      mechanism: publicKey === undefined ? 'NULL' : 'CURVE',
      ...(publicKey === undefined ? {} : { publicKey }),
    });
    const denials = () => lines.filter((l) => l['msg'] === 'connection denied');
    return { clock, allowed, domain, request, denials };
  }

  it('allows listed CURVE keys, denies the rest and NULL, counting both', () => {
    const { domain, allowed, request } = harness();
    expect(domain.decide(request(allowed))).toBe(true);
    expect(domain.decide(request(generateKeyPair().publicKey))).toBe(false);
    expect(domain.decide(request())).toBe(false);
    expect(domain.stats).toEqual({ allowed: 1, denied: 2, errors: 0 });
  });

  it('logs a denial once per key per minute, with the peer address', () => {
    const { domain, clock, request, denials } = harness();
    const stranger = generateKeyPair().publicKey;
    const other = generateKeyPair().publicKey;
    for (let i = 0; i < 5; i++) domain.decide(request(stranger));
    domain.decide(request(other));
    expect(denials()).toHaveLength(2);
    expect(denials()[0]).toMatchObject({ peer: '127.0.0.1', publicKey: stranger, denied: 1 });
    clock.advance(59_999);
    domain.decide(request(stranger));
    expect(denials()).toHaveLength(2);
    clock.advance(1);
    domain.decide(request(stranger));
    expect(denials()).toHaveLength(3);
    expect(domain.stats.denied).toBe(8);
  });
});

describe('ZapDomain under rotating keys', () => {
  it('keeps its denial state bounded and its log rate-limited for 100,000 distinct keys', () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
    const clock = new ManualClock(0);
    const domain = new ZapDomain('d', { authorize: new Set(), logger, clock });
    const key = Buffer.alloc(32);
    for (let i = 0; i < 100_000; i++) {
      key.writeUInt32BE(i, 0);
      domain.decide({
        domain: 'd',
        address: '127.0.0.1',
        identity: Buffer.alloc(0),
        mechanism: 'CURVE',
        publicKey: z85Encode(key),
      });
      if (i % 100 === 99) clock.advance(1); // 100,000 handshakes in one second of clock time
    }
    expect(domain.stats.denied).toBe(100_000);
    expect(domain.trackedKeys).toBeLessThanOrEqual(ZAP_DENIAL_KEYS_TRACKED);
    expect(lines.filter((l) => l['msg'] === 'connection denied').length).toBeLessThanOrEqual(20);
    clock.advance(1000);
    domain.decide({ domain: 'd', address: '127.0.0.1', identity: Buffer.alloc(0), mechanism: 'NULL' });
    expect(lines.some((l) => l['msg'] === 'warnings suppressed (rate limit)')).toBe(true);
  });
});
