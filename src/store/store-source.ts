/**
 * The blob cache as the copy engine's source, for images already in it (a bundle that
 * `readIntoStore` checked, export --keep-going's survivors): blobs come from the verified store,
 * so the engine does not hash them again.
 */
import type { BlobOpener, BlobSource } from '../content/image-source.js';
import type { Descriptor } from '../oci/manifest.js';
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
  return async (offset, end) => ({ body: offset > 0 || end !== undefined ? store.readRange(blob.digest, offset, end ?? Math.max(offset, blob.size - 1)) : store.read(blob.digest, blob.size), start: offset });
}
