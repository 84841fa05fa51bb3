/**
 * The one time a bundle records (tar entry mtimes, ferry.json `created`), chosen so that the
 * same images give the same bytes on every run and on both sides of the gap: the
 * reproducible-builds `SOURCE_DATE_EPOCH` when it is set, else the newest creation time among
 * the images' configs, else the Unix epoch.
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { parseImageConfig } from '../oci/config.js';
import type { BlobStore } from '../store/blob-store.js';
import type { ImagePlan } from '../content/plan.js';

/** SOURCE_DATE_EPOCH as a Date, undefined when unset; throws a UsageError when it is not a whole number of seconds. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): Date | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,12}$/.test(v)) {
    throw new UsageError(`SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01 UTC, got "${v}"`, 'e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), or unset it');
  }
  return new Date(Number(v) * 1000);
}

/** The newest `created` of the plans' image configs (read from the verified store), or undefined. */
async function newestImageTime(plans: readonly ImagePlan[], store: BlobStore): Promise<Date | undefined> {
  let newest: number | undefined;
  for (const p of plans) {
    for (const img of p.images) {
      const raw = await readFile(store.path(img.config.digest)).catch(() => undefined);
      const t = raw ? parseImageConfig(raw)?.created : undefined;
      // Whole seconds: a tar header holds no more.
      if (t !== undefined && t >= 0) newest = Math.max(newest ?? 0, Math.floor(t / 1000) * 1000);
    }
  }
  return newest === undefined ? undefined : new Date(newest);
}

/** The time to record in a bundle of `plans` (see the file comment). */
export async function bundleTime(plans: readonly ImagePlan[], store: BlobStore, env: NodeJS.ProcessEnv = process.env): Promise<Date> {
  return sourceDateEpoch(env) ?? (await newestImageTime(plans, store)) ?? new Date(0);
}
