/**
 * A `docker load` archive as an ImageSink (content/image-sink.ts): a plain tar written to a
 * stream, as `docker save` writes one — each blob as a `blobs/sha256/<hex>` entry, then
 * manifest.json (Config, RepoTags, Layers per image) and the tar's end blocks. `ferry load`
 * pipes it into the engine (docker-engine/engine.ts `load`) while the copy engine fills it.
 * - concurrency 1: one tar entry at a time, in the order the engine hands the blobs;
 * - putBlob writes the header, then the engine's verified content as it streams (its last
 *   chunk held back until size and digest matched), then the padding: a wrong blob never
 *   ends its entry, and the copy fails;
 * - the root of each image is its config: finishImage adds its manifest.json entry, commit
 *   writes manifest.json and the end of the tar and ends the stream;
 * - abort destroys the stream: the engine, which unpacks the whole archive before it loads
 *   anything, then loads nothing.
 * Headers are tar-header.ts's (byte-equal to tar-stream's ustar headers).
 */
import { PassThrough, type Readable } from 'node:stream';
import { FerryError, wrap } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan } from '../content/plan.js';
import { MANIFEST_JSON, type DockerManifestEntry } from './layout.js';
import { TAR_END, tarHeader, tarPadding } from './tar-header.js';
import { writeChunk } from '../util/streams.js';
import { releaseView } from './stored-runs.js';

export interface DockerArchiveOptions {
  /** The tags the engine gives an image (`docker.io/library/x:1` as `x:1`); none loads it untagged. */
  repoTags(plan: ImagePlan): string[];
  /** Where a blob is read from, for messages when it fails (a --base bundle); undefined: the source's own description. */
  origin?(digest: string): string | undefined;
  /** The entries' modification time (default: the epoch, as the bundle writer's). */
  mtime?: Date;
  /** Bytes the stream buffers before writers wait (default 2 MiB). */
  highWaterMark?: number;
  /** Bytes gathered into one write of the stream (default 1 MiB). */
  writeSize?: number;
}

export class DockerArchiveSink implements ImageSink {
  readonly description: string;
  readonly concurrency = 1;
  /** The archive: pipe it to the engine. It fails (is destroyed) when the copy aborts. */
  readonly stream: Readable;
  private readonly out: PassThrough;
  private readonly entries: DockerManifestEntry[] = [];
  private readonly mtime: Date;
  private readonly writeSize: number;
  private ended = false;
  private aborted = false;
  private consumerGone = false;

  constructor(
    description: string,
    private readonly opts: DockerArchiveOptions,
  ) {
    this.description = description;
    this.mtime = opts.mtime ?? new Date(0);
    this.writeSize = opts.writeSize ?? 1024 * 1024;
    this.out = new PassThrough({ highWaterMark: opts.highWaterMark ?? 2 * 1024 * 1024 });
    // A consumer that goes away (the engine connection cut) closes the stream before its end.
    this.out.once('close', () => {
      if (!this.ended && !this.aborted) this.consumerGone = true;
    });
    // abort's error is for the reader; with none attached yet it must not go uncaught.
    this.out.on('error', () => undefined);
    this.stream = this.out;
  }

  /** Whether the stream's reader closed it before the archive ended (not abort): the reader's failure is then the one to report. */
  get closedEarly(): boolean {
    return this.consumerGone || (this.out.destroyed && !this.ended && !this.aborted);
  }

  /** Bytes waiting to go out as one write (see `write`). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /**
   * Queues `chunk`; writes what is queued once it reaches the write size. The content comes as
   * views of up to 64 KiB (a stored layer's runs); the engine reads the upload faster in
   * bigger pieces. The views are copied into the write (and handed back to their reader's
   * pool), unless one alone fills it.
   */
  private async write(chunk: Buffer): Promise<void> {
    if (this.out.destroyed) throw new Error('the destination stream was closed');
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.writeSize) await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.pendingBytes) return;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    // What was copied is no longer held: a stored member's read buffers are reused (stored-runs.ts).
    if (this.pending.length > 1) for (const c of this.pending) releaseView(c);
    this.pending = [];
    this.pendingBytes = 0;
    await writeChunk(this.out, buf);
  }

  async putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    const name = blobPath(blob.digest);
    await this.write(tarHeader(name, blob.size, this.mtime));
    const body = content.open(0, blob.size - 1);
    const chunks = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<Buffer>;
        try {
          next = await chunks.next();
        } catch (err) {
          // The content failed (a wrong blob, a read error): its entry never ends.
          const origin = this.opts.origin?.(blob.digest);
          throw origin ? wrap(`reading ${blob.digest} from ${origin}`, err, 'BUNDLE_FORMAT') : err;
        }
        if (next.done) break;
        await this.write(next.value);
        onBytes(next.value.length);
      }
    } finally {
      body.destroy();
    }
    const pad = tarPadding(blob.size);
    if (pad) await this.write(Buffer.alloc(pad));
    return 'uploaded';
  }

  /** A docker-load archive carries no manifests: the image is its config and layers. */
  async putManifest(): Promise<void> {}

  async finishImage(plan: ImagePlan): Promise<void> {
    const img = plan.images[0];
    if (!img || plan.images.length !== 1) throw new FerryError('USAGE', `${plan.request}: a docker-load archive takes one platform image per plan, not ${plan.images.length}`);
    this.entries.push({ Config: blobPath(img.config.digest), RepoTags: this.opts.repoTags(plan), Layers: img.layers.map((l) => blobPath(l.digest)) });
  }

  async commit(): Promise<void> {
    const doc = Buffer.from(JSON.stringify(this.entries));
    await this.write(tarHeader(MANIFEST_JSON, doc.length, this.mtime));
    await this.write(doc);
    const pad = tarPadding(doc.length);
    await this.write(Buffer.concat([Buffer.alloc(pad), TAR_END]));
    await this.flush();
    this.ended = true;
    this.out.end();
  }

  async abort(): Promise<void> {
    if (this.ended || this.out.destroyed) return;
    this.aborted = true;
    this.pending = [];
    this.pendingBytes = 0;
    // Destroyed with an error, so a reader sees a failed stream, never a short clean one.
    this.out.destroy(new FerryError('IO', `${this.description}: the archive was not finished`));
  }
}
