/**
 * Pulling a list of images into the store: resolve each reference to a plan, then fetch its
 * blobs, at most `concurrency` downloads at a time across all images. Each image's failure is
 * captured, not thrown, so callers decide between failing the run and --keep-going.
 */
import pLimit from 'p-limit';

type Limit = (fn: () => Promise<void>) => Promise<void>;
import { FerryError, wrap } from '../errors.js';
import type { PlatformSelection } from '../oci/platform.js';
import { formatReference, type Reference } from '../reference/parse-reference.js';
import type { Registries } from '../registry/registries.js';
import { RegistryImageSource } from '../registry/image-source.js';
import { resolveImage } from './resolve.js';
import type { BlobStore } from '../store/blob-store.js';
import { fetchPlan, type FetchResult } from './fetch.js';
import { planSize, type ImagePlan } from '../content/plan.js';

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

/**
 * Pulls every request; resolves with one result per request, in order. At most `concurrency`
 * blob downloads run against one registry, and at most MAX_TOTAL_DOWNLOADS in all.
 */
export async function pullImages(requests: readonly ImageRequest[], registries: Registries, store: BlobStore, concurrency: number, events: PullEvents = {}, resolver: (r: ImageRequest) => Promise<ImagePlan> = (r) => resolveRequest(registries, r)): Promise<PullResult[]> {
  const total = pLimit(MAX_TOTAL_DOWNLOADS);
  const perRegistry = new Map<string, Limit>();
  const blobLimitFor = (host: string): Limit => {
    let l = perRegistry.get(host);
    if (!l) {
      const own = pLimit(concurrency);
      l = (fn) => own(() => total(fn));
      perRegistry.set(host, l);
    }
    return l;
  };
  // Resolving is one small request per image: overlap more of them than blob downloads.
  const imageLimit = pLimit(Math.max(4, Math.min(16, concurrency * 2)));
  return Promise.all(
    requests.map((r) =>
      imageLimit(async (): Promise<PullResult> => {
        const where = r.origin ? ` (${r.origin})` : '';
        let plan: ImagePlan | undefined;
        try {
          plan = await resolver(r);
          events.onResolved?.(plan);
          const source = new RegistryImageSource(registries.client(r.ref.registry));
          const fetch = await fetchPlan(
            plan,
            store,
            {
              concurrency,
              platforms: r.platforms,
              opener: (p, d) => source.blob(p.ref.repository, d, `fetching ${d.digest} from ${formatReference(p.ref)}`),
              onBytes: (p, n) => events.onBytes?.(p, n),
              ...(events.onConfigs ? { onConfigs: events.onConfigs } : {}),
              ...(events.onBlob ? { onBlob: events.onBlob } : {}),
            },
            blobLimitFor(r.ref.registry),
          );
          const result = { request: r, plan, fetch };
          events.onDone?.(result);
          return result;
        } catch (err) {
          const error = wrap(`pulling ${r.request}${where}`, err, 'REGISTRY');
          const result: PullResult = plan ? { request: r, plan, error } : { request: r, error };
          events.onDone?.(result);
          return result;
        }
      }),
    ),
  );
}

