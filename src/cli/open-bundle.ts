/**
 * A bundle opened as the source of a push: read in place when it can be (a format-2 bundle or
 * a plain OCI-layout tar: blobs are streamed from the file, each checked against its digest as
 * it is uploaded, and the cache holds no copy), else read through once into the cache with
 * every file verified (older gzip bundles, legacy `docker save` archives).
 */
import { FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import { interpret, type Interpretation } from '../bundle/contents.js';
import { openSeekable, type SeekableArchive } from '../bundle/seekable.js';
import { imageProblems } from '../bundle/verify.js';
import type { BlobReader } from '../registry/push.js';
import type { BlobStore } from '../store/blob-store.js';
import { pipeTo } from '../util/streams.js';
import { readIntoStore } from './read-into-store.js';
import { Readable, Transform } from 'node:stream';
import { readFile } from 'node:fs/promises';

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

/** Bytes [start, end] of a blob read in place, verified: the whole blob is hashed even for a range (a resumed upload), and a mismatch fails the stream before its last bytes. */
export function verifiedRange(s: SeekableArchive, digest: string, start: number, end: number): Readable {
  const name = blobPath(digest);
  const size = s.contents.files.get(name)?.size ?? 0;
  const verified = pipeTo(s.open(name), new VerifyingStream(digest, size, `bundle entry ${name}`, { holdLast: true }));
  if (start === 0 && end >= size - 1) return verified;
  let pos = 0;
  return pipeTo(
    verified,
    new Transform({
      transform(c: Buffer, _e, cb) {
        const from = Math.max(0, start - pos);
        const to = Math.min(c.length, end + 1 - pos);
        pos += c.length;
        cb(null, to > from ? c.subarray(from, to) : undefined);
      },
    }),
  );
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
        blobs: { readRange: (digest, start, end) => verifiedRange(s, digest, start, end) },
        rawBlobs: { readRange: (digest, start, end) => s.open(blobPath(digest), start, end) },
        readSmall: async (d) => (s.contents.files.has(blobPath(d)) ? s.read(blobPath(d)).catch(() => undefined) : undefined),
        cached: false,
      };
    }
  }
  const it = await readIntoStore(path, store, onReadThrough(), outcome);
  return { interpretation: it, blobs: store, rawBlobs: store, readSmall: (d) => readFile(store.path(d)).catch(() => undefined), cached: true };
}
