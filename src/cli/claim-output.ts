/**
 * Taking hold of a bundle path before a command does any work: the path is checked (a
 * directory, an unwritable or read-only parent: exit 2 at once), the `<out>.lock` file is taken
 * so that one run at a time writes it (a second `save` or `export` to the same path fails with
 * "locked by process N", exit 1), and an interruption says what was not written.
 */
import { checkOutputPath } from '../fs/output-path.js';
import { setInterruptMessage } from '../process/interrupt.js';
import { acquireLock, type Lock } from '../store/lock.js';

/** Checks and locks `out`; the caller releases the lock when done. */
export async function claimOutput(out: string): Promise<Lock> {
  await checkOutputPath(out, 'the bundle');
  const lock = await acquireLock(`${out}.lock`, `bundle ${out}`, 0);
  setInterruptMessage(() => `interrupted: nothing was written to ${out}`);
  return lock;
}
