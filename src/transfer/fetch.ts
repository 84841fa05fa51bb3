/**
 * Fills the store with every blob the plans need, `concurrency` downloads at a time (p-limit),
 * each verified by the store before it becomes visible. Manifests are stored too.
 */
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobOpener, BlobStore, FetchOutcome } from '../store/blob-store.js';
import { planBlobs, planManifestImages, type ImagePlan } from '../content/plan.js';
import { parseImageConfig } from '../oci/config.js';
import { requirePlatform, type PlatformSelection } from '../oci/platform.js';

export interface FetchOptions {
  concurrency: number;
  /**
   * The platforms asked for. A single-platform image has its platform only in its config, so
   * its config is fetched first and checked against them (requirePlatform) before any layer.
   */
  platforms?: PlatformSelection;
  opener: (plan: ImagePlan, blob: Descriptor) => BlobOpener;
  onBytes?: (plan: ImagePlan, n: number) => void;
  /** Called once the plan's manifests and configs are in the store and its platforms known (before any layer). */
  onConfigs?: (plan: ImagePlan) => void;
  /** Called when a blob is in the store: `downloaded` (and verified) by this pull, or there already. */
  onBlob?: (digest: string, downloaded: boolean) => void;
}

export interface FetchResult {
  downloaded: number;
  cached: number;
  downloadedBytes: number;
}

/** Fetches the blobs of one plan; shared blobs are fetched once per store (its lock serialises). */
export async function fetchPlan(plan: ImagePlan, store: BlobStore, opts: FetchOptions, limit: (fn: () => Promise<void>) => Promise<void> = pLimit(opts.concurrency)): Promise<FetchResult> {
  const result: FetchResult = { downloaded: 0, cached: 0, downloadedBytes: 0 };
  for (const m of plan.manifests) await store.putBuffer(m.digest, m.raw, `manifest ${m.digest} of ${plan.request}`);
  const one = (d: Descriptor): Promise<void> =>
    limit(async () => {
      const kind = planManifestImages(plan).some((i) => i.config.digest === d.digest) ? 'config' : 'layer';
      const outcome: FetchOutcome = await store.fetch(d.digest, d.size, opts.opener(plan, d), `${kind} ${d.digest} of ${plan.request}`, (n) => opts.onBytes?.(plan, n));
      if (outcome === 'downloaded') {
        result.downloaded++;
        result.downloadedBytes += d.size;
      } else result.cached++;
      opts.onBlob?.(d.digest, outcome === 'downloaded');
    });
  const configs = new Set(planManifestImages(plan).map((i) => i.config.digest));
  const blobs = planBlobs(plan);
  // Configs first (small): the platform of a single-manifest image is in its config, checked
  // against the request before any layer moves; and a bundle writer can start on them.
  const single = plan.images.length === 1 && !plan.images[0]!.platform && plan.images[0]!.kind === 'image' ? plan.images[0]! : undefined;
  await Promise.all(blobs.filter((d) => configs.has(d.digest)).map(one));
  await fillPlatforms(plan, store);
  if (single && opts.platforms) requirePlatform(single.platform, opts.platforms);
  opts.onConfigs?.(plan);
  await Promise.all(blobs.filter((d) => !configs.has(d.digest)).map(one));
  return result;
}

/** Single-manifest images carry no platform in an index: take it from the (verified) config. */
export async function fillPlatforms(plan: ImagePlan, store: BlobStore): Promise<void> {
  for (const img of plan.images) {
    if (img.platform || img.kind !== 'image') continue;
    // Not an image config (an artifact): the platform stays unknown.
    const raw = await readFile(store.path(img.config.digest)).catch(() => undefined);
    img.platform = raw ? parseImageConfig(raw)?.platform : undefined;
  }
}
