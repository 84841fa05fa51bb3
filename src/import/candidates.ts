/**
 * The bundles an import run looks at, as files: the drop directory listed and sorted by
 * drop.ts (a volume set as one bundle), or the bundles named on the command line (a set by its
 * first volume or its name). Sizes and times are as listed; the run hashes them.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FerryError, UsageError, describe } from '../errors.js';
import { listDrop, volumeName, type DropFile } from './drop.js';

/** A volume of a set in a directory. */
export interface VolumeFile extends DropFile {
  path: string;
}

/** One bundle to look at: a file, or a volume set (`path` is then the set's name, as push and load take it). */
export interface Candidate {
  path: string;
  size: number;
  mtimeMs: number;
  sidecar?: string;
  volumes?: VolumeFile[];
  alsoFile?: boolean;
}

/** The regular files of `dir`, with size and modification time. */
async function listFiles(dir: string): Promise<DropFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(entries.filter((e) => e.isFile()).map(async (e) => {
    const st = await stat(join(dir, e.name)).catch(() => undefined);
    return st ? [{ name: e.name, size: st.size, mtimeMs: st.mtimeMs }] : [];
  }));
  return files.flat();
}

/** A bundle of a listing (drop.ts) as a candidate in `dir`. */
const candidateOf = (dir: string, b: ReturnType<typeof listDrop>['bundles'][number]): Candidate => ({
  path: join(dir, b.name), size: b.size, mtimeMs: b.mtimeMs,
  ...(b.sidecar ? { sidecar: join(dir, b.sidecar) } : {}),
  ...(b.volumes ? { volumes: b.volumes.map((v) => ({ ...v, path: join(dir, v.name) })) } : {}),
  ...(b.alsoFile ? { alsoFile: true } : {}),
});

/** A bundle named on the command line: a file, or a set by its first volume or its name. */
async function namedCandidate(path: string): Promise<Candidate> {
  const st = await stat(path).catch(() => undefined);
  const v = volumeName(basename(path));
  const base = v && st?.isFile() ? join(dirname(path), v.base) : path;
  if (v && v.part !== 1) throw new UsageError(`${path} is volume ${v.part} of the set ${v.base}: a set is imported by its first volume or its name`, `name ${v.base}.001 (or ${v.base})`);
  if (!st?.isFile() || v) {
    const set = listDrop(await listFiles(dirname(base)).catch(() => [])).bundles.find((b) => b.name === basename(base) && b.volumes);
    if (set) return candidateOf(dirname(base), set);
  }
  if (!st?.isFile()) throw new UsageError(`${path} is not a file`, 'name existing bundle files (or the first volume of a set)');
  const side = await stat(`${path}.sha256`).then(() => `${path}.sha256`, () => undefined);
  return { path, size: st.size, mtimeMs: st.mtimeMs, ...(side ? { sidecar: side } : {}) };
}

/** The bundles to look at: the drop directory's (sorted, with its lone checksum files), or the ones named. */
export async function candidates(job: { drop?: string; bundles: readonly string[] }): Promise<{ bundles: Candidate[]; orphans: string[] }> {
  if (!job.drop) return { bundles: await Promise.all(job.bundles.map(namedCandidate)), orphans: [] };
  const drop = job.drop;
  const files = await listFiles(drop).catch((err: unknown) => {
    throw new FerryError('IO', `reading the drop directory ${drop}: ${describe(err)}`, { hint: 'check the `drop:` path of the config file and its permissions' });
  });
  const l = listDrop(files);
  return { bundles: l.bundles.map((b) => candidateOf(drop, b)), orphans: l.orphanSidecars.map((n) => join(drop, n)) };
}

