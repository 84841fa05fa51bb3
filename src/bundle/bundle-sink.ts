/**
 * A bundle as the copy engine's sink (`save`, `export`): blobs go into the cache (`cache`, the
 * StoreSink), and the bundle writer follows it, so the bundle is written while the layers still
 * download. The writer (`write`) starts once every image's configs are in and its plan is
 * complete (the bundle's head names every image and platform), then takes each blob as soon
 * as the cache has it, in the bundle's fixed order, so the bytes are the same as a write after
 * the pull. A blob the engine verified into the cache just now is not hashed again; one that
 * was there before is checked again as it is copied (bundle/writer.ts). The bytes of a small
 * blob that arrived just now are kept as they passed to the cache (up to HELD_BYTES in all,
 * until the writer takes them: `take`), so the writer does not read it back from the cache.
 *
 * When an image fails, the write is abandoned (the writer removes its partial file) and commit
 * writes nothing: the caller decides (fail, or export --keep-going, which writes the images that
 * arrived with a second copy from the cache). A failure of the write itself is kept in
 * `writeError` (the images did arrive).
 */
import { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import type { WrittenBundle } from './writer.js';

/**
 * Writes the bundle of `plans`; `ready(digest)` resolves when the blob is in the cache (true:
 * verified just now) and rejects when the write is abandoned; `take(digest)` hands over (once)
 * the bytes of a blob verified just now when the sink kept them, else undefined.
 */
export type BundleWrite = (plans: ImagePlan[], ready: (digest: string) => Promise<boolean>, take: (digest: string) => Buffer | undefined) => Promise<WrittenBundle>;

/** Blobs up to this size have their bytes kept for the writer as they arrive... */
export const HELD_BLOB = 1024 * 1024;
/** ...while the kept bytes stay under this in all (more are read back from the cache). */
export const HELD_BYTES = 32 * 1024 * 1024;

class Abandoned extends Error {}

interface Slot {
  promise: Promise<boolean>;
  resolve: (fresh: boolean) => void;
  reject: (e: unknown) => void;
}

export class BundleSink implements ImageSink {
  readonly description: string;
  readonly concurrency: number;
  readonly blobsBeforePrepare: boolean;
  /** The bundle, once commit wrote it. */
  written: WrittenBundle | undefined;
  /**
   * The write's own failure (a full disk): commit records it instead of failing the images,
   * which all arrived in the cache; the caller reports it.
   */
  writeError: unknown;
  /** Every plan, once prepare has them (blobs may come before: blobsBeforePrepare). */
  private plans: readonly ImagePlan[] | undefined;
  private readonly configured = new Set<ImagePlan>();
  private readonly slots = new Map<string, Slot>();
  /** digest -> whether this copy put it into the cache just now (and so verified it). */
  private readonly have = new Map<string, boolean>();
  /** Bytes of small blobs verified into the cache just now, until the writer takes them. */
  private readonly held = new Map<string, Buffer>();
  private heldBytes = 0;
  private abandoned = false;
  private writing: Promise<WrittenBundle> | undefined;

  constructor(
    private readonly cache: ImageSink,
    private readonly write: BundleWrite,
    out: string,
  ) {
    this.description = out;
    this.concurrency = cache.concurrency;
    this.blobsBeforePrepare = !!cache.blobsBeforePrepare;
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
    await this.cache.prepare?.(plans);
    this.plans = plans;
    this.startWhenConfigured();
  }

  /** An image did not resolve: the bundle cannot hold every image, so it is not written. */
  planMissing(): void {
    this.abandon();
  }

  configsIn(plan: ImagePlan): void {
    this.configured.add(plan);
    this.startWhenConfigured();
  }

  /** Starts the writer once every plan is known and every image's configs are in. */
  private startWhenConfigured(): void {
    const plans = this.plans;
    if (!plans?.length || this.abandoned || this.writing || !plans.every((p) => this.configured.has(p))) return;
    this.writing = this.write([...plans], this.ready, this.take);
    this.writing.catch(() => undefined);
  }

  private readonly take = (digest: string): Buffer | undefined => {
    const b = this.held.get(digest);
    if (!b) return undefined;
    this.held.delete(digest);
    this.heldBytes -= b.length;
    return b;
  };

  /**
   * The content with the bytes of its last read from byte 0 kept in `kept` (a retry starts
   * over), for a small blob while there is room; else the content as it is.
   */
  private keeping(blob: Descriptor, content: BlobContent, kept: Buffer[][]): BlobContent {
    if (blob.size > HELD_BLOB || this.heldBytes + blob.size > HELD_BYTES || this.abandoned) return content;
    return {
      open: (start, end, opts) => {
        const body = content.open(start, end, opts);
        if (start !== 0) return body;
        const chunks: Buffer[] = [];
        kept[0] = chunks;
        return Readable.from((async function* () {
          for await (const c of body as AsyncIterable<Buffer>) {
            chunks.push(c);
            yield c;
          }
        })(), { objectMode: false });
      },
    };
  }

  async putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    const kept: Buffer[][] = [];
    const outcome = await this.cache.putBlob(plan, blob, this.keeping(blob, content, kept), onBytes);
    const fresh = outcome === 'uploaded';
    // Only bytes that ended cleanly (verified) and are the whole blob are kept.
    if (fresh && kept[0] && !this.abandoned && !this.held.has(blob.digest) && this.heldBytes + blob.size <= HELD_BYTES) {
      const bytes = Buffer.concat(kept[0]);
      if (bytes.length === blob.size) {
        this.held.set(blob.digest, bytes);
        this.heldBytes += bytes.length;
      }
    }
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
    this.held.clear();
    this.heldBytes = 0;
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
    } finally {
      this.held.clear();
      this.heldBytes = 0;
    }
  }

  async abort(): Promise<void> {
    this.abandon();
    await this.writing?.catch(() => undefined);
    await this.cache.abort();
  }
}
