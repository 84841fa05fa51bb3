/** Options shared by commands, and turning them into the objects a command works with. */
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { Registries } from '../registry/registries.js';
import { BlobStore, defaultCacheDir } from '../store/blob-store.js';
import { Output } from './output.js';

export interface GlobalArgs {
  quiet: boolean;
  json: boolean;
  debug: boolean;
}

export interface RegistryArgs {
  'insecure-registry': string[];
  'ca-file': string | undefined;
}

export interface CacheArgs {
  'cache-dir': string | undefined;
}

export function withRegistryOptions<T>(y: Argv<T>): Argv<T & RegistryArgs> {
  return y
    .option('insecure-registry', { type: 'string', array: true, default: [] as string[], describe: 'allow plain HTTP or unverified TLS for this registry HOST[:PORT] (repeatable); loopback registries always are' })
    .option('ca-file', { type: 'string', describe: 'PEM file with CA certificates to trust in addition to the system ones' }) as unknown as Argv<T & RegistryArgs>;
}

export function withCacheOption<T>(y: Argv<T>): Argv<T & CacheArgs> {
  return y.option('cache-dir', { type: 'string', describe: 'blob cache directory (default $XDG_CACHE_HOME/ferry or ~/.cache/ferry)' }) as unknown as Argv<T & CacheArgs>;
}

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
