/**
 * Pulling a list of images into the blob cache, as a composition of the copy engine: each
 * reference is resolved to a plan (concurrently, a few at a time), and every plan goes through
 * copyImages from the registries (registry/image-source.ts) to the cache (store/store-sink.ts)
 * as soon as it is resolved (the engine starts its blobs while other images still resolve),
 * at most `concurrency` downloads against one registry and MAX_TOTAL_DOWNLOADS in all. Each
 * image's failure is captured, not thrown, so callers decide between failing the run and
 * --keep-going.
 */
import { readFile } from 'node:fs/promises';
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import { parseImageConfig } from '../oci/config.js';
import { requirePlatform, type PlatformSelection } from '../oci/platform.js';
import type { Reference } from '../reference/parse-reference.js';
import type { Registries } from '../registry/registries.js';
import { RegistryImageSource, registriesBlobSource } from '../registry/image-source.js';
import type { BlobStore } from '../store/blob-store.js';
import { StoreSink } from '../store/store-sink.js';
import type { ImagePlan } from '../content/plan.js';
import type { ImageSink } from '../content/image-sink.js';
import { copyImages } from './copy.js';
import { resolveImage } from './resolve.js';

export interface ImageRequest {
  request: string;
  ref: Reference;
  name?: Reference;
  platforms: PlatformSelection;
  /** Where the request came from, for messages (manifests/prod.yaml:12). */
  origin?: string;
  /** false: leave the image's signatures, attestations and SBOMs behind. */
  referrers?: boolean;
  /** Carry non-distributable layers (--allow-nondistributable). */
  allowNondistributable?: boolean;
  /** Blobs the receiving side has (--have): a differential bundle. */
  have?: ReadonlySet<string>;
}

/** What one image's pull moved. */
export interface FetchResult {
  downloaded: number;
  cached: number;
  downloadedBytes: number;
}

export interface PullResult {
  request: ImageRequest;
  plan?: ImagePlan;
  fetch?: FetchResult;
  error?: FerryError;
}

export interface PullEvents {
  onResolved?: (plan: ImagePlan) => void;
  /** The plan's manifests and configs are in the store, its platforms known; layers follow. */
  onConfigs?: (plan: ImagePlan) => void;
  /** A blob is in the store: `downloaded` (and verified) by this pull, or there already. */
  onBlob?: (digest: string, downloaded: boolean) => void;
  onBytes?: (plan: ImagePlan, n: number) => void;
  onDone?: (result: PullResult) => void;
}

/** Resolves a request to a plan (manifests only, no blobs). */
export function resolveRequest(registries: Registries, r: ImageRequest): Promise<ImagePlan> {
  return resolveImage(new RegistryImageSource(registries.client(r.ref.registry)), {
    request: r.request,
    ref: r.ref,
    ...(r.name ? { name: r.name } : {}),
    platforms: r.platforms,
    ...(r.referrers === false ? { referrers: false } : {}),
    ...(r.allowNondistributable ? { allowNondistributable: true } : {}),
    ...(r.have ? { have: r.have } : {}),
  });
}

/** Downloads at a time across all registries, whatever --concurrency says per registry. */
export const MAX_TOTAL_DOWNLOADS = 16;

/** Single-manifest images carry no platform in an index: take it from the (verified) config in the store. */
export async function fillPlatforms(plan: ImagePlan, store: BlobStore): Promise<void> {
  for (const img of plan.images) {
    if (img.platform || img.kind !== 'image') continue;
    // Not an image config (an artifact): the platform stays unknown.
    const raw = await readFile(store.path(img.config.digest)).catch(() => undefined);
    img.platform = raw ? parseImageConfig(raw)?.platform : undefined;
  }
}

/**
 * Pulls every request into the cache; resolves with one result per request, in order. `into`
 * may wrap the cache sink (a bundle sink writes the bundle beside the pull).
 */
export async function pullImages(
  requests: readonly ImageRequest[],
  registries: Registries,
  store: BlobStore,
  concurrency: number,
  events: PullEvents = {},
  resolver: (r: ImageRequest) => Promise<ImagePlan> = (r) => resolveRequest(registries, r),
  into: (cache: StoreSink) => ImageSink = (cache) => cache,
): Promise<PullResult[]> {
  const failed = (r: ImageRequest, err: unknown, plan?: ImagePlan): PullResult => {
    const where = r.origin ? ` (${r.origin})` : '';
    const error = wrap(`pulling ${r.request}${where}`, err, 'REGISTRY');
    const result: PullResult = plan ? { request: r, plan, error } : { request: r, error };
    events.onDone?.(result);
    return result;
  };
  // Resolving is one small request per image: overlap more of them than blob downloads. The
  // blobs of an image start as soon as it resolved, while the others still resolve.
  const imageLimit = pLimit(Math.max(4, Math.min(16, concurrency * 2)));
  const results: PullResult[] = requests.map((r) => ({ request: r }));
  const byPlan = new Map<ImagePlan, PullResult>();
  const plans = requests.map((r, i) =>
    imageLimit(async (): Promise<ImagePlan | undefined> => {
      try {
        const plan = await resolver(r);
        const x: PullResult = { request: r, plan, fetch: { downloaded: 0, cached: 0, downloadedBytes: 0 } };
        results[i] = x;
        byPlan.set(plan, x);
        events.onResolved?.(plan);
        return plan;
      } catch (err) {
        results[i] = failed(r, err);
        return undefined;
      }
    }),
  );
  const cache = new StoreSink(store, Math.min(MAX_TOTAL_DOWNLOADS, concurrency * new Set(requests.map((r) => r.ref.registry)).size), concurrency);
  // An image that does not resolve abandons a sink that needs every image (a bundle: the
  // others still go into the cache; export --keep-going writes them from there).
  const sink = into(cache);
  await copyImages(registriesBlobSource(registries), plans, sink, {
    isolate: true,
    onBytes: (p, n) => events.onBytes?.(p, n),
    onConfigs: async (plan) => {
      // A single-manifest image has its platform in its config only: checked against the
      // request before any layer moves; a bundle writer can start once every image is here.
      const single = plan.images.length === 1 && !plan.images[0]!.platform && plan.images[0]!.kind === 'image' ? plan.images[0]! : undefined;
      await fillPlatforms(plan, store);
      const r = byPlan.get(plan)!.request;
      if (single && r.platforms) requirePlatform(single.platform, r.platforms);
      events.onConfigs?.(plan);
    },
    onBlob: (plan, d, outcome) => {
      const f = byPlan.get(plan)!.fetch!;
      if (outcome === 'uploaded') {
        f.downloaded++;
        f.downloadedBytes += d.size;
      } else f.cached++;
      events.onBlob?.(d.digest, outcome === 'uploaded');
    },
    onImage: (i) => {
      const x = byPlan.get(i.plan)!;
      if (i.error) Object.assign(x, failed(x.request, i.error, i.plan));
      else events.onDone?.(x);
    },
    describeFailure: (plan, err) => (err instanceof FerryError ? err : wrap(`pulling ${plan.request}`, err, 'REGISTRY')),
  });
  return results;
}
