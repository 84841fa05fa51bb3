import { describe, expect, it } from 'vitest';
import { checkEntryName, checkEntryType, checkLayerLink } from './entry-name.js';

const HEX_A = 'a'.repeat(64);
const HEX_B = 'b'.repeat(64);

describe('checkEntryName', () => {
  it.each([
    ['index.json', 'index.json'],
    ['./index.json', 'index.json'],
    ['././blobs//sha256/x', 'blobs/sha256/x'],
    ['blobs/sha256/', 'blobs/sha256'],
    [`${HEX_A}/layer.tar`, `${HEX_A}/layer.tar`],
    ['a..b/c...', 'a..b/c...'],
    ['...', '...'],
  ])('accepts %j as %j', (name, want) => {
    expect(checkEntryName(name)).toBe(want);
  });

  it.each([
    ['../x', 'its path leaves the archive (..)'],
    ['blobs/../../x', 'its path leaves the archive (..)'],
    ['a/..', 'its path leaves the archive (..)'],
    ['./../x', 'its path leaves the archive (..)'],
    ['..', 'its path leaves the archive (..)'],
    ['/etc/passwd', 'it has an absolute path'],
    ['//server/share', 'it has an absolute path'],
    ['C:\\Windows\\x', 'it has an absolute path'],
    ['c:/x', 'it has an absolute path'],
    ['blobs\\..\\x', 'its name contains a backslash'],
    ['index.json\0.png', 'its name contains a NUL byte'],
    ['', 'its name is empty'],
    ['./', 'its name is empty'],
    ['.//.', 'its name is empty'],
  ])('rejects %j: %s', (name, why) => {
    expect(() => checkEntryName(name)).toThrow(expect.objectContaining({ code: 'BUNDLE_FORMAT', message: `bundle entry "${name}" is rejected: ${why}` }));
  });
});

describe('checkEntryType', () => {
  it.each([
    ['file', 'file'],
    ['contiguous-file', 'file'],
    ['directory', 'directory'],
    ['symlink', 'symlink'],
    ['pax-header', 'skip'],
    ['pax-global-header', 'skip'],
    ['gnu-long-path', 'skip'],
    ['gnu-long-link-path', 'skip'],
  ] as const)('%s entries are %s', (type, want) => {
    expect(checkEntryType('x', type)).toBe(want);
  });

  it.each(['link', 'character-device', 'block-device', 'fifo', 'unknown', null, undefined])('rejects %s entries, naming the entry and its type', (type) => {
    expect(() => checkEntryType('dev/x', type)).toThrow(
      expect.objectContaining({ code: 'BUNDLE_FORMAT', message: `bundle entry "dev/x" is rejected: it is a ${type ?? 'unknown'} entry, and a bundle holds only regular files` }),
    );
  });
});

describe('checkLayerLink', () => {
  it.each([
    [`${HEX_A}/layer.tar`, `../${HEX_B}/layer.tar`, `${HEX_B}/layer.tar`], // docker save
    [`${HEX_A}/layer.tar`, `../${HEX_B}.tar`, `${HEX_B}.tar`], // skopeo docker-archive
  ])('accepts %s -> %s', (name, link, target) => {
    expect(checkLayerLink(name, link)).toBe(target);
  });

  it.each([
    [`${HEX_A}/layer.tar`, '/etc/passwd'],
    [`${HEX_A}/layer.tar`, `../../${HEX_B}/layer.tar`],
    [`${HEX_A}/layer.tar`, `${HEX_B}/layer.tar`],
    [`${HEX_A}/layer.tar`, `../${HEX_B}/json`],
    [`${HEX_A}/layer.tar`, `../${HEX_B}/layer.tar/../../etc/passwd`],
    [`${HEX_A}/layer.tar`, '../index.json'],
    [`${HEX_A}/layer.tar`, ''],
    [`${HEX_A}/layer.tar`, null],
    ['index.json', `../${HEX_B}/layer.tar`],
    [`blobs/sha256/${HEX_A}`, `../${HEX_B}/layer.tar`],
    [`${HEX_A.toUpperCase()}/layer.tar`, `../${HEX_B}/layer.tar`],
  ])('rejects %s -> %s', (name, link) => {
    expect(() => checkLayerLink(name, link)).toThrow(
      expect.objectContaining({ code: 'BUNDLE_FORMAT', message: `bundle entry "${name}" is rejected: it is a symlink (to "${link ?? ''}"), and a bundle holds only regular files` }),
    );
  });
});
