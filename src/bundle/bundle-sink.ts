/**
 * A bundle as the copy engine's sink (`save`, `export`): blobs go into the cache (`cache`, the
 * StoreSink), and the bundle writer follows it, so the bundle is written while the layers still
 * download. The writer (`write`) starts once every image's configs are in and its plan is
 * complete (the bundle's head names every image and platform), then takes each blob as soon
 * as the cache has it, in the bundle's fixed order, so the bytes are the same as a write after
 * the pull. A blob the engine verified into the cache just now is not hashed again; one that
 * was there before is checked again as it is copied (bundle/writer.ts).
 *
 * When an image fails, the write is abandoned (the writer removes its partial file) and commit
 * writes nothing: the caller decides (fail, or export --keep-going, which writes the images that
 * arrived with a second copy from the cache). A failure of the write itself is kept in
 * `writeError` (the images did arrive).
 */
import { FerryError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import type { WrittenBundle } from './writer.js';

/** Writes the bundle of `plans`; `ready(digest)` resolves when the blob is in the cache (true: verified just now) and rejects when the write is abandoned. */
export type BundleWrite = (plans: ImagePlan[], ready: (digest: string) => Promise<boolean>) => Promise<WrittenBundle>;

class Abandoned extends Error {}

interface Slot {
  promise: Promise<boolean>;
  resolve: (fresh: boolean) => void;
  reject: (e: unknown) => void;
}

export class BundleSink implements ImageSink {
  readonly description: string;
  readonly concurrency: number;
  /** The bundle, once commit wrote it. */
  written: WrittenBundle | undefined;
  /**
   * The write's own failure (a full disk): commit records it instead of failing the images,
   * which all arrived in the cache; the caller reports it.
   */
  writeError: unknown;
  private plans: readonly ImagePlan[] = [];
  private readonly configured = new Set<ImagePlan>();
  private readonly slots = new Map<string, Slot>();
  /** digest -> whether this copy put it into the cache just now (and so verified it). */
  private readonly have = new Map<string, boolean>();
  private abandoned = false;
  private writing: Promise<WrittenBundle> | undefined;

  constructor(
    private readonly cache: ImageSink,
    private readonly write: BundleWrite,
    out: string,
  ) {
    this.description = out;
    this.concurrency = cache.concurrency;
  }

  private slot(digest: string): Slot {
    let s = this.slots.get(digest);
    if (!s) {
      let resolve!: (fresh: boolean) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<boolean>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => undefined);
      s = { promise, resolve, reject };
      this.slots.set(digest, s);
    }
    return s;
  }

  private readonly ready = (digest: string): Promise<boolean> => {
    const fresh = this.have.get(digest);
    if (fresh !== undefined) return Promise.resolve(fresh);
    if (this.abandoned) return Promise.reject(new Abandoned('the bundle write was abandoned'));
    return this.slot(digest).promise;
  };

  async prepare(plans: readonly ImagePlan[]): Promise<void> {
    this.plans = plans;
    await this.cache.prepare?.(plans);
  }

  configsIn(plan: ImagePlan): void {
    this.configured.add(plan);
    if (this.abandoned || this.writing || this.configured.size < this.plans.length) return;
    this.writing = this.write([...this.plans], this.ready);
    this.writing.catch(() => undefined);
  }

  async putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    const outcome = await this.cache.putBlob(plan, blob, content, onBytes);
    const fresh = outcome === 'uploaded';
    this.have.set(blob.digest, fresh);
    this.slots.get(blob.digest)?.resolve(fresh);
    return outcome;
  }

  putManifest(plan: ImagePlan, m: PlannedManifest, tag: string | undefined): Promise<void> {
    return this.cache.putManifest(plan, m, tag);
  }

  async finishImage(): Promise<void> {}

  isFatal(err: unknown): boolean {
    return !!this.cache.isFatal?.(err);
  }

  imageFailed(): void {
    this.abandon();
  }

  private abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    for (const s of this.slots.values()) s.reject(new Abandoned('the bundle write was abandoned'));
  }

  /** Waits for the write; writes nothing when an image failed (the write was abandoned). */
  async commit(): Promise<void> {
    await this.cache.commit();
    if (this.abandoned) {
      await this.writing?.catch(() => undefined);
      return;
    }
    if (!this.writing) throw new FerryError('USAGE', `${this.description}: the bundle write never started (no image reached the cache)`);
    try {
      this.written = await this.writing;
    } catch (err) {
      this.writeError = err;
    }
  }

  async abort(): Promise<void> {
    this.abandon();
    await this.writing?.catch(() => undefined);
    await this.cache.abort();
  }
}
