import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DigestMismatchError } from '../errors.js';
import { sha256Digest } from './digest.js';
import { VerifyingStream } from './verifying-stream.js';

/** Pipes `chunks` through a VerifyingStream; resolves the bytes that came out, or the error. */
async function run(chunks: Buffer[], digest: string, size: number | undefined, opts: { holdLast?: boolean } = {}): Promise<{ out: Buffer; err?: unknown }> {
  const got: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      got.push(c);
      cb();
    },
  });
  try {
    await pipeline(Readable.from(chunks), new VerifyingStream(digest, size, 'layer X of img', opts), sink);
    return { out: Buffer.concat(got) };
  } catch (err) {
    return { out: Buffer.concat(got), err };
  }
}

const data = Buffer.from('hello, verified world\n'.repeat(1000));
const digest = sha256Digest(data);
const split = (b: Buffer, n: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};

describe('VerifyingStream', () => {
  it('holdLast: passes everything once the digest matches', async () => {
    const { out, err } = await run(split(data, 777), digest, data.length, { holdLast: true });
    expect(err).toBeUndefined();
    expect(out.equals(data)).toBe(true);
  });

  it('holdLast: a wrong blob never gets through whole (its last chunk is kept back)', async () => {
    const chunks = split(data, 1000);
    const { out, err } = await run(chunks, sha256Digest('other'), data.length, { holdLast: true });
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect(out.length).toBeLessThanOrEqual(data.length - chunks[chunks.length - 1]!.length);
  });

  it('passes the bytes through unchanged when size and digest match', async () => {
    const { out, err } = await run(split(data, 777), digest, data.length);
    expect(err).toBeUndefined();
    expect(out.equals(data)).toBe(true);
  });

  it('checks only the digest when the size is unknown', async () => {
    const { out, err } = await run(split(data, 4096), digest, undefined);
    expect(err).toBeUndefined();
    expect(out.equals(data)).toBe(true);
  });

  it('accepts empty content with the empty digest', async () => {
    const { err } = await run([], sha256Digest(''), 0);
    expect(err).toBeUndefined();
  });

  it('fails a wrong digest with "expected X, calculated Y"', async () => {
    const wrong = sha256Digest('something else');
    const { err } = await run(split(data, 1000), wrong, data.length);
    expect(err).toBeInstanceOf(DigestMismatchError);
    const e = err as DigestMismatchError;
    expect(e.code).toBe('DIGEST_MISMATCH');
    expect(e.message).toBe(`layer X of img: expected ${wrong}, calculated ${digest}`);
    expect(e.expected).toBe(wrong);
    expect(e.actual).toBe(digest);
  });

  it('fails with a size error as soon as there are too many bytes', async () => {
    const { err, out } = await run(split(data, 1000), digest, data.length - 1);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe(`layer X of img: expected size ${data.length - 1}, calculated more than ${data.length - 1} bytes`);
    // The excess bytes never got through.
    expect(out.length).toBeLessThan(data.length);
  });

  it('fails with a size error when there are too few bytes', async () => {
    const short = data.subarray(0, 100);
    const { err } = await run([short], sha256Digest(short), 101);
    expect(err).toBeInstanceOf(DigestMismatchError);
    expect((err as Error).message).toBe('layer X of img: expected size 101, calculated size 100');
  });
});
