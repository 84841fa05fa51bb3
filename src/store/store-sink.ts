/**
 * The blob cache as an ImageSink: where `save` and `export` pull images to, and what the
 * bundle writer then reads (bundle/writer.ts follows it). Blobs go through BlobStore.receive
 * (resumable, verified by the engine's content, visible only once whole); manifests are stored
 * too, so the cache alone can rebuild the bundle (export --keep-going, an unchanged re-export).
 * `limit` keeps the downloads against one registry to its own share (--concurrency per
 * registry) under the engine's total.
 */
import pLimit from 'p-limit';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import type { BlobStore } from './blob-store.js';

export class StoreSink implements ImageSink {
  readonly description: string;
  /** Blobs go into the cache whatever the other plans are: they may come before prepare. */
  readonly blobsBeforePrepare = true;
  private readonly perHost = new Map<string, <T>(fn: () => Promise<T>) => Promise<T>>();

  /** `concurrency`: blob writes in all; `perRegistry`: at most this many for the images of one registry. */
  constructor(
    private readonly store: BlobStore,
    readonly concurrency: number,
    private readonly perRegistry = concurrency,
  ) {
    this.description = `the cache ${store.dir}`;
  }

  private limitFor(plan: ImagePlan): <T>(fn: () => Promise<T>) => Promise<T> {
    let l = this.perHost.get(plan.ref.registry);
    if (!l) {
      l = pLimit(this.perRegistry);
      this.perHost.set(plan.ref.registry, l);
    }
    return l;
  }

  putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    return this.limitFor(plan)(async () => {
      const outcome = await this.store.receive(blob.digest, blob.size, content, `${blob.digest} of ${plan.request}`, onBytes);
      return outcome === 'downloaded' ? 'uploaded' : 'exists';
    });
  }

  async putManifest(plan: ImagePlan, m: PlannedManifest): Promise<void> {
    await this.store.putBuffer(m.digest, m.raw, `manifest ${m.digest} of ${plan.request}`);
  }

  async finishImage(): Promise<void> {}

  async commit(): Promise<void> {}

  async abort(): Promise<void> {}
}
