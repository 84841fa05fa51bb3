/**
 * `keep:` of an import config: removes what was imported longer ago than the keep time from
 * done/ (by modification time, which the move set to the import time): a bundle with its
 * checksum file, a volume set with all its volumes and its checksum file.
 */
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isBundleName, volumeName } from './drop.js';

/** Removes bundles in done/ (and their checksum files) imported longer than `keepMs` ago. */
export async function prune(done: string, keepMs: number, now: number): Promise<string[]> {
  const names = await readdir(done).catch(() => [] as string[]);
  const pruned: string[] = [];
  for (const n of names.filter(isBundleName)) {
    const st = await stat(join(done, n)).catch(() => undefined);
    if (!st || now - st.mtimeMs <= keepMs) continue;
    await rm(join(done, n), { force: true });
    await rm(join(done, `${n}.sha256`), { force: true });
    pruned.push(n);
  }
  // A set: by its newest volume (all are touched at the import); the checksum file goes last.
  const sets = new Map<string, string[]>();
  for (const n of names) {
    const v = volumeName(n);
    if (v && !names.includes(v.base)) sets.set(v.base, [...(sets.get(v.base) ?? []), n]);
  }
  for (const [base, vols] of sets) {
    const times = await Promise.all(vols.map(async (v) => (await stat(join(done, v)).catch(() => undefined))?.mtimeMs ?? now));
    if (now - Math.max(...times) <= keepMs) continue;
    for (const v of vols) await rm(join(done, v), { force: true });
    await rm(join(done, `${base}.sha256`), { force: true });
    pruned.push(base);
  }
  return pruned.sort();
}

