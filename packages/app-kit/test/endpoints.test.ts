import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  bindEndpointFlag,
  checkEndpoint,
  connectEndpointFlag,
  hostFlag,
  peerListOption,
  portFlag,
} from '../src/endpoints.js';

const long = `ipc:///tmp/${'x'.repeat(106)}`;

describe('checkEndpoint: the same rules for every endpoint flag', () => {
  it.each([
    ['tcp://127.0.0.1:5555', 'connect'],
    ['tcp://localhost:1', 'connect'],
    ['tcp://db-1.example.org:65535', 'connect'],
    ['tcp://[::1]:5555', 'connect'],
    ['tcp://192.168.1.1:5555;10.0.0.1:5555', 'connect'],
    ['ipc:///run/zpat/broker.sock', 'connect'],
    ['ipc://@abstract', 'connect'],
    ['inproc://broker', 'connect'],
    ['tcp://*:5555', 'bind'],
    ['tcp://127.0.0.1:*', 'bind'],
    ['tcp://0.0.0.0:5555', 'bind'],
    ['tcp://eth0:5555', 'bind'],
    ['ipc://*', 'bind'],
  ] as const)('accepts %s (%s)', (value, use) => {
    expect(checkEndpoint(value, use)).toBe(value);
  });

  it.each([
    ['tcp://127.0.0.1:99999', 'bind', 'port 99999 is out of range (1-65535)'],
    ['tcp://127.0.0.1:65536', 'connect', 'port 65536 is out of range (1-65535)'],
    ['tcp://127.0.0.1:0', 'bind', 'port 0 is out of range (1-65535; use * for any free port)'],
    ['tcp://127.0.0.1:0', 'connect', 'port 0 is out of range (1-65535)'],
    ['tcp://127.0.0.1:*', 'connect', "port '*' only makes sense for a bind: name the peer's port"],
    ['tcp://*:5555', 'connect', "host '*' only makes sense for a bind: name the peer's host"],
    ['ipc://*', 'connect', "ipc://* only makes sense for a bind: name the peer's socket file"],
    ['tcp://127.0.0.1:55x', 'bind', "port '55x' is not a number"],
    ['tcp://127.0.0.1', 'bind', "tcp endpoint 'tcp://127.0.0.1' needs a host and a port (tcp://host:port)"],
    ['tcp://127.0.0.1:', 'bind', 'tcp endpoint has no port (tcp://host:port)'],
    ['tcp://:5555', 'bind', 'tcp endpoint has no host (tcp://host:port)'],
    ['tcp://300.1.1.1:5555', 'connect', "'300.1.1.1' is not an IPv4 address"],
    ['tcp://[zz]:5555', 'connect', "'[zz]' is not an IPv6 address"],
    ['tcp://a b:5555', 'connect', "'a b' is not a host name or address"],
    [
      'localhost:5555',
      'connect',
      "expected an endpoint (tcp://host:port, ipc://path or inproc://name), got 'localhost:5555'",
    ],
    ['ws://127.0.0.1:5555', 'connect', "transport 'ws' is not supported: use tcp://, ipc:// or inproc://"],
    ['ipc://', 'bind', 'ipc endpoint has no path (ipc:///run/x.sock)'],
    ['inproc://', 'bind', "inproc endpoint 'inproc://' has no name"],
    [long, 'bind', 'ipc path is 111 bytes, longer than the 107 allowed'],
  ] as const)('refuses %s (%s): %s', (value, use, message) => {
    expect(() => checkEndpoint(value, use)).toThrow(message);
    expect(() => checkEndpoint(value, use)).toThrow(expect.objectContaining({ code: 'commander.invalidArgument' }));
  });

  it('bindEndpointFlag allows *, connectEndpointFlag does not', () => {
    expect(bindEndpointFlag('tcp://127.0.0.1:*')).toBe('tcp://127.0.0.1:*');
    expect(() => connectEndpointFlag('tcp://127.0.0.1:*')).toThrow(/only makes sense for a bind/);
  });
});

describe('hostFlag', () => {
  it('takes names and addresses; * only where the flag binds', () => {
    expect(hostFlag('bind')('*')).toBe('*');
    expect(hostFlag('connect')('db-1.example.org')).toBe('db-1.example.org');
    expect(() => hostFlag('connect')('*')).toThrow("'*' is not a host name or address");
    expect(() => hostFlag('bind')('a b')).toThrow("'a b' is not a host name or address (or *)");
    expect(() => hostFlag('bind')('256.0.0.1')).toThrow('is not a host name or address');
  });
});

describe('portFlag', () => {
  it('takes 1-65535, and leaves room for a span of ports', () => {
    expect(portFlag()('65535')).toBe(65_535);
    expect(portFlag(3)('65533')).toBe(65_533);
    expect(() => portFlag(3)('65534')).toThrow('port 65534 leaves no room for ports 65534-65536 (at most 65533)');
    expect(() => portFlag(3)('99999')).toThrow('port 99999 is out of range (1-65535)');
    expect(() => portFlag()('0')).toThrow('port 0 is out of range (1-65535)');
    expect(() => portFlag()('x')).toThrow("port 'x' is not a number");
  });
});

describe('peerListOption: a repeatable flag that also takes comma lists', () => {
  function parse(args: string[], defaults?: string[]): string[] | undefined {
    const program = new Command('t').exitOverride().configureOutput({ writeErr: () => undefined });
    program.addOption(
      peerListOption('--broker <endpoint>', 'brokers', defaults === undefined ? {} : { default: defaults }),
    );
    program.parse(args, { from: 'user' });
    return program.opts<{ broker?: string[] }>().broker;
  }
  const A = 'tcp://127.0.0.1:5555';
  const B = 'tcp://127.0.0.1:5556';
  const C = 'ipc:///tmp/c.sock';

  it('collects repeats and comma lists in order', () => {
    expect(parse(['--broker', A, '--broker', B])).toEqual([A, B]);
    expect(parse(['--broker', `${A},${B}`])).toEqual([A, B]);
    expect(parse(['--broker', `${A}, ${B}`, '--broker', C])).toEqual([A, B, C]);
  });

  it('a given value replaces the default; absent, the default stands', () => {
    expect(parse([], [A])).toEqual([A]);
    expect(parse(['--broker', B], [A])).toEqual([B]);
    expect(parse(['--broker', B, '--broker', A], [A])).toEqual([B, A]);
  });

  it('refuses bad entries, empty entries and a peer named twice', () => {
    expect(() => parse(['--broker', `${A},tcp://127.0.0.1:99999`])).toThrow(
      /--broker <endpoint>.*port 99999 is out of range/,
    );
    expect(() => parse(['--broker', `${A},,${B}`])).toThrow(/empty entry/);
    expect(() => parse(['--broker', `${A},`])).toThrow(/empty entry/);
    expect(() => parse(['--broker', A, '--broker', A])).toThrow(/is named twice/);
  });

  it('--help shows the default quoted, and that the flag repeats', () => {
    const program = new Command('t');
    program.addOption(peerListOption('--broker <endpoint>', 'brokers', { default: [A, B] }));
    expect(program.helpInformation().replaceAll(/\s+/g, ' ')).toContain(
      `brokers (repeatable, or a comma list) (default: "${A},${B}")`,
    );
  });
});
