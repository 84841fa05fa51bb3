/**
 * `save` and `export` as one composition of the copy engine: the registries as the source, a
 * bundle sink (bundle/bundle-sink.ts: the cache, with the bundle writer following it) as the
 * sink, so the bundle is written while the layers still download. Any image's failure
 * abandons the write (its partial file removed) and the caller decides: fail, or write the
 * images that did arrive from the cache (export --keep-going: bundleFromCache).
 */
import { BundleSink, type BundleWrite } from '../bundle/bundle-sink.js';
import type { WrittenBundle } from '../bundle/writer.js';
import type { ImagePlan } from '../content/plan.js';
import type { Registries } from '../registry/registries.js';
import type { BlobStore } from '../store/blob-store.js';
import { StoreSink } from '../store/store-sink.js';
import { storeBlobSource } from '../store/store-source.js';
import { copyImages } from '../transfer/copy.js';
import { pullImages, type ImageRequest, type PullEvents, type PullResult } from '../transfer/pull.js';

export interface PulledBundle {
  results: PullResult[];
  /** The bundle, when every image arrived and the write succeeded. */
  written?: WrittenBundle;
  /** The write's own failure (a full disk), when every image arrived. */
  writeError?: unknown;
}

/** Pulls `requests` into a bundle written by `write` (with the plans in request order). */
export async function pullIntoBundle(
  requests: readonly ImageRequest[],
  registries: Registries,
  store: BlobStore,
  concurrency: number,
  events: PullEvents,
  resolver: ((r: ImageRequest) => Promise<ImagePlan>) | undefined,
  write: BundleWrite,
  out: string,
): Promise<PulledBundle> {
  let sink: BundleSink | undefined;
  const results = await pullImages(requests, registries, store, concurrency, events, resolver, (cache) => (sink = new BundleSink(cache, write, out)));
  if (results.some((r) => r.error) || !sink) return { results };
  return { results, ...(sink.written ? { written: sink.written } : {}), ...(sink.writeError !== undefined ? { writeError: sink.writeError } : {}) };
}

/** Writes a bundle of `plans` whose blobs are all in the cache (each checked again as it is copied). */
export async function bundleFromCache(store: BlobStore, plans: ImagePlan[], write: BundleWrite, out: string): Promise<WrittenBundle> {
  const sink = new BundleSink(new StoreSink(store, 4), write, out);
  await copyImages(storeBlobSource(store, `the cache ${store.dir}`), plans, sink);
  if (sink.writeError !== undefined) throw sink.writeError;
  return sink.written!;
}
