import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { sha256Digest } from '../digest/digest.js';
import type { BlobOpener } from '../content/image-source.js';
import { blobContent } from './blob-content.js';

const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(100));
const digest = sha256Digest(data);

/** A source of `bytes` in 100-byte chunks; `ignoreRange` answers from byte 0 whatever is asked. */
function opener(bytes: Buffer, opts: { ignoreRange?: boolean; opened?: number[] } = {}): BlobOpener {
  return async (offset, end) => {
    opts.opened?.push(offset);
    const start = opts.ignoreRange ? 0 : offset;
    const slice = bytes.subarray(start, end === undefined || opts.ignoreRange ? bytes.length : end + 1);
    const chunks: Buffer[] = [];
    for (let i = 0; i < slice.length; i += 100) chunks.push(slice.subarray(i, i + 100));
    return { body: Readable.from(chunks), start };
  };
}

async function read(r: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) out.push(c);
  return Buffer.concat(out);
}

describe('blob content', () => {
  it('reads ranges one after another with one running hash, the source opened once per range', async () => {
    const opened: number[] = [];
    const c = blobContent(opener(data, { opened }), data.length, digest, 'layer X');
    const parts = [await read(c.open(0, 999)), await read(c.open(1000, 2999)), await read(c.open(3000, data.length - 1))];
    expect(Buffer.concat(parts).equals(data)).toBe(true);
    expect(opened).toEqual([0, 1000, 3000]);
  });

  it('a range that starts elsewhere hashes the bytes before it (from the source, or the given prefix)', async () => {
    const opened: number[] = [];
    const c = blobContent(opener(data, { opened }), data.length, digest, 'layer X');
    expect((await read(c.open(2000, data.length - 1))).equals(data.subarray(2000))).toBe(true);
    expect(opened, 'the bytes before the range, then the range').toEqual([0, 2000]);
    const d = blobContent(opener(data), data.length, digest, 'layer X');
    const rest = await read(d.open(1500, data.length - 1, { prefix: Readable.from([data.subarray(0, 1500)]) }));
    expect(rest.equals(data.subarray(1500))).toBe(true);
  });

  it('a wrong prefix (a damaged partial file) fails the blob', async () => {
    const c = blobContent(opener(data), data.length, digest, 'layer X');
    const bad = Buffer.from(data.subarray(0, 1500));
    bad[10]! ^= 1;
    await expect(read(c.open(1500, data.length - 1, { prefix: Readable.from([bad]) }))).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
  });

  it('holds the last chunk back until the digest matched: a wrong blob never arrives whole', async () => {
    const wrong = Buffer.from(data);
    wrong[wrong.length - 1]! ^= 1;
    const c = blobContent(opener(wrong), data.length, digest, 'layer X');
    const got: Buffer[] = [];
    const err = await (async () => {
      try {
        for await (const x of c.open(0, data.length - 1) as AsyncIterable<Buffer>) got.push(x);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH', message: expect.stringContaining('layer X: expected') });
    expect(Buffer.concat(got).length).toBeLessThan(data.length);
  });

  it('holdLast: false passes every byte on and still fails at the end', async () => {
    const wrong = Buffer.from(data);
    wrong[0]! ^= 1;
    const c = blobContent(opener(wrong), data.length, digest, 'layer X');
    const got: Buffer[] = [];
    await expect(
      (async () => {
        for await (const x of c.open(0, data.length - 1, { holdLast: false }) as AsyncIterable<Buffer>) got.push(x);
      })(),
    ).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' });
    expect(Buffer.concat(got).length).toBe(data.length);
  });

  it('a source that ignores the offset is skipped to it; one with more or fewer bytes than the size fails', async () => {
    const c = blobContent(opener(data, { ignoreRange: true }), data.length, digest, 'layer X');
    expect((await read(c.open(0, 499))).equals(data.subarray(0, 500))).toBe(true);
    expect((await read(c.open(500, data.length - 1))).equals(data.subarray(500))).toBe(true);
    const longer = Buffer.concat([data, Buffer.from('x')]);
    await expect(read(blobContent(opener(longer, { ignoreRange: true }), data.length, digest, 'layer X').open(0, data.length - 1))).rejects.toThrow(`more than ${data.length} bytes`);
    await expect(read(blobContent(opener(data.subarray(0, 100)), data.length, digest, 'layer X').open(0, data.length - 1))).rejects.toThrow(`calculated size 100`);
  });

  it('a verified source (the cache) is passed through without hashing', async () => {
    const wrong = Buffer.from(data);
    wrong[0]! ^= 1;
    const c = blobContent(opener(wrong), data.length, digest, 'layer X', true);
    expect((await read(c.open(0, data.length - 1))).equals(wrong)).toBe(true);
  });
});
