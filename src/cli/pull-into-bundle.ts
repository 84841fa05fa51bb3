/**
 * `save` and `export` in one pass: the bundle is written while the layers still download. The
 * writer starts once every image is resolved and its configs are in the store (the bundle's
 * head names every image and platform), then takes each blob as soon as the pull has it, in the
 * bundle's fixed order, so the bytes are the same as a write after the pull. When any image
 * fails, the write is abandoned (its partial file removed) and the caller decides: fail, or
 * write the images that did arrive from the cache (export --keep-going).
 */
import type { ImagePlan } from '../content/plan.js';
import type { WrittenBundle } from '../bundle/writer.js';
import { pullImages, resolveRequest, type ImageRequest, type PullEvents, type PullResult } from '../transfer/pull.js';
import type { Registries } from '../registry/registries.js';
import type { BlobStore } from '../store/blob-store.js';

export interface PulledBundle {
  results: PullResult[];
  /** The bundle, when every image arrived and the write succeeded. */
  written?: WrittenBundle;
  /** The write's own failure (a full disk), when every image arrived. */
  writeError?: unknown;
}

class Abandoned extends Error {}

/**
 * Pulls `requests` and, beside it, calls `write(plans, ready)` with the plans in request order
 * once all are resolved with their configs; `ready(digest)` resolves when that blob is in the
 * store (true when this pull downloaded and verified it just now) and rejects once any image
 * has failed.
 */
export async function pullIntoBundle(
  requests: readonly ImageRequest[],
  registries: Registries,
  store: BlobStore,
  concurrency: number,
  events: PullEvents,
  resolver: ((r: ImageRequest) => Promise<ImagePlan>) | undefined,
  write: (plans: ImagePlan[], ready: (digest: string) => Promise<boolean>) => Promise<WrittenBundle>,
): Promise<PulledBundle> {
  const waiting = new Map<string, { promise: Promise<boolean>; resolve: (fresh: boolean) => void; reject: (e: unknown) => void }>();
  /** digest -> whether this pull downloaded (and so verified) it just now. */
  const have = new Map<string, boolean>();
  let failed = false;
  const slot = (digest: string) => {
    let w = waiting.get(digest);
    if (!w) {
      let resolve!: (fresh: boolean) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<boolean>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined);
      w = { promise, resolve, reject };
      waiting.set(digest, w);
    }
    return w;
  };
  const ready = (digest: string): Promise<boolean> => {
    const fresh = have.get(digest);
    if (fresh !== undefined) return Promise.resolve(fresh);
    if (failed) return Promise.reject(new Abandoned('an image failed'));
    return slot(digest).promise;
  };
  const configured = new Map<number, ImagePlan>();
  let settledImages = 0;
  let writing: Promise<WrittenBundle> | undefined;
  const index = new Map(requests.map((r, i) => [r, i]));
  const maybeStart = (): void => {
    if (failed || writing || settledImages < requests.length) return;
    const plans = requests.map((_, i) => configured.get(i)!);
    writing = write(plans, ready);
    writing.catch(() => undefined);
  };
  const fail = (): void => {
    failed = true;
    for (const w of waiting.values()) w.reject(new Abandoned('an image failed'));
  };
  const planIndex = new Map<ImagePlan, number>();
  const results = await pullImages(
    requests,
    registries,
    store,
    concurrency,
    {
      ...events,
      onResolved: (p) => events.onResolved?.(p),
      onConfigs: (p) => {
        const i = planIndex.get(p);
        if (i !== undefined) configured.set(i, p);
        settledImages++;
        events.onConfigs?.(p);
        maybeStart();
      },
      onBlob: (d, downloaded) => {
        have.set(d, downloaded);
        waiting.get(d)?.resolve(downloaded);
        events.onBlob?.(d, downloaded);
      },
      onDone: (r) => {
        if (r.error) {
          if (!r.plan || !configured.has(index.get(r.request)!)) settledImages++;
          fail();
        }
        events.onDone?.(r);
      },
    },
    async (r) => {
      const plan = await (resolver ?? ((x: ImageRequest) => resolveRequest(registries, x)))(r);
      planIndex.set(plan, index.get(r)!);
      return plan;
    },
  );
  if (failed) {
    await writing?.catch(() => undefined);
    return { results };
  }
  maybeStart();
  try {
    return { results, written: await writing! };
  } catch (err) {
    return { results, writeError: err };
  }
}
