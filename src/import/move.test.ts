import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { moveBundle } from './move.js';

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
