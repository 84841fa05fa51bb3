/**
 * Reading an archive into the store for push: every file is hashed as it streams and committed
 * under its digest only after the reader has checked it, so nothing unverified is pushed.
 * Problems found by the interpretation (missing blobs) stop the command before any upload.
 */
import { FerryError, describe } from '../errors.js';
import { interpret, type Interpretation } from '../bundle/contents.js';
import { readArchive } from '../bundle/reader.js';
import { imageProblems } from '../bundle/verify.js';
import type { BlobStore } from '../store/blob-store.js';
import { BUNDLE_DOCUMENTS } from '../bundle/layout.js';


/**
 * Reads the archive at `path` into `store`; `onBytes` sees the archive-file bytes as they are
 * read; `outcome` ends the failed-checks message (what did not happen because of it).
 */
export async function readIntoStore(path: string, store: BlobStore, onBytes?: (n: number) => void, outcome = 'nothing was pushed'): Promise<Interpretation> {
  const pending = new Set<{ discard(): Promise<void> }>();
  try {
    const contents = await readArchive(path, async (file, body) => {
      if (BUNDLE_DOCUMENTS.has(file.name) || file.size === 0) return undefined;
      // Already cached (an earlier push or save): the reader still hashes and checks the
      // bytes against their name, but nothing needs writing.
      if (file.expectedDigest && (await store.has(file.expectedDigest, file.size))) {
        const digest = file.expectedDigest;
        return () => store.touch(digest);
      }
      // A failure to write the cache is not damage in the archive: say what it is.
      const p = await store.ingest(body).catch((err: unknown) => {
        // Source-side failures (truncated or corrupted archive) carry no syscall: the reader reports them.
        if (!(err as NodeJS.ErrnoException)?.syscall) throw err;
        throw new FerryError('IO', `writing ${file.name} into the cache ${store.dir}: ${describe(err)}`, {
          cause: err,
          hint: 'check free space and permissions there, or choose another directory with --cache-dir',
        });
      });
      pending.add(p);
      return async (digest: string) => {
        pending.delete(p);
        await p.commit(digest);
      };
    }, onBytes ? { onBytes } : {});
    const it = interpret(contents);
    const problems = [...it.problems, ...imageProblems(it, contents).problems];
    if (problems.length) {
      throw new FerryError('BUNDLE_FORMAT', `${path} failed its checks, ${outcome}:\n  - ${problems.join('\n  - ')}`, { hint: 'run `ferry verify` on it, and copy or save it again' });
    }
    return it;
  } finally {
    await Promise.all([...pending].map((p) => p.discard()));
  }
}
