/**
 * The lock file beside a manifest (`prod.yaml` -> `prod.lock.json`): for every image the
 * resolved digests, per platform the manifest, config and layers with sizes. Stable order
 * (images sorted by reference) and formatting, no timestamps, so it diffs cleanly in git.
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { basename, dirname, extname, join } from 'node:path';
import { FerryError, describe } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import { formatPlatform } from '../oci/platform.js';
import type { ImagePlan } from '../content/plan.js';

export const LOCK_VERSION = 1;

export interface LockedImage {
  ref: string;
  name: string | null;
  platforms: string[];
  /** The manifest file's tag selection this image came from (load.ts TagSelection.key); absent for images listed by hand. */
  selectedBy?: string;
  /** What the reference resolved to upstream (index digest for multi-platform images). */
  upstreamDigest: string;
  /** The digest in the bundle's index.json (differs when a subset of an index was kept). */
  digest: string;
  mediaType: string;
  images: { platform: string; manifest: string; config: string; layers: { digest: string; size: number }[] }[];
}

export interface LockFile {
  lockVersion: number;
  images: LockedImage[];
}

/** The lock file path for a manifest file. */
export function lockPath(manifest: string): string {
  return join(dirname(manifest), `${basename(manifest, extname(manifest))}.lock.json`);
}

/** Builds a lock from plans. */
export function lockFromPlans(entries: readonly { ref: string; name: string | null; platforms: string[]; selectedBy?: string; plan: ImagePlan }[]): LockFile {
  const images = entries
    .map(({ ref, name, platforms, selectedBy, plan }) => ({
      ref,
      name,
      platforms,
      ...(selectedBy !== undefined ? { selectedBy } : {}),
      upstreamDigest: plan.upstreamDigest,
      digest: plan.root.digest,
      mediaType: plan.root.mediaType,
      images: plan.images.map((i) => ({ platform: formatPlatform(i.platform), manifest: i.manifest.digest, config: i.config.digest, layers: i.layers.map((l) => ({ digest: l.digest, size: l.size })) })),
    }))
    .sort((a, b) => (a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
  return { lockVersion: LOCK_VERSION, images };
}

/** The canonical text of a lock (what is written, and what its digest is of). */
export function lockText(lock: LockFile): string {
  return `${JSON.stringify(lock, null, 2)}\n`;
}

export function lockDigest(lock: LockFile): string {
  return sha256Digest(lockText(lock));
}

/** Reads a lock file; undefined when there is none. Throws MANIFEST_FILE when it is broken. */
export async function readLock(path: string): Promise<LockFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new FerryError('MANIFEST_FILE', `reading lock file ${path}: ${describe(err)}`);
  }
  try {
    const lock = JSON.parse(text) as LockFile;
    if (lock.lockVersion !== LOCK_VERSION || !Array.isArray(lock.images)) throw new Error(`unsupported lockVersion ${String(lock.lockVersion)}`);
    return lock;
  } catch (err) {
    throw new FerryError('MANIFEST_FILE', `lock file ${path} is not valid: ${describe(err)}`, { hint: 'delete it and export again without --locked to rebuild it' });
  }
}

/** Writes a lock atomically; unchanged content is not rewritten. */
export async function writeLock(path: string, lock: LockFile): Promise<boolean> {
  const text = lockText(lock);
  const old = await readFile(path, 'utf8').catch(() => undefined);
  if (old === text) return false;
  await writeFileAtomic(path, text, { what: 'lock file' });
  return true;
}

/** Every digest a lock names: roots, upstream digests, manifests, configs and layers. */
export function lockedDigests(lock: LockFile): string[] {
  const out = new Set<string>();
  for (const img of lock.images) {
    out.add(img.digest).add(img.upstreamDigest);
    for (const p of img.images) {
      out.add(p.manifest).add(p.config);
      for (const l of p.layers) out.add(l.digest);
    }
  }
  return [...out];
}
