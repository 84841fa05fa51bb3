/**
 * An OCI image layout directory as an ImageSink: blobs are written to
 * `blobs/sha256/<hex>.<pid>.partial` and renamed into place only when their stream ended
 * verified; manifests likewise; index.json is replaced atomically at commit, keeping the
 * entries of other names (a layout may hold many images). The image gets the destination's
 * name (ref.name); referrers get their tags as names, or no name. One writer at a time: the
 * layout's `index.json.lock` is held from the first write to the commit.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { ioError } from '../fs/io-error.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { removeOnInterrupt } from '../process/interrupt.js';
import { acquireLock, type Lock } from '../store/lock.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import { REF_NAME, blobFile, readLayoutIndex } from './layout-dir.js';

let counter = 0;

export class OciLayoutSink implements ImageSink {
  readonly description: string;
  readonly concurrency = 4;
  private lock: Lock | undefined;
  /** index.json entries to add, by name ('' for unnamed referrers, keyed by digest). */
  private readonly entries = new Map<string, Descriptor>();

  /**
   * `name`: the name the (one) image gets; undefined: its tag, or with `several` images its
   * repository and tag (`team/app:1.0`), so that images with the same tag keep apart.
   */
  constructor(
    readonly dir: string,
    private readonly name: string | undefined,
    private readonly several = false,
  ) {
    this.description = `oci:${dir}`;
  }

  /** Creates the layout's directories and takes its lock; call before the first write. */
  async open(): Promise<void> {
    try {
      await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    } catch (err) {
      throw ioError('creating the OCI layout', this.dir, err);
    }
    this.lock = await acquireLock(join(this.dir, 'index.json.lock'), `OCI layout ${this.dir}`, 0);
  }

  private async write(digest: string, size: number, body: () => NodeJS.ReadableStream | Buffer): Promise<BlobOutcome> {
    const file = blobFile(this.dir, digest);
    if ((await stat(file).catch(() => undefined))?.size === size) return 'exists';
    const tmp = `${file}.${process.pid}.${++counter}.partial`;
    const forget = removeOnInterrupt(tmp);
    try {
      const src = body();
      if (Buffer.isBuffer(src)) await writeFileAtomic(file, src, { what: 'blob' });
      else {
        await pipeline(src, createWriteStream(tmp));
        await rename(tmp, file);
      }
      return 'uploaded';
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw ioError('writing into the OCI layout', this.dir, err);
    } finally {
      forget();
    }
  }

  putBlob(_plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    return this.write(blob.digest, blob.size, () => {
      const s = content.open(0, Math.max(0, blob.size - 1));
      s.on('data', (c: Buffer) => onBytes(c.length));
      return s;
    });
  }

  async putManifest(plan: ImagePlan, m: PlannedManifest, tag: string | undefined): Promise<void> {
    await this.write(m.digest, m.raw.length, () => m.raw);
    const desc: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.raw.length };
    if (m.digest === plan.root.digest) {
      const name = this.nameOf(plan);
      this.entries.set(name, { ...desc, annotations: { [REF_NAME]: name } });
    } else if (tag !== undefined) {
      this.entries.set(tag, { ...desc, annotations: { [REF_NAME]: tag } });
    } else if (plan.referrers?.some((r) => r.digest === m.digest)) {
      this.entries.set(`@${m.digest}`, desc);
    }
  }

  /** The name (ref.name) an image gets in the layout. */
  nameOf(plan: ImagePlan): string {
    const tag = plan.ref.tag ?? 'latest';
    return this.name ?? (this.several ? `${plan.ref.repository}:${tag}` : tag);
  }

  async finishImage(): Promise<void> {}

  async commit(): Promise<void> {
    try {
      const old = await readLayoutIndex(this.dir, true);
      const names = new Set([...this.entries.values()].map((e) => e.annotations?.[REF_NAME]).filter(Boolean));
      const digests = new Set([...this.entries.values()].map((e) => e.digest));
      const kept = old.filter((e) => !(e.annotations?.[REF_NAME] ? names.has(e.annotations[REF_NAME]) : digests.has(e.digest)));
      const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [...kept, ...this.entries.values()] };
      await writeFileAtomic(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }), { what: 'the OCI layout marker' });
      await writeFileAtomic(join(this.dir, 'index.json'), JSON.stringify(index, null, 2), { what: 'the OCI layout index' });
    } finally {
      await this.lock?.release();
    }
  }

  async abort(): Promise<void> {
    await this.lock?.release();
  }
}
