/** Options shared by commands, and turning them into the objects a command works with. */
import type { CacheArgs, GlobalArgs, RegistryArgs } from './commands.js';
import { UsageError } from '../errors.js';
import { Registries } from '../registry/registries.js';
import { retryPolicyFromEnv } from '../registry/retry.js';
import { BlobStore, defaultCacheDir } from '../store/blob-store.js';
import { basename } from 'node:path';
import { parseSplitSize } from '../bundle/volume-header.js';
import type { WrittenBundle } from '../bundle/writer.js';

/**
 * `--concurrency` as yargs hands it over (a string, so "abc" is not already NaN). Throws a
 * UsageError (exit 2) with the value as given and the allowed range.
 */
export function concurrencyOption(v: unknown): number {
  const given = Array.isArray(v) ? v.map(String).join(' ') : String(v);
  const n = /^\s*\d+\s*$/.test(given) ? Number(given) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--concurrency must be a whole number from 1 to 64, got "${given}"`, 'e.g. --concurrency 8');
  return n;
}

/**
 * The registries of a run. Checks up front, throwing a UsageError (exit 2): the CA files exist
 * and hold PEM certificates, and FERRY_RETRY_* are valid.
 */
export function makeRegistries(a: RegistryArgs, extra: { insecure?: string[]; caFiles?: Record<string, string> } = {}): Registries {
  return new Registries(
    {
      insecureRegistries: [...a['insecure-registry'], ...(extra.insecure ?? [])],
      ...(a['ca-file'] !== undefined ? { caFile: a['ca-file'] } : {}),
      ...(extra.caFiles ? { caFiles: extra.caFiles } : {}),
    },
    retryPolicyFromEnv(),
  );
}

export async function openStore(a: CacheArgs): Promise<BlobStore> {
  const store = new BlobStore(a['cache-dir'] ?? defaultCacheDir());
  await store.init();
  return store;
}

/** The output of a command (output.ts; here too for the commands that import the rest of this file). */
export { makeOutput } from './output.js';

/** `--split SIZE` in bytes, or undefined without it; throws a UsageError (exit 2) for a bad size or --compression none. */
export function splitOption(v: string | undefined, compression: string): number | undefined {
  if (v === undefined) return undefined;
  const bytes = parseSplitSize(v);
  if (compression !== 'gzip') throw new UsageError('--split needs gzip compression: each volume starts with a gzip member', 'leave out --compression none');
  return bytes;
}

/** How a written bundle is named in messages: the file, or its volumes. */
export function writtenName(w: WrittenBundle): string {
  const v = w.volumes;
  if (!v || !v.length) return w.path;
  return v.length === 1 ? `${v[0]!.path}: 1 volume` : `${v[0]!.path} .. ${basename(v[v.length - 1]!.path)}: ${v.length} volumes`;
}
