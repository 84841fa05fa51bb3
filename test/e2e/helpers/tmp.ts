/**
 * Temporary directories for e2e suites. One per suite, created before its first hook and
 * removed after its last (or when the test process exits, if it dies first); set
 * FERRY_E2E_KEEP=1 to keep them for a post-mortem (the path is printed).
 *
 * Removal first unmounts anything still mounted below the directory: dockerd bind-mounts its
 * data root onto itself and only undoes that on an orderly shutdown, so a killed dockerd
 * leaves a mount behind, which `rm -rf` cannot remove.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { atExit } from './processes.js';

export interface TempDir {
  readonly path: string;
  /** `path` joined with `parts`. */
  join(...parts: string[]): string;
  /** Unmounts leftovers and deletes the tree (unless FERRY_E2E_KEEP is set). */
  remove(): void;
}

/** Creates a fresh directory under the system temp dir, named `ferry-e2e-<label>-XXXXXX`. */
export function makeTempDir(label: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `ferry-e2e-${label}-`));
  // If the test process dies first, remove the dir on the way out (after daemons are killed).
  const forget = atExit(() => removeTree(path));
  return {
    path,
    join: (...parts) => join(path, ...parts),
    remove: () => {
      forget();
      removeTree(path);
    },
  };
}

/**
 * Registers a temp dir for the enclosing suite: created in beforeAll (so register it before
 * the hooks that use it) and removed in afterAll, after the suite's other afterAll hooks.
 * Reading `path` before beforeAll has run throws.
 */
export function suiteTempDir(label: string): TempDir {
  let dir: TempDir | undefined;
  const get = (): TempDir => {
    if (!dir) throw new Error(`temp dir "${label}" used before beforeAll created it`);
    return dir;
  };
  beforeAll(() => {
    dir = makeTempDir(label);
  });
  afterAll(() => {
    dir?.remove();
  });
  return {
    get path() {
      return get().path;
    },
    join: (...parts) => get().join(...parts),
    remove: () => get().remove(),
  };
}

function removeTree(path: string): void {
  if (process.env.FERRY_E2E_KEEP) {
    process.stderr.write(`FERRY_E2E_KEEP: kept ${path}\n`);
    return;
  }
  unmountBelow(path);
  rmSync(path, { recursive: true, force: true, maxRetries: 3 });
}

/** Lazily unmounts every mount point at or below `path`, deepest first. */
function unmountBelow(path: string): void {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === path || m.startsWith(`${path}/`)))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
}
