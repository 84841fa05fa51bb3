/**
 * A registry as an ImageSink (transfer/image-sink.ts) for `ferry copy`: every image goes to one
 * repository and tag (the destination reference), its referrers under their own tags or by
 * digest, with the bytes unchanged, so every digest stays. Blobs are streamed from the source
 * in one PUT (no chunking: the source stream is read once, front to back).
 */
import { FerryError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobOutcome, ImageSink, VerifiedOpener } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import type { RegistryClient } from './client.js';
import { putManifest } from './manifests.js';
import { publishReferrers } from './referrers-publish.js';
import { uploadBlob } from './upload.js';

export class RegistryImageSink implements ImageSink {
  readonly description: string;

  /** `tag`: the name the image gets (the destination's tag); undefined keeps the source's. */
  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    private readonly tag: string | undefined,
    readonly concurrency = 4,
  ) {
    this.description = `${client.host}/${repository}`;
  }

  putBlob(_plan: ImagePlan, blob: Descriptor, open: VerifiedOpener, onBytes: (n: number) => void): Promise<BlobOutcome> {
    return uploadBlob(this.client, this.repository, blob, { open, onBytes, chunkSize: Number.MAX_SAFE_INTEGER });
  }

  async putManifest(plan: ImagePlan, m: PlannedManifest, tag: string | undefined): Promise<void> {
    const ref = m.digest === plan.root.digest ? (this.tag ?? tag) : tag;
    const got = await putManifest(this.client, this.repository, ref ?? m.digest, m.raw, m.mediaType, `pushing manifest ${m.digest} to ${this.description}`);
    if (got && got !== m.digest) {
      throw new FerryError('DIGEST_MISMATCH', `pushing ${this.description}: the registry stored manifest ${m.digest} as ${got}`, { hint: 'the registry rewrote the manifest; it does not preserve digests' });
    }
  }

  async finishImage(plan: ImagePlan): Promise<void> {
    if (plan.referrers?.length) await publishReferrers(this.client, this.repository, plan, `pushing the referrers of ${this.description}`);
  }

  async commit(): Promise<void> {}

  async abort(): Promise<void> {}
}
