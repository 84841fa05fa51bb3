import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachePath, commandOf, decodeCache, encodeCache, loadBundle } from './run-bundle.js';

/** A small CommonJS "bundle" exporting runCli, with enough functions for V8 to cache. */
const BUNDLE = `"use strict";
const { basename } = require('node:path');
function greet(argv) { return 'ran ' + argv.join(' ') + ' in ' + basename(__filename); }
module.exports = { runCli: (argv) => greet(argv) };
`;

let dir: string;
let bundle: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-launch-'));
  bundle = join(dir, 'cli.cjs');
  writeFileSync(bundle, BUNDLE);
});
afterEach(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

describe('the code cache file', () => {
  const data = Buffer.from('v8 data \n with a newline');

  it('decodes what it encodes, for the same bundle only', () => {
    const file = encodeCache('10:123.5', ['export'], data);
    expect(decodeCache(file, '10:123.5')).toEqual({ data, commands: ['export'] });
    expect(decodeCache(file, '10:124')).toBeUndefined();
  });

  it('refuses damaged, truncated and foreign files', () => {
    const file = encodeCache('s', ['a'], data);
    const flipped = Buffer.from(file);
    flipped[flipped.length - 3]! ^= 1;
    expect(decodeCache(flipped, 's')).toBeUndefined();
    expect(decodeCache(file.subarray(0, file.length - 1), 's')).toBeUndefined();
    expect(decodeCache(Buffer.from('not json\nxx'), 's')).toBeUndefined();
    expect(decodeCache(Buffer.from('{"magic":"other","source":"s","commands":[],"crc":0,"length":0}\n'), 's')).toBeUndefined();
    expect(decodeCache(Buffer.alloc(0), 's')).toBeUndefined();
  });

  it('names the command by the first argument that is not an option', () => {
    expect(commandOf(['export', 'm.yaml', '--json'])).toBe('export');
    expect(commandOf(['--json', 'verify', 'b.tar.gz'])).toBe('verify');
    expect(commandOf(['--version'])).toBe('--version');
    expect(commandOf([])).toBe('');
  });
});

describe('loadBundle', () => {
  it('runs the bundle, writes a cache at persist, and takes it the next time', () => {
    const first = loadBundle(bundle, 'export', true);
    expect(first.cached).toBe(false);
    expect(first.runCli(['export', 'x'])).toBe('ran export x in cli.cjs');
    first.persist!();
    const head = readFileSync(cachePath(bundle)).subarray(0, 200).toString();
    expect(head).toContain('"commands":["export"]');
    const second = loadBundle(bundle, 'export', true);
    expect(second.cached).toBe(true);
    expect(second.persist).toBeUndefined(); // nothing new to keep
    expect(second.runCli(['export'])).toBe('ran export in cli.cjs');
    // Another command adds itself to the cache.
    const third = loadBundle(bundle, 'verify', true);
    expect(third.cached).toBe(true);
    third.persist!();
    expect(readFileSync(cachePath(bundle)).subarray(0, 200).toString()).toContain('"commands":["export","verify"]');
    expect(readdirSync(join(dir, 'code-cache'))).toEqual([`cli-${process.version}-${process.arch}.bin`]);
  });

  it('ignores the cache of another build of the bundle', () => {
    loadBundle(bundle, 'export', true).persist!();
    writeFileSync(bundle, BUNDLE.replace('ran ', 'RAN '));
    utimesSync(bundle, new Date(), new Date(Date.now() + 5000));
    const next = loadBundle(bundle, 'export', true);
    expect(next.cached).toBe(false);
    expect(next.runCli(['x'])).toBe('RAN x in cli.cjs');
    expect(next.persist).toBeDefined();
  });

  it('runs from a cache whose data V8 rejects, and replaces it', () => {
    mkdirSync(join(dir, 'code-cache'));
    writeFileSync(cachePath(bundle), encodeCache(`${BUNDLE.length}:${statSync(bundle).mtimeMs}`, ['export'], Buffer.from('not V8 data at all, but a valid header and CRC')));
    const loaded = loadBundle(bundle, 'export', true);
    expect(loaded.cached).toBe(false);
    expect(loaded.runCli(['x'])).toBe('ran x in cli.cjs');
    loaded.persist!();
    expect(loadBundle(bundle, 'export', true).cached).toBe(true);
  });

  it('runs without a cache where it cannot write one, and with FERRY_CODE_CACHE=0', () => {
    if (process.getuid?.() === 0) {
      // root writes anywhere: a file where the cache directory should be stands in for it
      writeFileSync(join(dir, 'code-cache'), 'not a directory');
    } else chmodSync(dir, 0o555);
    const loaded = loadBundle(bundle, 'export', true);
    expect(loaded.runCli(['x'])).toBe('ran x in cli.cjs');
    expect(() => loaded.persist!()).not.toThrow();
    expect(loadBundle(bundle, 'export', true).cached).toBe(false);
    const off = loadBundle(bundle, 'export', false);
    expect(off.persist).toBeUndefined();
    expect(off.runCli(['y'])).toBe('ran y in cli.cjs');
  });
});
