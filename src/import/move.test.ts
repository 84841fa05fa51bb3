import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { moveBundle, moveSet } from './move.js';

describe('moveBundle', () => {
  it('moves a bundle and its sidecar into a new directory', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    writeFileSync(join(d, 'x.tar.gz'), 'bundle');
    writeFileSync(join(d, 'x.tar.gz.sha256'), 'abc  x.tar.gz\n');
    const m = await moveBundle(join(d, 'x.tar.gz'), join(d, 'x.tar.gz.sha256'), 'abc', join(d, 'done'));
    expect(m).toEqual({ bundle: join(d, 'done', 'x.tar.gz'), sidecar: join(d, 'done', 'x.tar.gz.sha256') });
    expect(existsSync(join(d, 'x.tar.gz'))).toBe(false);
    expect(readFileSync(m.bundle, 'utf8')).toBe('bundle');
  });

  it('a taken name gets ~N before the extension, and the sidecar names the new file', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    for (const dir of [d, join(d, 'done')]) {
      await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
      writeFileSync(join(dir, 'x.tar.gz'), dir);
    }
    writeFileSync(join(d, 'x.tar.gz.sha256'), 'abc  x.tar.gz\n');
    const m = await moveBundle(join(d, 'x.tar.gz'), join(d, 'x.tar.gz.sha256'), 'abc', join(d, 'done'));
    expect(m.bundle).toBe(join(d, 'done', 'x~1.tar.gz'));
    expect(readFileSync(m.sidecar!, 'utf8')).toBe('abc  x~1.tar.gz\n');
    expect(readFileSync(join(d, 'done', 'x.tar.gz'), 'utf8')).toBe(join(d, 'done'));
    expect(existsSync(join(d, 'x.tar.gz.sha256'))).toBe(false);
  });

  // /dev/shm is a tmpfs, a file system of its own on Linux: the rename fails with EXDEV.
  it.skipIf(!existsSync('/dev/shm'))('across file systems: copied, checked, renamed, and only then the original removed', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    const other = mkdtempSync('/dev/shm/ferry-move-');
    writeFileSync(join(d, 'x.tar.gz'), 'bundle bytes');
    writeFileSync(join(d, 'x.tar.gz.sha256'), 'abc  x.tar.gz\n');
    onTestFinished(() => rmSync(other, { recursive: true, force: true }));
    const m = await moveBundle(join(d, 'x.tar.gz'), join(d, 'x.tar.gz.sha256'), 'abc', join(other, 'done'));
    expect(readFileSync(m.bundle, 'utf8')).toBe('bundle bytes');
    expect(readFileSync(m.sidecar!, 'utf8')).toBe('abc  x.tar.gz\n');
    expect(existsSync(join(d, 'x.tar.gz'))).toBe(false);
    expect(readdirSync(join(other, 'done')).sort()).toEqual(['x.tar.gz', 'x.tar.gz.sha256']);
  });
});

describe('moveSet', () => {
  const A = 'a'.repeat(64);
  const B = 'b'.repeat(64);
  const lines: [string, string][] = [['p.tar.gz.001', A], ['p.tar.gz.002', B]];
  const setUp = (d: string) => {
    writeFileSync(join(d, 'p.tar.gz.001'), 'one');
    writeFileSync(join(d, 'p.tar.gz.002'), 'two');
    writeFileSync(join(d, 'p.tar.gz.sha256'), `${A}  p.tar.gz.001\n${B}  p.tar.gz.002\n`);
  };
  const vols = (d: string) => [join(d, 'p.tar.gz.001'), join(d, 'p.tar.gz.002')];

  it('moves every volume and the checksum file, under the set\'s name', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    setUp(d);
    const m = await moveSet('p.tar.gz', vols(d), join(d, 'p.tar.gz.sha256'), lines, join(d, 'done'));
    expect(m.base).toBe(join(d, 'done', 'p.tar.gz'));
    expect(readdirSync(d)).toEqual(['done']);
    expect(readdirSync(join(d, 'done')).sort()).toEqual(['p.tar.gz.001', 'p.tar.gz.002', 'p.tar.gz.sha256']);
    expect(readFileSync(join(d, 'done', 'p.tar.gz.sha256'), 'utf8')).toBe(`${A}  p.tar.gz.001\n${B}  p.tar.gz.002\n`);
  });

  it('a name taken by a file, a volume or another checksum file: the whole set gets ~N, its checksum file names the new volumes', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    setUp(d);
    mkdirSync(join(d, 'done'));
    writeFileSync(join(d, 'done', 'p.tar.gz.001'), 'another set');
    writeFileSync(join(d, 'done', 'p~1.tar.gz'), 'a file');
    writeFileSync(join(d, 'done', 'p~2.tar.gz.sha256'), `${B}  p~2.tar.gz\n`);
    const m = await moveSet('p.tar.gz', vols(d), join(d, 'p.tar.gz.sha256'), lines, join(d, 'done'));
    expect(m.base).toBe(join(d, 'done', 'p~3.tar.gz'));
    expect(m.volumes).toEqual([join(d, 'done', 'p~3.tar.gz.001'), join(d, 'done', 'p~3.tar.gz.002')]);
    expect(readFileSync(m.sidecar, 'utf8')).toBe(`${A}  p~3.tar.gz.001\n${B}  p~3.tar.gz.002\n`);
    expect(readFileSync(join(d, 'done', 'p.tar.gz.001'), 'utf8')).toBe('another set');
  });

  it('reuses a name whose checksum file is this set\'s, left by a run stopped before it moved a volume', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    setUp(d);
    mkdirSync(join(d, 'done'));
    writeFileSync(join(d, 'done', 'p.tar.gz.sha256'), `${A}  p.tar.gz.001\n${B}  p.tar.gz.002\n`);
    const m = await moveSet('p.tar.gz', vols(d), join(d, 'p.tar.gz.sha256'), lines, join(d, 'done'));
    expect(m.base).toBe(join(d, 'done', 'p.tar.gz'));
  });

  it.skipIf(!existsSync('/dev/shm'))('across file systems', async () => {
    const d = mkdtempSync(join(tmpdir(), 'move-'));
    const other = mkdtempSync('/dev/shm/ferry-move-');
    onTestFinished(() => rmSync(other, { recursive: true, force: true }));
    setUp(d);
    await moveSet('p.tar.gz', vols(d), join(d, 'p.tar.gz.sha256'), lines, join(other, 'done'), true);
    expect(readdirSync(d)).toEqual([]);
    expect(readdirSync(join(other, 'done')).sort()).toEqual(['p.tar.gz.001', 'p.tar.gz.002', 'p.tar.gz.sha256']);
    expect(readFileSync(join(other, 'done', 'p.tar.gz.002'), 'utf8')).toBe('two');
  });
});
