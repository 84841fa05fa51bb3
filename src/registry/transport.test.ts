import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { Transport, isLoopback, normaliseNoProxy, readCaFile } from './transport.js';

describe('normaliseNoProxy', () => {
  it.each([
    ['::1', '::1,[::1]'],
    ['localhost,127.0.0.1,::1', 'localhost,127.0.0.1,::1,[::1]'],
    ['fd00::5, .corp.example', 'fd00::5,[fd00::5],.corp.example'],
    ['[::1]', '[::1]'],
    ['registry:5000', 'registry:5000'],
    ['*', '*'],
  ])('%s -> %s', (input, want) => {
    expect(normaliseNoProxy(input)).toBe(want);
  });
});

describe('isLoopback (never proxied, plain HTTP allowed)', () => {
  it.each([
    ['localhost:5000', true],
    ['127.0.0.1:5000', true],
    ['127.1.2.3', true],
    ['[::1]:5000', true],
    ['registry.local:5000', false],
    ['10.0.0.1:5000', false],
    ['127.0.0.1.example.com', false],
    // Host names are case-insensitive.
    ['LOCALHOST:5001', true],
    ['LocalHost', true],
    ['LOCALHOST.example.com:5001', false],
  ])('%s -> %s', (host, want) => {
    expect(isLoopback(host)).toBe(want);
  });
});

describe('Transport.allowsInsecure compares host names case-insensitively', () => {
  const t = new Transport({ insecureRegistries: ['Registry.Lab:5000', 'mirror.corp'] });
  it.each([
    ['registry.lab:5000', true],
    ['REGISTRY.LAB:5000', true],
    ['MIRROR.corp:443', true],
    ['registry.lab:5001', false],
    ['LOCALHOST:5001', true],
  ])('%s -> %s', (host, want) => {
    expect(t.allowsInsecure(host)).toBe(want);
  });
});

describe('CA files are checked when the transport is made (exit 2, the file and the reason)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-ca-test-'));
  const notPem = join(dir, 'ca.der');
  writeFileSync(notPem, Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x02]));
  const pem = join(dir, 'ca.pem');
  writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  const cases: [label: string, file: string, msg: string][] = [
    ['a missing file', join(dir, 'missing.pem'), `CA file ${join(dir, 'missing.pem')} (--ca-file): it does not exist`],
    ['a directory', sub, `CA file ${sub} (--ca-file): it is a directory`],
    ['a file without a PEM certificate', notPem, `CA file ${notPem} (--ca-file): it holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" block)`],
  ];
  it.each(cases)('rejects %s', (_label, file, msg) => {
    let caught: unknown;
    try {
      new Transport({ caFile: file });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    expect((caught as UsageError).exitCode).toBe(2);
    expect((caught as UsageError).message).toBe(msg);
    expect((caught as UsageError).hint).toContain('--ca-file needs a');
  });

  it('names where a manifest file\'s ca-file came from', () => {
    expect(() => new Transport({ caFiles: { 'reg.corp': join(dir, 'nope.pem') } })).toThrow(`CA file ${join(dir, 'nope.pem')} (ca-file of registry reg.corp in the manifest file): it does not exist`);
  });

  it('accepts a PEM file', () => {
    expect(readCaFile(pem)).toContain('BEGIN CERTIFICATE');
    expect(() => new Transport({ caFile: pem })).not.toThrow();
  });
});
