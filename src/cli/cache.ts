/**
 * `ferry cache ls` and `ferry cache prune`: keep the blob cache's disk use in hand. Prune
 * removes blobs that no given lock file references and, with --older-than, only those not used
 * for that long (every use touches a blob). Partial downloads older than a day go too.
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, describe } from '../errors.js';
import { LOCK_VERSION, lockPath, lockedDigests, readLock, type LockFile } from '../manifest-file/lock.js';
import { readManifestDigestsFromStore } from '../store/references.js';
import { openStore, makeOutput } from './common.js';
import { formatBytes } from './output.js';
import type { CacheLsArgs, CachePruneArgs } from './commands.js';


/** Parses 30d, 12h, 90m, 45s into milliseconds. */
export function parseAge(s: string): number {
  const m = /^(\d+)([smhdw])$/.exec(s.trim());
  if (!m) throw new UsageError(`--older-than "${s}" is not a duration`, 'write a number and a unit: 45s, 90m, 12h, 30d, 2w');
  const unit = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2] as 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * unit * 1000;
}

/**
 * Whether a file given as --lock is a manifest file instead: a .yaml/.yml name, or JSON with
 * `images` but no `lockVersion` (a manifest file may be JSON too).
 */
export function looksLikeManifestFile(path: string, text: string): boolean {
  if (/\.ya?ml$/i.test(path)) return true;
  try {
    const doc = JSON.parse(text) as Record<string, unknown> | null;
    return typeof doc === 'object' && doc !== null && !('lockVersion' in doc) && ('images' in doc || 'bundle' in doc);
  } catch {
    // Not JSON: YAML with a manifest's top-level keys.
    return /^(images|bundle|platforms|registries)\s*:/m.test(text);
  }
}

/**
 * Reads a --lock file for prune. Throws a UsageError (exit 2) when it is missing, is a manifest
 * file (naming its lock file), or is not a lock file; never suggests deleting what was given.
 */
async function readPruneLock(path: string): Promise<LockFile> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new UsageError(`--lock ${path}: the lock file does not exist`, 'pass the .lock.json file ferry export wrote beside the manifest file');
    throw new UsageError(`--lock ${path}: ${describe(err)}`);
  });
  if (looksLikeManifestFile(path, text)) {
    throw new UsageError(`--lock ${path}: this looks like a manifest file, not a lock file`, `pass its lock file instead: --lock ${lockPath(path)} (ferry export writes it beside the manifest)`);
  }
  try {
    const lock = await readLock(path);
    if (lock) return lock;
  } catch {
    /* reported below */
  }
  throw new UsageError(`--lock ${path}: not a ferry lock file (JSON with lockVersion ${LOCK_VERSION} and images)`, 'pass the .lock.json file ferry export wrote beside the manifest file');
}

/** `run` adapts a handler to yargs and records its exit code (cli/main.ts). */
export async function runCacheLs(a: CacheLsArgs): Promise<number> {
  const store = await openStore(a);
  const blobs = await store.list();
  const total = blobs.reduce((n, b) => n + b.size, 0);
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ dir: store.dir, blobs: blobs.length, bytes: total, items: blobs.map((b) => ({ digest: b.digest, size: b.size, lastUsed: b.mtime.toISOString() })) }, null, 2)}\n`);
    return 0;
  }
  for (const b of blobs.sort((x, y) => y.mtime.getTime() - x.mtime.getTime())) process.stdout.write(`${b.digest}  ${formatBytes(b.size).padStart(9)}  ${b.mtime.toISOString()}\n`);
  process.stdout.write(`${blobs.length} blobs, ${formatBytes(total)} in ${store.dir}\n`);
  return 0;
}

export async function runCachePrune(a: CachePruneArgs): Promise<number> {
  if (!a['older-than'] && a.lock.length === 0) throw new UsageError('ferry cache prune needs --older-than, --lock, or both', 'e.g. ferry cache prune --lock manifests/prod.lock.json --older-than 30d');
  const age = a['older-than'] ? parseAge(a['older-than']) : 0;
  const store = await openStore(a);
  const keep = new Set<string>();
  for (const l of a.lock) for (const d of lockedDigests(await readPruneLock(l))) keep.add(d);
  // Manifests kept are in the store too; what they reference stays with them.
  for (const d of await readManifestDigestsFromStore(store, keep)) keep.add(d);
  const now = Date.now();
  let removed = 0;
  let bytes = 0;
  for (const b of await store.list()) {
    if (keep.has(b.digest)) continue;
    if (age && now - b.mtime.getTime() < age) continue;
    removed++;
    bytes += b.size;
    if (!a['dry-run']) await store.remove(b.digest);
  }
  const partialDir = join(store.dir, 'partial');
  for (const n of await readdir(partialDir).catch(() => [] as string[])) {
    const s = await stat(join(partialDir, n)).catch(() => undefined);
    if (s && now - s.mtimeMs > 86_400_000 && !n.endsWith('.lock') && !a['dry-run']) await rm(join(partialDir, n), { force: true });
  }
  makeOutput(a).info(`${a['dry-run'] ? 'would remove' : 'removed'} ${removed} blobs (${formatBytes(bytes)}) from ${store.dir}`);
  if (a.json) process.stdout.write(`${JSON.stringify({ command: 'cache prune', dryRun: a['dry-run'], removed, bytes }, null, 2)}\n`);
  return 0;
}
