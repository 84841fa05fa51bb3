/**
 * Checking where a command will write, before it does any work (the first download): a path
 * that is a directory, a parent that cannot be created, or a parent ferry may not write into is
 * invalid input (exit 2) at once, instead of a failure after minutes of downloading.
 * Missing parent directories are created (as `mkdir -p`), as docs/cli.md says.
 */
import { constants } from 'node:fs';
import { access, mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { errnoCode, osHint, osReason } from './io-error.js';

/**
 * Resolves when `path` can be written as a file; throws a UsageError (exit 2) naming `what`,
 * the path and the reason otherwise. `fix` says how to choose another path ("choose another
 * path with -o").
 */
export async function checkOutputPath(path: string, what: string, fix = 'choose another path with -o'): Promise<void> {
  const fail = (reason: string, hint: string): never => {
    throw new UsageError(`cannot write ${what} ${path}: ${reason}`, hint);
  };
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) fail('it is a directory', `name a file, not a directory: ${fix}`);
  const parent = dirname(resolve(path));
  try {
    await mkdir(parent, { recursive: true });
  } catch (err) {
    // Node's recursive mkdir can report ENOENT where the real reason is the nearest existing
    // directory (read-only, not writable): ask that directory.
    const reason = (await ancestorProblem(parent)) ?? err;
    fail(`its directory ${parent} cannot be created (${osReason(reason)})`, osHint(errnoCode(reason), parent, fix)!);
  }
  const p = await stat(parent).catch(() => undefined);
  if (p && !p.isDirectory()) fail(`${parent} is not a directory`, fix);
  try {
    await access(parent, constants.W_OK);
  } catch (err) {
    fail(`ferry may not write into ${parent} (${osReason(err)})`, osHint(errnoCode(err), parent, fix)!);
  }
}


/** Why the nearest existing ancestor of `dir` cannot be written into, or undefined. */
async function ancestorProblem(dir: string): Promise<unknown> {
  let d = dirname(dir);
  for (;;) {
    if (await stat(d).then(() => true, () => false)) {
      return access(d, constants.W_OK).then(() => undefined, (e: unknown) => e);
    }
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}
