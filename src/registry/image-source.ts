/**
 * A registry as an ImageSource (transfer/image-source.ts): manifests by tag or digest (verified
 * against a digest), the OCI 1.1 referrers API, and blobs opened at an offset with Range.
 */
import { FerryError } from '../errors.js';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import type { BlobOpener, BlobSource, ImageSource } from '../content/image-source.js';
import type { Reference } from '../reference/parse-reference.js';
import type { Registries } from './registries.js';
import { openBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { getManifest } from './manifests.js';
import { referrersApi } from './referrers-publish.js';

export class RegistryImageSource implements ImageSource {
  readonly description: string;

  constructor(private readonly client: RegistryClient) {
    this.description = `registry ${client.host}`;
  }

  async manifest(repository: string, ref: string, what: string, optional = false): Promise<FetchedManifest | undefined> {
    try {
      return await getManifest(this.client, repository, ref, what);
    } catch (err) {
      if (optional && err instanceof FerryError && err.code === 'NOT_FOUND') return undefined;
      throw err;
    }
  }

  referrers(repository: string, digest: string, what: string): Promise<Descriptor[] | undefined> {
    return referrersApi(this.client, repository, digest, what);
  }

  blob(ref: Reference, blob: Descriptor, what: string): BlobOpener {
    return (offset) => openBlob(this.client, ref.repository, blob.digest, offset, what);
  }

  async close(): Promise<void> {}
}

/** Every registry as one blob source (save and export pull images from several): each blob from the registry its image names. */
export function registriesBlobSource(registries: Registries): BlobSource {
  return {
    description: 'the registries',
    blob: (ref, blob, what) => (offset) => openBlob(registries.client(ref.registry), ref.repository, blob.digest, offset, what),
  };
}
