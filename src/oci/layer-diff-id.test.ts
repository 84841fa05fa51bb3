import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerDiffId, sniffLayerCompression } from './layer-diff-id.js';
import { isZstdHead } from './zstd-decompress.js';

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Yields `buf` in chunks of the given sizes, cycling through them. */
async function* chunks(buf: Buffer, sizes: number[] = [64 * 1024]): AsyncGenerator<Buffer> {
  let i = 0;
  for (let off = 0; off < buf.length; i++) {
    const n = sizes[i % sizes.length]!;
    yield buf.subarray(off, off + n);
    off += n;
  }
}

/** A body that counts what was read from it, to show the whole input is always drained. */
function counted(buf: Buffer, sizes?: number[]): { body: AsyncGenerator<Buffer>; read: () => number } {
  let read = 0;
  const body = (async function* () {
    for await (const c of chunks(buf, sizes)) {
      read += c.length;
      yield c;
    }
  })();
  return { body, read: () => read };
}

/** RFC 8878 3.1.2: a skippable frame, magic 0x184D2A5X, 4-byte little-endian size, then data. */
function skippable(data: Buffer, nibble = 0xa): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(0x184d2a50 + nibble, 0);
  h.writeUInt32LE(data.length, 4);
  return Buffer.concat([h, data]);
}

let dir: string;
let tar: Buffer;
let zst: Buffer;

const zstd = (input: Buffer, ...args: string[]): Buffer => execFileSync('zstd', ['-q', '-c', ...args], { input, maxBuffer: 64 * 1024 * 1024 });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-diffid-'));
  const root = join(dir, 'rootfs');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'random.bin'), randomBytes(700 * 1024));
  writeFileSync(join(root, 'etc', 'text'), 'hello zstd\n'.repeat(50_000));
  execFileSync('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', join(dir, 'layer.tar'), '.']);
  execFileSync('zstd', ['-q', '-3', join(dir, 'layer.tar'), '-o', join(dir, 'layer.tar.zst')]);
  tar = readFileSync(join(dir, 'layer.tar'));
  zst = readFileSync(join(dir, 'layer.tar.zst'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('layerDiffId', () => {
  it('hashes the tar inside a zstd layer made by GNU tar and the zstd binary', async () => {
    expect(zst.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    await expect(layerDiffId(chunks(zst))).resolves.toEqual({ diffId: sha(tar), compression: 'zstd' });
  });

  it('reads zstd fed in tiny, uneven chunks', async () => {
    const small = zstd(tar.subarray(0, 300 * 1024), '-19');
    await expect(layerDiffId(chunks(small, [1, 3, 7, 2, 17, 4096, 5]))).resolves.toEqual({ diffId: sha(tar.subarray(0, 300 * 1024)), compression: 'zstd' });
  });

  it('hashes all frames of a multi-frame zstd stream, skippable frames included', async () => {
    const a = tar.subarray(0, 200_000);
    const b = tar.subarray(200_000);
    const multi = Buffer.concat([zstd(a), skippable(Buffer.from('seek table')), zstd(b, '--no-check'), zstd(Buffer.alloc(0))]);
    await expect(layerDiffId(chunks(multi, [5000, 11]))).resolves.toEqual({ diffId: sha(tar), compression: 'zstd' });
    const lead = Buffer.concat([skippable(Buffer.from('x'), 0), zst]);
    expect(isZstdHead(lead)).toBe(true);
    await expect(layerDiffId(chunks(lead))).resolves.toEqual({ diffId: sha(tar), compression: 'zstd' });
  });

  it('reads a zstd stream made with a long window (--long=27)', async () => {
    const long = zstd(tar, '--long=27');
    await expect(layerDiffId(chunks(long))).resolves.toEqual({ diffId: sha(tar), compression: 'zstd' });
  });

  it.each([
    ['in the frame header', 3 + 2],
    ['inside a block', Math.floor(0.5 * 1_000_000)],
    ['inside the checksum', -2],
    ['before the checksum', -4],
  ])('a zstd stream truncated %s is an error, not a wrong digest, and the body is drained', async (_what, at) => {
    const cut = zst.subarray(0, at < 0 ? zst.length + at : Math.min(at, zst.length - 10));
    const { body, read } = counted(cut, [4096, 1]);
    await expect(layerDiffId(body)).rejects.toThrow('the layer does not decompress: the zstd data ends early (truncated)');
    expect(read()).toBe(cut.length);
  });

  it('a second frame cut short is an error', async () => {
    const two = Buffer.concat([zstd(tar.subarray(0, 1000)), zstd(tar)]);
    await expect(layerDiffId(chunks(two.subarray(0, two.length - 500)))).rejects.toMatchObject({ code: 'BUNDLE_FORMAT', message: expect.stringMatching(/truncated/) });
  });

  it('bytes after the last zstd frame that are no frame are an error', async () => {
    const { body, read } = counted(Buffer.concat([zst, Buffer.from('garbage after the frame')]));
    await expect(layerDiffId(body)).rejects.toThrow(/the layer does not decompress: the zstd data is corrupted/);
    expect(read()).toBe(zst.length + 23);
  });

  it('hashes gzip layers and uncompressed tars as before', async () => {
    await expect(layerDiffId(chunks(gzipSync(tar)))).resolves.toEqual({ diffId: sha(tar), compression: 'gzip' });
    await expect(layerDiffId(chunks(tar, [1, 2, 100]))).resolves.toEqual({ diffId: sha(tar), compression: 'none' });
    await expect(layerDiffId(chunks(Buffer.from('{}')))).resolves.toEqual({ diffId: sha(Buffer.from('{}')), compression: 'none' });
    await expect(layerDiffId(chunks(Buffer.alloc(0)))).resolves.toEqual({ diffId: sha(Buffer.alloc(0)), compression: 'none' });
  });

  it('a truncated gzip layer is an error, not a wrong digest', async () => {
    const gz = gzipSync(tar);
    const { body, read } = counted(gz.subarray(0, gz.length - 100));
    await expect(layerDiffId(body)).rejects.toThrow('the layer does not decompress: the gzip data ends early (truncated)');
    expect(read()).toBe(gz.length - 100);
  });

  it.each([
    [[0x1f, 0x8b, 8, 0], 'gzip'],
    [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
    [[0x5f, 0x2a, 0x4d, 0x18], 'zstd'],
    [[0x28, 0xb5, 0x2f], 'none'],
    [[0x75, 0x73, 0x74, 0x61], 'none'],
  ] as const)('sniffs %j as %s', (bytes, want) => {
    expect(sniffLayerCompression(Uint8Array.from(bytes))).toBe(want);
  });
});
