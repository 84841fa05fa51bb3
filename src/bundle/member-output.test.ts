import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { MemberOutput, STORED_LEVEL } from './member-output.js';

/** The file bytes of one stored member of head + chunks + tail, written through MemberOutput. */
async function storedMember(head: Buffer, chunks: Buffer[], tail: Buffer): Promise<Buffer> {
  const sink = new PassThrough();
  const got: Buffer[] = [];
  sink.on('data', (c: Buffer) => got.push(c));
  const out = new MemberOutput(() => sink, true, (p) => p);
  await out.memberStreaming(STORED_LEVEL, head, chunks, tail);
  return Buffer.concat(got);
}

describe('stored members written by hand', () => {
  const data = randomBytes(300_000);
  const head = Buffer.from('tar header');
  const tail = Buffer.alloc(7);

  it('are valid gzip whose content is the input, the bytes as they are in 65535-byte blocks', async () => {
    const file = await storedMember(head, [data], tail);
    expect(gunzipSync(file).equals(Buffer.concat([head, data, tail]))).toBe(true);
    expect(file.subarray(0, 10)).toEqual(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]));
    const n = head.length + data.length + tail.length;
    expect(file.length).toBe(10 + 5 * (Math.floor(n / 65535) + 1) + n + 8);
  });

  it('do not depend on how the input is chunked', async () => {
    const one = await storedMember(head, [data], tail);
    const many = await storedMember(head, [data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000, 70_001), data.subarray(70_001)], tail);
    expect(many.equals(one)).toBe(true);
  });

  it('an empty body is one empty final block', async () => {
    const file = await storedMember(Buffer.alloc(0), [], Buffer.alloc(0));
    expect(gunzipSync(file).length).toBe(0);
    expect(file.length).toBe(10 + 5 + 8);
  });
});
