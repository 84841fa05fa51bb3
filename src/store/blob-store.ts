/**
 * A content-addressed blob store on disk: `<dir>/blobs/sha256/<hex>` holds only verified content;
 * downloads land in `<dir>/partial/<hex>` and are renamed into place after their digest and size
 * check out, so a reader never sees a half-written blob. A partial file left by a crash or
 * `kill -9` is resumed by the next run (its bytes are re-hashed, then the rest is requested with
 * Range). A lock file per blob keeps two processes from writing the same partial.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DigestMismatchError, FerryError, describe } from '../errors.js';
import { ioError, osReason } from '../fs/io-error.js';

const CACHE_HINT = 'free space in the cache, or choose another directory with --cache-dir';
import { digestHex, sha256Digest } from '../digest/digest.js';
import { DEFAULT_RETRY, isRetryableError, waitToRetry, type RetryPolicy } from '../registry/retry.js';
import type { BlobContent } from '../content/image-sink.js';
import { removeOnInterrupt } from '../process/interrupt.js';
import { acquireLock, processAlive } from './lock.js';

/** The default cache directory: $XDG_CACHE_HOME/ferry or ~/.cache/ferry. */
export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ferry');
}


export type FetchOutcome = 'cached' | 'downloaded';

let ingestCounter = 0;

/**
 * Temp files carry the host name with the pid, so that a cache shared by containers (each with
 * its own pid numbers, often ferry as pid 1) never takes another host's live file for a dead
 * one. Dots would confuse the small-blob temp name: they become '_'.
 */
const HOST = hostname().replace(/[^A-Za-z0-9_-]/g, '_') || 'host';

/** Temp files of other hosts are reclaimed only once they are this old. */
const FOREIGN_STALE_MS = 24 * 3600_000;

/**
 * The read buffer for a blob of `size` bytes: 1 MiB for big blobs, the blob's size for small
 * ones (a read stream allocates its whole buffer for every read: 1 MiB for each 5 KB config of
 * forty images is garbage the collector then spends time on).
 */
function readSize(size: number | undefined): number {
  return size === undefined ? 1024 * 1024 : Math.min(1024 * 1024, Math.max(16 * 1024, size));
}

/** Blobs up to this size are fetched in one piece, without a partial file to resume. */
export const SMALL_BLOB = 1024 * 1024;

/**
 * After a failed download attempt: waits the backoff when `err` is transient and attempts are
 * left; else throws it (a FerryError as it is, anything else as NETWORK "download failed").
 */
async function retryOrThrow(err: unknown, attempt: number, retry: RetryPolicy, subject: string): Promise<void> {
  if (err instanceof FerryError) throw err;
  if (!isRetryableError(err) || attempt >= retry.attempts) throw new FerryError('NETWORK', `${subject}: download failed: ${describe(err)}`, { cause: err });
  await waitToRetry(retry, attempt, subject, err);
}

export class BlobStore {
  /**
   * `smallBlobBytes`: blobs up to this size are fetched whole into memory (no partial file,
   * no lock, no resume); larger ones go through the resumable path.
   */
  constructor(
    readonly dir: string,
    private readonly smallBlobBytes = SMALL_BLOB,
  ) {}

