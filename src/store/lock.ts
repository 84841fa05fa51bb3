/**
 * Cross-process exclusive locks with a lock file created O_EXCL holding the owner's pid. A lock
 * whose owner is gone (crash, kill -9) is taken over. Waiting is bounded.
 */
import { open, readFile, stat, unlink } from 'node:fs/promises';
import { FerryError } from '../errors.js';
import { ioError } from '../fs/io-error.js';
import { releaseOnInterrupt } from '../process/interrupt.js';
import { sleep } from '../registry/retry.js';

export interface Lock {
  release(): Promise<void>;
}

/** Lock files this process holds now (to tell a live same-pid holder from a stale one). */
const held = new Set<string>();

/** Whether a process with this pid exists (EPERM: it exists, owned by another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the lock at `file`, waiting up to `waitMs` for another live process to let go. Throws a
 * LOCKED FerryError naming `what` when it cannot.
 */
export async function acquireLock(file: string, what: string, waitMs = 30 * 60_000): Promise<Lock> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fh = await open(file, 'wx');
      held.add(file);
      const forget = releaseOnInterrupt(file);
      const release = (): Promise<void> => {
        held.delete(file);
        forget();
        return unlink(file).catch(() => undefined);
      };
      try {
        await fh.writeFile(String(process.pid));
        await fh.close();
      } catch (err) {
        await fh.close().catch(() => undefined);
        await release();
        throw ioError('writing lock file', file, err);
      }
      return { release };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError('creating lock file', file, err);
    }
    const text = (await readFile(file, 'utf8').catch(() => '')).trim();
    const owner = Number(text);
    if (text === '') {
      // Just created by another process that has not written its pid yet; stale after a while.
      const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0);
      if (age > 10_000) await unlink(file).catch(() => undefined);
    } else if (owner === process.pid && !held.has(file)) {
      // Our pid, but not a lock this process holds: left by an earlier run that had the same
      // pid (containers often run ferry as pid 1) and was killed. Stale.
      await unlink(file).catch(() => undefined);
      continue;
    } else if (owner === process.pid) {
      // Another task of this run holds it: wait for it like any owner.
    } else if (!processAlive(owner)) {
      await unlink(file).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new FerryError('LOCKED', `${what} is locked by ${owner ? `process ${owner}` : 'another process'} (${file})`, {
        hint: 'another ferry run is working on it; wait for it to finish, or remove the lock file if that process is gone',
      });
    }
    await sleep(200);
  }
}
