import { describe, expect, it } from 'vitest';
import { decide, decideSet, displayName, isBundleName, listDrop, runStatus, unfinishedMove, volumeName, type BundleCheck, type SetCheck } from './drop.js';
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

describe('listDrop: volume sets', () => {
  const f = (name: string, size = 1, mtimeMs = 0) => ({ name, size, mtimeMs });
  it('groups NAME.NNN of a bundle name into one set named NAME, with its checksum file, sizes summed, the newest time', () => {
    const l = listDrop([f('p.tar.gz.002', 5, 20), f('p.tar.gz.001', 7, 10), f('p.tar.gz.sha256'), f('a.tar.gz'), f('notes.001'), f('.h.tar.gz.001'), f('p.tar.gz.003.123.partial')]);
    expect(l.bundles).toEqual([
      { name: 'a.tar.gz', size: 1, mtimeMs: 0 },
      { name: 'p.tar.gz', size: 12, mtimeMs: 20, sidecar: 'p.tar.gz.sha256', volumes: [f('p.tar.gz.001', 7, 10), f('p.tar.gz.002', 5, 20)] },
    ]);
    expect(l.orphanSidecars).toEqual([]);
  });

  it('a set without its checksum file is still listed (waiting); a set checksum file without volumes is a lone sidecar', () => {
    const l = listDrop([f('p.tar.gz.001'), f('q.tar.gz.sha256')]);
    expect(l.bundles.map((b) => [b.name, b.sidecar])).toEqual([['p.tar.gz', undefined]]);
    expect(l.orphanSidecars).toEqual(['q.tar.gz.sha256']);
  });

  it('a file and volumes of the same name are one entry, marked', () => {
    const l = listDrop([f('p.tar.gz'), f('p.tar.gz.001'), f('p.tar.gz.sha256')]);
    expect(l.bundles).toHaveLength(1);
    expect(l.bundles[0]).toMatchObject({ name: 'p.tar.gz', alsoFile: true, volumes: [f('p.tar.gz.001')] });
  });

  it.each([['p.tar.gz.001', { base: 'p.tar.gz', part: 1 }], ['p.tgz.012', { base: 'p.tgz', part: 12 }], ['p.tar.000', undefined], ['p.001', undefined], ['p.tar.gz.1', undefined], ['.p.tar.001', undefined]])('volumeName(%s)', (n, want) => {
    expect(volumeName(n)).toEqual(want);
  });

  it('names a set as people see it', () => {
    expect(displayName({ name: 'p.tar.gz', volumes: [1, 2, 3] })).toBe('p.tar.gz (3 volumes)');
    expect(displayName({ name: 'p.tar.gz' })).toBe('p.tar.gz');
  });
});

