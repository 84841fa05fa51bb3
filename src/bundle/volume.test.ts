import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { blobPath } from '../digest/digest.js';
import { MediaType } from '../oci/media-types.js';
import { blob, blobs, created, fixtureStore, singlePlan } from './bundle.fixture.js';
import { readArchive } from './reader.js';
import { openSeekable } from './seekable.js';
import { verifyArchive } from './verify.js';
import { MIN_SPLIT, encodeVolumeHeader, parseSplitSize, parseVolumeHeader, volumePath, type VolumeHeader } from './volume-header.js';
import { findVolumeSet } from './volume-set.js';
import { verifyVolume } from './volume-verify.js';
import { writeBundle } from './writer.js';
import { tarHeader, tarPadding } from './tar-header.js';
import { gzipSync } from 'node:zlib';

// Incompressible layers (stored members) and a compressible one (deflated), ~2.6 MB in all.
const big1 = blob(MediaType.ociLayerGzip, randomBytes(1_300_000));
const big2 = blob(MediaType.ociLayerGzip, randomBytes(900_000));
const text = blob(MediaType.ociLayer, Buffer.from('a compressible line of an uncompressed layer\n'.repeat(9000)));
const small = blob(MediaType.ociLayerGzip, randomBytes(3000));
const plan = singlePlan('example.org/big:1', [text, big1, small, big2]);

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ferry-volumes-'));
  dirs.push(d);
  return d;
}

async function writeSet(dir: string, split = MIN_SPLIT, name = 'b.tar.gz'): Promise<string> {
  const store = await fixtureStore(dir);
  const out = join(dir, name);
  await writeBundle([plan], store, { out, compression: 'gzip', prefer: [], tool: 't', created, split });
  return out;
}

const header = (over: Partial<VolumeHeader> = {}): VolumeHeader => ({ ferryVolumeVersion: 1, set: 'a'.repeat(64), part: 2, split: 4_700_000_000, fileOffset: 4_699_999_000, tarOffset: 4_700_123_456, nextHeader: 4_700_200_000, entry: 17, ...over });

describe('volume header', () => {
  it('round-trips through an empty gzip member that gzip reads as nothing', () => {
    const h = header();
    const b = encodeVolumeHeader(h);
    expect(parseVolumeHeader(b, 'x')).toEqual({ header: h, length: b.length });
    expect(execFileSync('gzip', ['-dc'], { input: b }).length).toBe(0);
  });

  it('is no volume header for other gzip data', () => {
    expect(parseVolumeHeader(execFileSync('gzip', ['-c'], { input: 'x' }), 'x')).toBeUndefined();
  });

  it.each([
    ['a length field', (b: Buffer) => b.writeUInt16LE(b.readUInt16LE(14) + 1, 14), /length fields disagree/],
    ['the JSON', (b: Buffer) => b.write('}', 16), /not JSON|damaged/],
    ['the part number', (b: Buffer) => b.write(b.toString('latin1').replace('"part":2', '"part":0'), 0, 'latin1'), /part/],
    ['the empty body', (b: Buffer) => (b[b.length - 10] = 0x04), /not empty/],
  ])('rejects a damaged %s, naming the file', (_what, damage, message) => {
    const b = encodeVolumeHeader(header());
    damage(b);
    expect(() => parseVolumeHeader(b, 'b.tar.gz.002')).toThrow(message);
    expect(() => parseVolumeHeader(b, 'b.tar.gz.002')).toThrow(/b\.tar\.gz\.002/);
  });
});