  /** The path of a verified blob. */
  path(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digestHex(digest));
  }

  private partialPath(digest: string): string {
    return join(this.dir, 'partial', digestHex(digest));
  }

  async init(): Promise<void> {
    try {
      await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
      await mkdir(join(this.dir, 'partial'), { recursive: true });
    } catch (err) {
      throw new FerryError('IO', `creating the cache in ${this.dir}: ${osReason(err)}`, { cause: err, hint: 'choose a writable directory with --cache-dir' });
    }
    await this.reclaimStale();
  }

  /**
   * Removes temp files that a killed run (kill -9, power loss) left behind: whole-file ingests
   * (`ingest-<host>-<pid>-<n>`) and small-blob temps (`<hex>.<host>.<pid>.<n>`) of this host
   * whose process is gone, and those of other hosts (containers sharing the cache) once they
   * are a day old. They cannot be resumed. Resumable downloads (`partial/<hex>`) are kept.
   * Resolves with what it removed (count and bytes).
   */
  async reclaimStale(): Promise<{ files: number; bytes: number }> {
    const dir = join(this.dir, 'partial');
    const names = await readdir(dir).catch(() => [] as string[]);
    let files = 0;
    let bytes = 0;
    for (const n of names) {
      const m = /^ingest-([A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)-(\d+)-\d+$/.exec(n) ?? /^[a-f0-9]{64}\.([A-Za-z0-9_-]+)\.(\d+)\.\d+$/.exec(n);
      if (!m) continue;
      const pid = Number(m[2]);
      const st = await stat(join(dir, n)).catch(() => undefined);
      if (!st) continue;
      if (m[1] !== HOST) {
        if (Date.now() - st.mtimeMs < FOREIGN_STALE_MS) continue;
      } else if (pid === process.pid ? ingestCounter > 0 : processAlive(pid)) {
        // Our own pid: an earlier run with the same pid unless this process has made temp
        // files of its own already.
        continue;
      }
      const size = st.size;
      if (await rm(join(dir, n), { force: true }).then(() => true, () => false)) {
        files++;
        bytes += size;
      }
    }
    return { files, bytes };
  }

  /** Whether a verified blob of this digest and size is present. */
  async has(digest: string, size?: number): Promise<boolean> {
    try {
      const s = await stat(this.path(digest));
      return size === undefined || s.size === size;
    } catch {
      return false;
    }
  }

  /** Stores small content (manifests, configs) after checking its digest. */
  async putBuffer(digest: string, data: Buffer, subject: string): Promise<void> {
    const actual = sha256Digest(data);
    if (actual !== digest) throw new DigestMismatchError(subject, digest, actual);
    if (await this.has(digest, data.length)) return this.touch(digest);
    await this.putVerified(digest, data);
  }

  /** A read stream of a verified blob (`size`, when known, keeps a small blob's read buffer small). */
  read(digest: string, size?: number): Readable {
    return createReadStream(this.path(digest), { highWaterMark: readSize(size) });
  }

  /**
   * Makes the blob present: nothing to do when it is cached; otherwise writes `content` (the
   * copy engine's verified bytes, transfer/blob-content.ts) into place, resuming a partial file
   * (its bytes are handed back to the content as the prefix, so they are checked too), retrying
   * transient failures. A stream that fails its size or digest check leaves nothing visible
   * (the partial is deleted; DigestMismatchError).
   */
  async receive(digest: string, size: number, content: BlobContent, subject: string, onBytes: (n: number) => void = () => {}, retry: RetryPolicy = DEFAULT_RETRY): Promise<FetchOutcome> {
    if (await this.has(digest, size)) {
      await this.touch(digest);
      onBytes(size);
      return 'cached';
    }
    if (size <= this.smallBlobBytes) {
      await this.receiveSmall(digest, size, content, subject, retry);
      onBytes(size);
      return 'downloaded';
    }
    const lock = await acquireLock(`${this.partialPath(digest)}.lock`, subject);
    try {
      if (await this.has(digest, size)) {
        onBytes(size);
        return 'cached';
      }
      await this.receiveLarge(digest, size, content, subject, onBytes, retry);
      return 'downloaded';
    } finally {
      await lock.release();
    }
  }

  /**
   * Small blobs (configs, small layers) are read into memory and placed with one write and one
   * rename: no lock or partial file, which would cost more than the download.
   */
  private async receiveSmall(digest: string, size: number, content: BlobContent, subject: string, retry: RetryPolicy): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let data: Buffer;
      try {
        const chunks: Buffer[] = [];
        for await (const c of content.open(0, size - 1, { holdLast: false }) as AsyncIterable<Buffer>) chunks.push(c);
        data = Buffer.concat(chunks);
      } catch (err) {
        await retryOrThrow(err, attempt, retry, subject);
        continue;
      }
      // receive() found no blob there a moment ago: no second look before the write.
      await this.putVerified(digest, data);
      return;
    }
  }

  /**
   * Places bytes the caller verified (the copy engine did) under their digest; the caller
   * looked for the blob first. A rename over a blob another writer placed meanwhile replaces
   * it with the same bytes (content-addressed), so there is no look before the rename.
   */
  private async putVerified(digest: string, data: Buffer): Promise<void> {
    // Unique per call: two images of one run may store the same manifest at the same moment.
    const tmp = `${this.partialPath(digest)}.${HOST}.${process.pid}.${++ingestCounter}`;
    const forget = removeOnInterrupt(tmp);
    try {
      await writeFile(tmp, data);
      await rename(tmp, this.path(digest)).catch(() => this.place(tmp, digest));
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw ioError('writing into the cache', this.dir, err, CACHE_HINT);
    } finally {
      forget();
    }
  }

  private async receiveLarge(digest: string, size: number, content: BlobContent, subject: string, onBytes: (n: number) => void, retry: RetryPolicy): Promise<void> {
    const partial = this.partialPath(digest);
    let freshRetry = false;
    let reported = 0;
    const report = (total: number): void => {
      if (total > reported) onBytes(total - reported);
      reported = Math.max(reported, total);
    };
    for (let attempt = 1; ; attempt++) {
      let fileError: Error | undefined;
      // What is on disk is the truth after a crash or a failed attempt: handed to the content
      // as its prefix, so it is hashed again.
      const have = (await stat(partial).catch(() => undefined))?.size ?? 0;
      if (have > size) {
        await unlink(partial);
        continue;
      }
      report(have);
      const resumed = have > 0;
      try {
        let n = have;
        const file = createWriteStream(partial, { flags: 'a', highWaterMark: 1024 * 1024 });
        file.on('error', (e) => (fileError = e));
        await pipeline(
          content.open(have, size - 1, { holdLast: false, ...(have > 0 ? { prefix: createReadStream(partial, { highWaterMark: 1024 * 1024 }) } : {}) }),
          async function* (src: AsyncIterable<Buffer>) {
            for await (const c of src) {
              n += c.length;
              report(n);
              yield c;
            }
          },
          file,
        );
        await rename(partial, this.path(digest));
        return;
      } catch (err) {
        // The partial file stays: once there is room again, a rerun resumes it.
        if (fileError) throw ioError('writing into the cache', this.dir, fileError, CACHE_HINT);
        if (err instanceof DigestMismatchError) {
          await rm(partial, { force: true });
          // Bad bytes may come from a partial file left by an earlier run: start over once.
          if (resumed && !freshRetry) {
            freshRetry = true;
            reported = 0;
            continue;
          }
          throw err;
        }
        await retryOrThrow(err, attempt, retry, subject);
      }
    }
  }

  /**
   * Writes a stream to a temporary file in the store. The caller commits it under its digest
   * once it is known to be right, or discards it. Nothing is visible before the commit.
   */
  async ingest(body: Readable): Promise<{ commit(digest: string): Promise<void>; discard(): Promise<void> }> {
    const tmp = join(this.dir, 'partial', `ingest-${HOST}-${process.pid}-${++ingestCounter}`);
    const forget = removeOnInterrupt(tmp);
    try {
      await pipeline(body, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      forget();
      throw err;
    }
    return {
      commit: (digest: string) => this.place(tmp, digest).finally(forget),
      discard: () => rm(tmp, { force: true }).finally(forget),
    };
  }

  /**
   * Moves a verified temp file into place. When the blob is already there (another writer won
   * the race; content-addressed, so it is the same content), the temp file is dropped.
   */
  private async place(tmp: string, digest: string): Promise<void> {
    if (await this.has(digest)) {
      await rm(tmp, { force: true });
      await this.touch(digest);
      return;
    }
    try {
      await rename(tmp, this.path(digest));
    } catch (err) {
      await rm(tmp, { force: true });
      if (!(await this.has(digest))) throw err;
    }
  }

  /** A read stream of part of a verified blob (inclusive `end`). */
  readRange(digest: string, start: number, end: number): Readable {
    return createReadStream(this.path(digest), { start, end, highWaterMark: 1024 * 1024 });
  }

  /** Every verified blob: digest, size and modification time. */
  async list(): Promise<{ digest: string; size: number; mtime: Date }[]> {
    const dir = join(this.dir, 'blobs', 'sha256');
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return [];
    }
    const out = [];
    for (const n of names) {
      if (!/^[a-f0-9]{64}$/.test(n)) continue;
      const s = await stat(join(dir, n));
      out.push({ digest: `sha256:${n}`, size: s.size, mtime: s.mtime });
    }
    return out;
  }

  /** Removes a blob from the store. */
  async remove(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Marks a blob as used now (prune by age keeps what was used recently). */
  async touch(digest: string): Promise<void> {
    const now = new Date();
    // One system call (an unchanged re-export touches every locked blob); a blob that is not
    // there, or not readable, is not ours to mark.
    await utimes(this.path(digest), now, now).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT' && err.code !== 'EACCES' && err.code !== 'ENOTDIR') throw err;
    });
  }
}
