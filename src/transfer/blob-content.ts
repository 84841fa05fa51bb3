/**
 * A blob's bytes as the copy engine hands them to a sink (content/image-sink.ts BlobContent):
 * the one place where a blob in transit is checked against its size and sha256. Ranges read one
 * after another share one running hash; a range that starts elsewhere first hashes the bytes
 * before it (from the sink's `prefix`, or from the source); the range that ends the blob holds
 * its last chunk back until the digest matched. A source whose bytes were verified where they
 * entered (the blob cache) is passed through unhashed.
 */
import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DigestMismatchError, FerryError } from '../errors.js';
import type { BlobOpener } from '../content/image-source.js';
import type { BlobContent, ContentOptions } from '../content/image-sink.js';

/**
 * Bytes [start, end] of a blob from `open`, whatever the source answers: a source that ignored
 * the offset and starts at 0 has its first bytes skipped. Ends early when the source has fewer.
 * `blobEnd`: `end` is the blob's last byte, so a source with more bytes than that is wrong.
 */
async function* rangeBytes(open: BlobOpener, start: number, end: number, blobEnd: boolean, subject: string): AsyncGenerator<Buffer> {
  if (end < start) return;
  const { body, start: got } = await open(start, end);
  let pos = got;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let c = chunk;
      if (pos < start) {
        const skip = Math.min(c.length, start - pos);
        pos += skip;
        c = c.subarray(skip);
        if (!c.length) continue;
      }
      const room = end + 1 - pos;
      if (room <= 0 || c.length > room) {
        if (blobEnd) throw new DigestMismatchError(subject, `size ${end + 1}`, `more than ${end + 1} bytes`);
        if (room > 0) yield c.subarray(0, room);
        return;
      }
      pos += c.length;
      yield c;
    }
  } finally {
    body.destroy();
  }
}

/** The verified content of a blob of `size` bytes and `digest` read through `open`; `subject` names it in errors. */
export function blobContent(open: BlobOpener, size: number, digest: string, subject: string, verified = false): BlobContent {
  let state: { hash: Hash; pos: number } | undefined;
  return {
    open(start: number, end: number, opts: ContentOptions = {}): Readable {
      const { prefix } = opts;
      const hold = opts.holdLast !== false;
      const last = Math.min(end, size - 1);
      if (start > size) {
        return Readable.from((async function* () {
          throw new FerryError('USAGE', `${subject}: byte ${start} is past the blob's end (${size} bytes)`);
        })());
      }
      if (verified) {
        prefix?.destroy();
        return Readable.from(rangeBytes(open, start, last, last === size - 1, subject), { objectMode: false });
      }
      return Readable.from(
        (async function* () {
          // A prefix is the truth (a partial file to resume): hash it whatever came before.
          if (prefix !== undefined || !state || state.pos !== start) {
            const st = { hash: createHash('sha256'), pos: 0 };
            if (start > 0) {
              for await (const c of (prefix ?? rangeBytes(open, 0, start - 1, false, subject)) as AsyncIterable<Buffer>) {
                st.hash.update(c);
                st.pos += c.length;
              }
              if (st.pos !== start) throw new DigestMismatchError(subject, `size ${size}`, `only ${st.pos} bytes before byte ${start}`);
            } else prefix?.destroy();
            state = st;
          }
          const st = state;
          const ends = last === size - 1;
          let held: Buffer | undefined;
          for await (const c of rangeBytes(open, start, last, ends, subject)) {
            st.hash.update(c);
            st.pos += c.length;
            if (!ends || !hold) yield c;
            else {
              if (held) yield held;
              held = c;
            }
          }
          if (!ends) {
            if (st.pos !== last + 1) throw new DigestMismatchError(subject, `size ${size}`, `size ${st.pos}`);
            return;
          }
          state = undefined;
          if (st.pos !== size) throw new DigestMismatchError(subject, `size ${size}`, `size ${st.pos}`);
          const actual = `sha256:${st.hash.digest('hex')}`;
          if (actual !== digest) throw new DigestMismatchError(subject, digest, actual);
          if (held) yield held;
        })(),
        { objectMode: false },
      );
    },
  };
}