describe('parseSplitSize', () => {
  it.each([
    ['4.7G', 4_700_000_000],
    ['700M', 700_000_000],
    ['700MB', 700_000_000],
    ['4Gi', 4 * 2 ** 30],
    ['1MiB', 2 ** 20],
    ['1M', 1_000_000],
    ['2000000', 2_000_000],
    ['1.5g', 1_500_000_000],
  ])('%s is %d bytes', (text, bytes) => {
    expect(parseSplitSize(text)).toBe(bytes);
  });

  it.each(['', 'big', '4X', '-1G', '1e9', '999K', '0'])('refuses "%s" (exit 2)', (text) => {
    expect(() => parseSplitSize(text)).toThrow(expect.objectContaining({ code: 'USAGE' }));
  });

  it('names the minimum', () => {
    expect(() => parseSplitSize('500K')).toThrow(/500000 bytes, less than the smallest volume ferry writes \(1M/);
  });
});

describe('writeBundle with split', () => {
  let dir: string;
  let out: string;
  beforeAll(async () => {
    dir = await tmp();
    dirs.splice(dirs.indexOf(dir), 1); // kept for the whole describe
    out = await writeSet(dir);
  });

  it('writes volumes of at most SIZE bytes, one checksum file with a line each, no partial files', async () => {
    const names = (await readdir(dir)).filter((n) => n.startsWith('b.tar.gz')).sort();
    expect(names).toEqual(['b.tar.gz.001', 'b.tar.gz.002', 'b.tar.gz.003', 'b.tar.gz.sha256']);
    for (const n of names.slice(0, 3)) expect((await stat(join(dir, n))).size).toBeLessThanOrEqual(MIN_SPLIT);
    const side = await readFile(join(dir, 'b.tar.gz.sha256'), 'utf8');
    expect(side.split('\n').filter(Boolean)).toHaveLength(3);
    execFileSync('sha256sum', ['-c', 'b.tar.gz.sha256'], { cwd: dir });
  });

  it('concatenates to one bundle that gzip and tar read', async () => {
    const cat = Buffer.concat(await Promise.all([1, 2, 3].map((p) => readFile(volumePath(out, p)))));
    const list = execFileSync('tar', ['-tz'], { input: cat, maxBuffer: 64 * 1024 * 1024 }).toString().trim().split('\n');
    expect(list).toContain(blobPath(big1.digest));
    expect(list[list.length - 1]).toBe('ferry-toc.json');
  });

  it('is read as one bundle through the first volume or the set name, in one pass and in place', async () => {
    for (const p of [volumePath(out, 1), out]) {
      const r = await verifyArchive(p, false);
      expect(r.problems).toEqual([]);
      expect(r.checked.sidecar).toBe('ok');
      const s = (await openSeekable(p))!;
      expect(s).toBeDefined();
      const data = await s.read(blobPath(big1.digest));
      expect(createHash('sha256').update(data).digest('hex')).toBe(big1.digest.slice(7));
      expect(await s.read(blobPath(big2.digest))).toHaveLength(big2.size);
      const parts: Buffer[] = [];
      for await (const c of s.open(blobPath(big1.digest), 999_000, 1_000_999)) parts.push(c as Buffer);
      // A range across the cut between volume 1 and 2.
      expect(Buffer.concat(parts).equals(blobs.get(big1.digest)!.subarray(999_000, 1_001_000))).toBe(true);
    }
  });

  it('is the same bytes on every run', async () => {
    const again = await writeSet(await tmp());
    for (const p of [1, 2, 3]) expect((await readFile(volumePath(again, p))).equals(await readFile(volumePath(out, p)))).toBe(true);
  });

  it('checks each volume alone', async () => {
    const checked = [];
    for (const p of [1, 2, 3]) {
      const r = (await verifyVolume(volumePath(out, p)))!;
      expect(r.problems).toEqual([]);
      expect(r.header.part).toBe(p);
      expect(r.checked.sidecar).toBe('ok');
      checked.push(r.checked);
    }
    expect(checked[0]!.spans).toBeDefined();
    expect(checked[1]!.continues).toBeDefined();
  });

  it('names the damaged volume alone when one byte of it changes', async () => {
    const d = await tmp();
    const copy = await writeSet(d);
    const v2 = volumePath(copy, 2);
    const b = await readFile(v2);
    b[Math.floor(b.length / 2)]! ^= 0xff;
    await writeFile(v2, b);
    expect((await verifyVolume(volumePath(copy, 1)))!.problems).toEqual([]);
    expect((await verifyVolume(volumePath(copy, 3)))!.problems).toEqual([]);
    const r = (await verifyVolume(v2))!;
    expect(r.problems.join('\n')).toMatch(/b\.tar\.gz\.002/);
    await expect(verifyArchive(copy, false)).rejects.toThrow();
  });
});

describe('findVolumeSet', () => {
  it('is undefined for a bundle file and for a missing name', async () => {
    const d = await tmp();
    await writeFile(join(d, 'plain.tar.gz'), 'x');
    expect(await findVolumeSet(join(d, 'plain.tar.gz'))).toBeUndefined();
    expect(await findVolumeSet(join(d, 'none.tar.gz'))).toBeUndefined();
    await writeFile(join(d, 'other.001'), 'not a volume');
    expect(await findVolumeSet(join(d, 'other.001'))).toBeUndefined();
  });

  it('refuses a later volume, naming the first', async () => {
    const out = await writeSet(await tmp());
    await expect(findVolumeSet(volumePath(out, 2))).rejects.toThrow(/volume 2 of the set b\.tar\.gz: a set is read from its first volume/);
  });

  it('refuses a gap', async () => {
    const out = await writeSet(await tmp());
    await rm(volumePath(out, 2));
    await expect(findVolumeSet(out)).rejects.toThrow(/b\.tar\.gz\.002 is missing/);
  });

  it('refuses a set whose last volumes are missing', async () => {
    const out = await writeSet(await tmp());
    await rm(volumePath(out, 3));
    await expect(findVolumeSet(volumePath(out, 1))).rejects.toThrow(/ends without the bundle's table of contents: b\.tar\.gz\.003 is missing/);
  });

  it('refuses a volume from another set', async () => {
    const d = await tmp();
    const out = await writeSet(d);
    const other = await writeSet(d, 1_100_000, 'c.tar.gz');
    await copyFile(volumePath(other, 2), volumePath(out, 2));
    await expect(findVolumeSet(out)).rejects.toThrow(/b\.tar\.gz\.002 belongs to another set/);
  });

  it('refuses volumes in the wrong order', async () => {
    const out = await writeSet(await tmp());
    await rename(volumePath(out, 2), `${out}.tmp`);
    await rename(volumePath(out, 3), volumePath(out, 2));
    await rename(`${out}.tmp`, volumePath(out, 3));
    await expect(findVolumeSet(out)).rejects.toThrow(/b\.tar\.gz\.002 says it is volume 3/);
  });

  it('refuses a truncated volume before the last', async () => {
    const out = await writeSet(await tmp());
    const b = await readFile(volumePath(out, 1));
    await writeFile(volumePath(out, 1), b.subarray(0, b.length - 100));
    await expect(findVolumeSet(out)).rejects.toThrow(/b\.tar\.gz\.002 starts at byte \d+ of the set, but the volumes before it hold \d+ bytes/);
  });
});

describe('writeBundle with split: files left behind', () => {
  it('leaves no volume, partial or checksum file when the write fails', async () => {
    const d = await tmp();
    const store = await fixtureStore(d);
    const out = join(d, 'b.tar.gz');
    // The second big layer never arrives: the write is abandoned after volume 1 or 2.
    const ready = async (digest: string): Promise<void> => {
      if (digest === big2.digest) throw new Error('the pull failed');
    };
    await expect(writeBundle([plan], store, { out, compression: 'gzip', prefer: [], tool: 't', created, split: MIN_SPLIT, ready })).rejects.toThrow(/the pull failed/);
    expect((await readdir(d)).filter((n) => n.startsWith('b.tar.gz'))).toEqual([]);
  });

  it('a set replaces a single file of the same name, and a single file a set', async () => {
    const d = await tmp();
    const store = await fixtureStore(d);
    const out = join(d, 'b.tar.gz');
    const write = (split?: number) => writeBundle([plan], store, { out, compression: 'gzip', prefer: [], tool: 't', created, ...(split ? { split } : {}) });
    await write();
    await write(MIN_SPLIT);
    expect((await readdir(d)).filter((n) => n.startsWith('b.tar.gz')).sort()).toEqual(['b.tar.gz.001', 'b.tar.gz.002', 'b.tar.gz.003', 'b.tar.gz.sha256']);
    await write(2_000_000);
    expect((await readdir(d)).filter((n) => n.startsWith('b.tar.gz')).sort()).toEqual(['b.tar.gz.001', 'b.tar.gz.002', 'b.tar.gz.sha256']);
    expect((await findVolumeSet(out))!.volumes).toHaveLength(2);
    await write();
    expect((await readdir(d)).filter((n) => n.startsWith('b.tar.gz')).sort()).toEqual(['b.tar.gz', 'b.tar.gz.sha256']);
  });

  it('a volume header past part 999 is refused (volume names have three digits)', async () => {
    expect(() => parseVolumeHeader(encodeVolumeHeader(header({ part: 1000 })), 'x')).toThrow(/part/);
  });
});

describe('verifyVolume', () => {
  it('checks each blob wholly inside against its digest, even when the gzip data is sound', async () => {
    const d = await tmp();
    const good = Buffer.from('good blob\n');
    const goodName = blobPath(`sha256:${createHash('sha256').update(good).digest('hex')}`);
    const badName = blobPath(`sha256:${'1'.repeat(64)}`);
    const entry = (name: string, data: Buffer): Buffer => Buffer.concat([tarHeader(name, data.length, created), data, Buffer.alloc(tarPadding(data.length))]);
    const tar = Buffer.concat([entry(goodName, good), entry(badName, Buffer.from('not what its name says')), Buffer.alloc(1024)]);
    const path = join(d, 'v.tar.gz.001');
    await writeFile(path, Buffer.concat([encodeVolumeHeader(header({ part: 1, fileOffset: 0, tarOffset: 0, nextHeader: 0, entry: 0 })), gzipSync(tar)]));
    const r = (await verifyVolume(path))!;
    expect(r.problems).toEqual([`bundle entry ${badName} hashes to sha256:${createHash('sha256').update('not what its name says').digest('hex')}`]);
    expect(r.checked).toMatchObject({ entries: 2, sidecar: 'absent' });
  });

  it('is undefined for a file that is no volume', async () => {
    const d = await tmp();
    await writeFile(join(d, 'x.001'), gzipSync('x'));
    expect(await verifyVolume(join(d, 'x.001'))).toBeUndefined();
  });
});
