/**
 * A bundle opened as the source of a push: read in place when it can be (a format-2 bundle or
 * a plain OCI-layout tar: blobs are streamed from the file, each checked against its digest as
 * it is uploaded, and the cache holds no copy), else read through once into the cache with
 * every file verified (older gzip bundles, legacy `docker save` archives).
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { interpret, type Interpretation } from '../bundle/contents.js';
import { openSeekable, type SeekableArchive } from '../bundle/seekable.js';
import { SEQUENTIAL_READ_SIZE } from '../bundle/stored-runs.js';
import { imageProblems } from '../bundle/verify.js';
import type { BlobSource } from '../content/image-source.js';
import type { BlobStore } from '../store/blob-store.js';
import { storeBlobSource } from '../store/store-source.js';
import { readIntoStore } from './read-into-store.js';

/** Bytes [start, end] (inclusive) of a blob as they are stored. */
export interface BlobReader {
  readRange(digest: string, start: number, end: number): Readable;
}

export interface OpenedBundle {
  interpretation: Interpretation;
  /** The bundle as the copy engine's source (which checks every blob as it streams). */
  source: BlobSource;
  /** Blob bytes as they are stored, unchecked, for a reader that checks them itself (serve). */
  rawBlobs: BlobReader;
  /** A small blob's bytes (a signature payload for the policy), or undefined. */
  readSmall(digest: string): Promise<Buffer | undefined>;
  /** Whether the bundle was copied into the cache (true) or is read in place. */
  cached: boolean;
}

/** Throws BUNDLE_FORMAT listing what the interpretation and the image checks of a bundle read in place found wrong. */
export function refuseDamaged(path: string, it: Interpretation, s: SeekableArchive, outcome: string): void {
  const problems = [...it.problems, ...imageProblems(it, s.contents).problems];
  if (problems.length) throw new FerryError('BUNDLE_FORMAT', `${path} failed its checks, ${outcome}:\n  - ${problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
}

/**
 * `path` opened to be read in place, or undefined when it cannot be: an archive that is not
 * seekable, or a missing file or a directory (the full reader gives those their own messages).
 */
export async function openInPlace(path: string): Promise<SeekableArchive | undefined> {
  return openSeekable(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException)?.code) return undefined;
    throw err;
  });
}

/** Opens `path` for a push; `onBytes` sees the file's bytes when it has to be read through. */
export async function openBundle(path: string, store: BlobStore, onReadThrough: () => ((n: number) => void) | undefined, outcome = 'nothing was pushed'): Promise<OpenedBundle> {
  const s = await openInPlace(path);
  if (s) {
    const it = interpret(s.contents);
    if (!it.images.some((i) => i.synthesized)) {
      refuseDamaged(path, it, s, outcome);
      return {
        interpretation: it,
        source: bundleBlobSource(path, s),
        rawBlobs: { readRange: (digest, start, end) => s.open(blobPath(digest), start, end) },
        readSmall: async (d) => (s.contents.files.has(blobPath(d)) ? s.read(blobPath(d)).catch(() => undefined) : undefined),
        cached: false,
      };
    }
  }
  const it = await readIntoStore(path, store, onReadThrough(), outcome);
  return { interpretation: it, source: { ...storeBlobSource(store, path), oneFile: true }, rawBlobs: store, readSmall: (d) => readFile(store.path(d)).catch(() => undefined), cached: true };
}

/**
 * A seekable bundle as the copy engine's source: blobs straight from the file, unverified (the
 * engine checks them), each read as one sequential stream in big reads (SEQUENTIAL_READ_SIZE).
 */
export function bundleBlobSource(path: string, s: SeekableArchive): BlobSource {
  return {
    description: path,
    oneFile: true,
    blob: (_ref, d) => async (offset, end) => ({ body: s.open(blobPath(d.digest), offset, end ?? Math.max(offset, d.size - 1), { readSize: SEQUENTIAL_READ_SIZE }), start: offset }),
  };
}
