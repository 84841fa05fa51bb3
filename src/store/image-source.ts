/**
 * The blob cache as an ImageSource for images already read into it (a bundle that
 * `readIntoStore` checked): blobs come from the verified store; manifests from the plans.
 */
import { FerryError } from '../errors.js';
import type { BlobOpener, BlobSource, ImageSource } from '../content/image-source.js';
import type { ImagePlan } from '../content/plan.js';
import { parseManifest, type Descriptor, type FetchedManifest } from '../oci/manifest.js';
import type { BlobStore } from './blob-store.js';

/** The store's verified blobs as a copy engine source (the engine does not hash them again). */
export function storeBlobSource(store: BlobStore, what: string): BlobSource {
  return {
    description: what,
    verified: true,
    blob: (_ref, d) => storeOpener(store, d),
  };
}

function storeOpener(store: BlobStore, blob: Descriptor): BlobOpener {
  return async (offset, end) => ({ body: offset > 0 || end !== undefined ? store.readRange(blob.digest, offset, end ?? Math.max(offset, blob.size - 1)) : store.read(blob.digest), start: offset });
}

export class StoreImageSource implements ImageSource {
  readonly description: string;
  readonly verified = true;

  constructor(
    private readonly store: BlobStore,
    private readonly plans: readonly ImagePlan[],
    what: string,
  ) {
    this.description = what;
  }

  async manifest(_repository: string, ref: string, what: string, optional = false): Promise<FetchedManifest | undefined> {
    for (const p of this.plans) {
      const m = p.manifests.find((x) => x.digest === ref);
      if (m) return { raw: m.raw, mediaType: m.mediaType, digest: m.digest, parsed: parseManifest(m.raw, m.mediaType, what) };
    }
    if (optional) return undefined;
    throw new FerryError('NOT_FOUND', `${what}: ${ref} is not in ${this.description}`);
  }

  async referrers(): Promise<Descriptor[] | undefined> {
    return undefined;
  }

  blob(_ref: unknown, blob: Descriptor): BlobOpener {
    return storeOpener(this.store, blob);
  }

  async close(): Promise<void> {}
}
