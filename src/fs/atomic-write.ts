/**
 * Small files written atomically: the content goes to `<path>.<pid>.partial`, is flushed and
 * closed, then renamed over `path`, so a reader sees the old file or the new one, never half
 * of one. A failure removes the temp file and throws an IO FerryError naming the path and the
 * OS reason; an interruption (SIGINT/SIGTERM/SIGHUP) removes it too.
 */
import { open, rename, rm } from 'node:fs/promises';
import { removeOnInterrupt } from '../process/interrupt.js';
import { ioError } from './io-error.js';

export interface AtomicWriteOptions {
  /** File mode of a new file (default 0644, before the umask). */
  mode?: number;
  /** What the file is, for messages ("lock file", "mapping file"). */
  what: string;
  /** Hint for failures the OS reason does not explain. */
  hint?: string;
}

/** Writes `data` to `path` atomically; throws an IO FerryError (and leaves no temp file) on failure. */
export async function writeFileAtomic(path: string, data: string | Buffer, opts: AtomicWriteOptions): Promise<void> {
  const tmp = `${path}.${process.pid}.partial`;
  const forget = removeOnInterrupt(tmp);
  try {
    const fh = await open(tmp, 'w', opts.mode ?? 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw ioError(`writing ${opts.what}`, path, err, opts.hint);
  } finally {
    forget();
  }
}
