/** Options shared by commands, and turning them into the objects a command works with. */
import type { CacheArgs, GlobalArgs, RegistryArgs } from './commands.js';
import { UsageError } from '../errors.js';
import { Registries } from '../registry/registries.js';
import { BlobStore, defaultCacheDir } from '../store/blob-store.js';
import { Output } from './output.js';

export function concurrencyOption(v: unknown): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new UsageError(`--concurrency must be a whole number from 1 to 64, got "${String(v)}"`);
  return n;
}

export function makeRegistries(a: RegistryArgs, extra: { insecure?: string[]; caFiles?: Record<string, string> } = {}): Registries {
  return new Registries({
    insecureRegistries: [...a['insecure-registry'], ...(extra.insecure ?? [])],
    ...(a['ca-file'] ? { caFile: a['ca-file'] } : {}),
    ...(extra.caFiles ? { caFiles: extra.caFiles } : {}),
  });
}

export async function openStore(a: CacheArgs): Promise<BlobStore> {
  const store = new BlobStore(a['cache-dir'] ?? defaultCacheDir());
  await store.init();
  return store;
}

export function makeOutput(a: GlobalArgs): Output {
  return new Output({ quiet: a.quiet, json: a.json });
}
