/**
 * A bundle opened as the source of a push: read in place when it can be (a format-2 bundle or
 * a plain OCI-layout tar: blobs are streamed from the file, each checked against its digest as
 * it is uploaded, and the cache holds no copy), else read through once into the cache with
 * every file verified (older gzip bundles, legacy `docker save` archives).
 */
import { createHash, type Hash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DigestMismatchError, FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { interpret, type Interpretation } from '../bundle/contents.js';
import { openSeekable, type SeekableArchive } from '../bundle/seekable.js';
import { imageProblems } from '../bundle/verify.js';
import type { BlobReader } from '../registry/push.js';
import type { BlobStore } from '../store/blob-store.js';
import { readIntoStore } from './read-into-store.js';

export interface OpenedBundle {
  interpretation: Interpretation;
  /** Blob bytes, each checked against its digest as it streams (a mismatch fails before the end). */
  blobs: BlobReader;
  /** Blob bytes as they are stored, unchecked, for a reader that checks them itself (serve). */
  rawBlobs: BlobReader;
  /** A small blob's bytes (a signature payload for the policy), or undefined. */
  readSmall(digest: string): Promise<Buffer | undefined>;
  /** Whether the bundle was copied into the cache (true) or is read in place. */
  cached: boolean;
}

/** Throws BUNDLE_FORMAT listing what the interpretation found wrong. */
function refuseProblems(path: string, problems: readonly string[], outcome: string): void {
  if (problems.length) throw new FerryError('BUNDLE_FORMAT', `${path} failed its checks, ${outcome}:\n  - ${problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
}

/**
 * Bytes [start, end] of blobs read in place, verified. A blob is uploaded in order (one PUT, or
 * PATCH chunks one after another), so each blob keeps a running sha256: a range that starts
 * where the last one ended adds to it; any other start (a new upload session after a broken
 * one) first hashes the bytes before it. The range that ends the blob holds back its last chunk
 * until the digest matched, so no upload of a wrong blob ever completes.
 */
export function verifiedReader(s: SeekableArchive): BlobReader {
  const state = new Map<string, { hash: Hash; pos: number }>();
  return {
    readRange(digest: string, start: number, end: number): Readable {
      const name = blobPath(digest);
      const size = s.contents.files.get(name)?.size ?? 0;
      const last = Math.min(end, size - 1);
      return Readable.from(
        (async function* () {
          let st = state.get(digest);
          if (!st || st.pos !== start) {
            st = { hash: createHash('sha256'), pos: 0 };
            if (start > 0) for await (const c of s.open(name, 0, start - 1) as AsyncIterable<Buffer>) (st.hash.update(c), (st.pos += c.length));
            state.set(digest, st);
          }
          const ends = last === size - 1;
          let held: Buffer | undefined;
          for await (const c of s.open(name, start, last) as AsyncIterable<Buffer>) {
            st.hash.update(c);
            st.pos += c.length;
            if (!ends) yield c;
            else {
              if (held) yield held;
              held = c;
            }
          }
          if (!ends) return;
          state.delete(digest);
          const actual = `sha256:${st.hash.digest('hex')}`;
          if (st.pos !== size) throw new DigestMismatchError(`bundle entry ${name}`, `size ${size}`, `size ${st.pos}`);
          if (actual !== digest) throw new DigestMismatchError(`bundle entry ${name}`, digest, actual);
          if (held) yield held;
        })(),
        { objectMode: false },
      );
    },
  };
}

/** Opens `path` for a push; `onBytes` sees the file's bytes when it has to be read through. */
export async function openBundle(path: string, store: BlobStore, onReadThrough: () => ((n: number) => void) | undefined, outcome = 'nothing was pushed'): Promise<OpenedBundle> {
  const s = await openSeekable(path).catch((err: unknown) => {
    // A missing file, a directory: the full reader gives those their own messages.
    if ((err as NodeJS.ErrnoException)?.code) return undefined;
    throw err;
  });
  if (s) {
    const it = interpret(s.contents);
    if (!it.images.some((i) => i.synthesized)) {
      refuseProblems(path, [...it.problems, ...imageProblems(it, s.contents).problems], outcome);
      return {
        interpretation: it,
        blobs: verifiedReader(s),
        rawBlobs: { readRange: (digest, start, end) => s.open(blobPath(digest), start, end) },
        readSmall: async (d) => (s.contents.files.has(blobPath(d)) ? s.read(blobPath(d)).catch(() => undefined) : undefined),
        cached: false,
      };
    }
  }
  const it = await readIntoStore(path, store, onReadThrough(), outcome);
  return { interpretation: it, blobs: store, rawBlobs: store, readSmall: (d) => readFile(store.path(d)).catch(() => undefined), cached: true };
}
