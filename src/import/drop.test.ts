import { describe, expect, it } from 'vitest';
import { decide, isBundleName, listDrop, runStatus, type BundleCheck } from './drop.js';
import type { JournalEntry } from './journal.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const NOW = 1_000_000_000;
const SETTLE = 60_000;
const still = { size: 10, mtimeMs: NOW - 120_000 };
const entry: JournalEntry = { bundle: 'old.tar.gz', sha256: A, bytes: 10, target: 'r:5000', images: [], time: '2026-01-01T00:00:00.000Z' };

describe('listDrop', () => {
  it('pairs bundles with their sidecars, keeps lone sidecars apart, ignores hidden and temporary files', () => {
    const f = (name: string) => ({ name, size: 1, mtimeMs: 0 });
    const l = listDrop([f('b.tar.gz'), f('b.tar.gz.sha256'), f('a.tar'), f('c.tgz.sha256'), f('d.tar.gz.123.partial'), f('.hidden.tar.gz'), f('notes.txt'), f('x.sha256')]);
    expect(l.bundles).toEqual([{ name: 'a.tar', size: 1, mtimeMs: 0 }, { name: 'b.tar.gz', size: 1, mtimeMs: 0, sidecar: 'b.tar.gz.sha256' }]);
    expect(l.orphanSidecars).toEqual(['c.tgz.sha256']);
  });

  it.each([['x.tar.gz', true], ['x.tgz', true], ['x.tar', true], ['x.tar.gz.sha256', false], ['x.tar.gz.1.partial', false], ['.x.tar', false], ['x.zip', false]])('isBundleName(%s) is %s', (n, want) => {
    expect(isBundleName(n)).toBe(want);
  });
});

describe('decide', () => {
  const journal = new Map([[A, entry]]);
  const cases: [string, BundleCheck, ReturnType<typeof decide>['kind']][] = [
    ['no sidecar: waiting', { sidecarHex: undefined, before: still }, 'waiting'],
    ['size changed while hashed: waiting', { sidecarHex: B, hashed: { sha256: B, bytes: 10 }, before: still, after: { ...still, size: 20 } }, 'waiting'],
    ['mtime changed while hashed: waiting', { sidecarHex: B, hashed: { sha256: B, bytes: 10 }, before: still, after: { ...still, mtimeMs: NOW } }, 'waiting'],
    ['mismatch, modified within the settle time: waiting', { sidecarHex: B, hashed: { sha256: 'c'.repeat(64), bytes: 10 }, before: { size: 10, mtimeMs: NOW - 1000 }, after: { size: 10, mtimeMs: NOW - 1000 } }, 'waiting'],
    ['mismatch, standing still: damaged', { sidecarHex: B, hashed: { sha256: 'c'.repeat(64), bytes: 10 }, before: still, after: still }, 'damaged'],
    ['match, in the journal: duplicate', { sidecarHex: A, hashed: { sha256: A, bytes: 10 }, before: still, after: still }, 'duplicate'],
    ['match, new: import', { sidecarHex: B, hashed: { sha256: B, bytes: 10 }, before: still, after: still }, 'import'],
    ['match, new, just arrived: import (the checksum proves it complete)', { sidecarHex: B, hashed: { sha256: B, bytes: 10 }, before: { size: 10, mtimeMs: NOW }, after: { size: 10, mtimeMs: NOW } }, 'import'],
  ];
  it.each(cases)('%s', (_, check, kind) => {
    expect(decide('x.tar.gz', check, journal, NOW, SETTLE).kind).toBe(kind);
  });

  it('says why a damaged bundle is rejected, with both hashes', () => {
    const d = decide('x.tar.gz', { sidecarHex: B, hashed: { sha256: A, bytes: 10 }, before: still, after: still }, new Map(), NOW, SETTLE);
    expect(d).toEqual({ kind: 'damaged', why: `it does not match its checksum file: sha256 ${A} (10 bytes), the checksum file says ${B}; it was damaged or changed after it was written` });
  });

  it('a duplicate carries the journal entry it repeats', () => {
    expect(decide('y.tar.gz', { sidecarHex: A, hashed: { sha256: A, bytes: 10 }, before: still, after: still }, journal, NOW, SETTLE)).toEqual({ kind: 'duplicate', sha256: A, entry });
  });
});

describe('runStatus', () => {
  it.each([
    [{ imported: 0, failed: 0 }, 'ok'],
    [{ imported: 2, failed: 0 }, 'ok'],
    [{ imported: 2, failed: 1 }, 'partial'],
    [{ imported: 0, failed: 1 }, 'failed'],
  ] as const)('%o -> %s', (counts, want) => {
    expect(runStatus(counts)).toBe(want);
  });
});