describe('decideSet', () => {
  const H1 = '1'.repeat(64);
  const H2 = '2'.repeat(64);
  const lines: [string, string][] = [['p.tar.gz.001', H1], ['p.tar.gz.002', H2]];
  const vol = (name: string, mtimeMs = NOW - 120_000) => ({ name, size: 10, mtimeMs });
  const both = [vol('p.tar.gz.001'), vol('p.tar.gz.002')];
  const hashed = (h1: string, h2: string, total = A) => ({ volumes: new Map([['p.tar.gz.001', h1], ['p.tar.gz.002', h2]]), sha256: total, bytes: 20 });
  const journal = new Map([[A, entry]]);
  const cases: [string, SetCheck, ReturnType<typeof decideSet>['kind'], RegExp?][] = [
    ['no checksum file: waiting', { lines: undefined, before: both }, 'waiting', /checksum file p\.tar\.gz\.sha256 is missing/],
    ['a volume missing: waiting, naming it (however old the others are)', { lines, before: [vol('p.tar.gz.001', 0)] }, 'waiting', /^p\.tar\.gz\.002 is missing \(p\.tar\.gz\.sha256 lists 2 volumes, 1 is here\)$/],
    ['every volume missing but one of three: waiting, naming both', { lines: [...lines, ['p.tar.gz.003', B]], before: [vol('p.tar.gz.002')] }, 'waiting', /^p\.tar\.gz\.001, p\.tar\.gz\.003 are missing/],
    ['a checksum file that names no volume of the set (a single bundle\'s): waiting, saying so', { lines: [['p.tar.gz', H1]], before: both }, 'waiting', /lists no volume of it \(it names p\.tar\.gz\)/],
    ['a file of the same name too: waiting', { alsoFile: true, lines, before: both }, 'waiting', /both the file p\.tar\.gz and volumes/],
    ['a volume changed while hashed: waiting', { lines, before: both, hashed: hashed(H1, H2), after: [vol('p.tar.gz.001'), { ...vol('p.tar.gz.002'), size: 11 }] }, 'waiting', /still being written/],
    ['a volume does not match, modified within the settle time: waiting', { lines, before: [vol('p.tar.gz.001'), vol('p.tar.gz.002', NOW - 1000)], hashed: hashed(H1, B), after: [vol('p.tar.gz.001'), vol('p.tar.gz.002', NOW - 1000)] }, 'waiting', /still arriving/],
    ['a volume does not match, standing still: damaged, naming it', { lines, before: both, hashed: hashed(H1, B), after: both }, 'damaged', /p\.tar\.gz\.002 does not match its line in p\.tar\.gz\.sha256/],
    ['a volume the checksum file does not list, standing still: damaged', { lines, before: [...both, vol('p.tar.gz.003')], hashed: { ...hashed(H1, H2), volumes: new Map([['p.tar.gz.001', H1], ['p.tar.gz.002', H2], ['p.tar.gz.003', B]]) }, after: [...both, vol('p.tar.gz.003')] }, 'damaged', /p\.tar\.gz\.003 is not listed in p\.tar\.gz\.sha256/],
    ['all match, the concatenation in the journal: duplicate', { lines, before: both, hashed: hashed(H1, H2, A), after: both }, 'duplicate'],
    ['all match, new: import', { lines, before: both, hashed: hashed(H1, H2, B), after: both }, 'import'],
  ];
  it.each(cases)('%s', (_, check, kind, why) => {
    const d = decideSet('p.tar.gz', check, journal, NOW, SETTLE);
    expect(d.kind).toBe(kind);
    if (why) expect((d as { why: string }).why).toMatch(why);
  });

  it('the identity is the concatenation\'s sha256', () => {
    expect(decideSet('p.tar.gz', { lines, before: both, hashed: hashed(H1, H2, B), after: both }, journal, NOW, SETTLE)).toEqual({ kind: 'import', sha256: B });
  });
});

describe('unfinishedMove', () => {
  const lines: [string, string][] = [['p.tar.gz.001', A], ['p.tar.gz.002', B], ['p.tar.gz.003', 'c'.repeat(64)]];
  const moved = (name: string, parts: number[], l = lines) => ({ dir: '/done', name, lines: l.map(([n, h]) => [n.replace('p.tar.gz', name), h] as [string, string]), volumes: parts.map((p) => `${name}.00${p}`) });
  it.each([
    ['the first two moved, the third in drop: finish there', [3], [moved('p~1.tar.gz', [1, 2])], 'p~1.tar.gz'],
    ['all moved, the checksum file left in drop: finish there', [], [moved('p.tar.gz', [1, 2, 3])], 'p.tar.gz'],
    ['an earlier import of the same set, complete: not this one (it is a re-delivery still arriving)', [1], [moved('p.tar.gz', [1, 2, 3])], undefined],
    ['another set (other hashes): no', [3], [moved('p.tar.gz', [1, 2], [['p.tar.gz.001', B], ['p.tar.gz.002', A], ['p.tar.gz.003', A]])], undefined],
    ['a volume in both places: no', [2, 3], [moved('p.tar.gz', [1, 2])], undefined],
  ] as const)('%s', (_, present, sets, want) => {
    expect(unfinishedMove(lines, new Set(present), sets)?.name).toBe(want);
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
