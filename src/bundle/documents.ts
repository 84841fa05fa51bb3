/**
 * An archive's images with their manifests and configs, for reading what they are (inspect)
 * without unpacking layers. A ferry bundle is read twice: its head (ferry.json names every
 * manifest and config), then one pass that keeps in memory only those blobs and other small
 * documents; other archives are read whole once, as `ls` does. Nothing is written to disk.
 */
import { blobPath } from '../digest/digest.js';
import { interpret, type Interpretation } from './contents.js';
import { readBundleHead } from './head.js';
import { readArchive } from './reader.js';

/** Blobs at most this big are kept too: nested indexes that ferry.json does not list. */
const SMALL_DOCUMENT = 64 * 1024;

export interface ArchiveDocuments {
  interpretation: Interpretation;
  /** The bytes of a kept blob (a manifest, an index or a config), verified against its digest by the reader. */
  blob(digest: string): Buffer | undefined;
}

/** Reads the archive at `path`. Throws BUNDLE_FORMAT for a damaged archive, as `ls` and `verify` do. */
export async function readArchiveDocuments(path: string): Promise<ArchiveDocuments> {
  const head = await readBundleHead(path);
  let contents = head.contents;
  if (head.metadata) {
    const wanted = new Set<string>();
    for (const img of head.metadata.images ?? []) {
      wanted.add(img.digest);
      for (const p of img.platforms ?? []) wanted.add(p.manifest).add(p.config);
      for (const r of img.referrers ?? []) wanted.add(r.digest);
    }
    const keep = (name: string, size: number): boolean => !name.startsWith('blobs/') || size <= SMALL_DOCUMENT || wanted.has(`sha256:${name.slice('blobs/sha256/'.length)}`);
    contents = await readArchive(path, async () => undefined, { keep });
  }
  const byDigest = (digest: string): Buffer | undefined => {
    // A legacy `docker save` archive names its configs `<hex>.json`, not blobs/sha256/<hex>.
    for (const f of contents.files.values()) if (f.digest === digest && !f.aliasOf && contents.small.has(f.name)) return contents.small.get(f.name);
    return undefined;
  };
  return { interpretation: interpret(contents), blob: (digest) => contents.small.get(blobPath(digest)) ?? byDigest(digest) };
}
