/**
 * The ServedContent of one bundle's images (their plans), with the blobs read through a
 * BlobReader: straight from the bundle file for a seekable bundle (format 2, plain OCI-layout
 * tars: nothing copied, start-up reads only the table of contents and the manifests), or from
 * the blob cache for archives read through once with readIntoStore (older gzip bundles,
 * `docker save` tars, legacy ones included, whose manifests are synthesized as `ferry push`
 * does). Only the digests the bundle carries are served, never anything else the cache holds.
 */
import { synthesizeManifest } from '../bundle/synthesize.js';
import { planBlobs, type ImagePlan } from '../content/plan.js';
import type { Descriptor } from '../oci/manifest.js';
import type { Readable } from 'node:stream';
import type { BlobStore } from '../store/blob-store.js';
import type { Interpretation } from '../bundle/contents.js';
import type { ServedBlob, ServedContent, ServedManifest, ServedName } from './content.js';

/** The OCI 1.1 referrers descriptor of a manifest whose `subject` is set: its subject and descriptor, else undefined. */
export function referrerDescriptor(digest: string, mediaType: string, raw: Buffer): { subject: string; descriptor: Descriptor } | undefined {
  let doc: { subject?: { digest?: unknown }; artifactType?: unknown; config?: { mediaType?: unknown }; annotations?: unknown };
  try {
    doc = JSON.parse(raw.toString('utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const subject = doc.subject?.digest;
  if (typeof subject !== 'string') return undefined;
  const artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : typeof doc.config?.mediaType === 'string' ? doc.config.mediaType : undefined;
  const annotations = doc.annotations && typeof doc.annotations === 'object' ? (doc.annotations as Record<string, string>) : undefined;
  return { subject, descriptor: { mediaType, digest, size: raw.length, ...(artifactType ? { artifactType } : {}), ...(annotations ? { annotations } : {}) } };
}

/** Where the blob bytes come from (unverified: the Verifier checks them). */
export interface BlobReader {
  readRange(digest: string, start: number, end: number): Readable;
}

export class PlanContent implements ServedContent {
  private readonly served: ServedName[] = [];
  private readonly manifests = new Map<string, ServedManifest>();
  private readonly blobs = new Map<string, number>();
  private readonly bySubject = new Map<string, Descriptor[]>();

  /** `store` is needed only to synthesize the manifests of a legacy archive read into it. */
  constructor(
    private readonly reader: BlobReader,
    private readonly store?: BlobStore,
  ) {}

  /**
   * Adds the images of a bundle (its interpretation, checked); `source` names the bundle in
   * warnings. Synthesizes the manifests of a
   * legacy archive into the cache (`compressed` shares their gzipped layers between bundles).
   */
  async add(it: Interpretation, source: string, compressed: Map<string, Promise<Descriptor>> = new Map()): Promise<void> {
    for (const img of it.images) {
      // A legacy archive has no manifests: built as `ferry push` builds them (their digest is new).
      if (img.synthesized && (img.name || img.plan.ref.registry !== 'unnamed')) {
        if (!this.store) throw new Error(`${source}: a legacy archive is served from the cache`);
        await synthesizeManifest(img.plan, this.store, compressed);
      }
      this.addPlan(img.plan, img.name ? source : undefined);
    }
  }

  private addPlan(plan: ImagePlan, source: string | undefined): void {
    for (const m of plan.manifests) {
      this.manifests.set(m.digest, { mediaType: m.mediaType, bytes: m.raw });
      const r = referrerDescriptor(m.digest, m.mediaType, m.raw);
      if (r && !(this.bySubject.get(r.subject) ?? []).some((d) => d.digest === m.digest)) this.bySubject.set(r.subject, [...(this.bySubject.get(r.subject) ?? []), r.descriptor]);
    }
    for (const d of planBlobs(plan)) this.blobs.set(d.digest, d.size);
    if (!source || plan.ref.registry === 'unnamed') return;
    const { registry, repository } = plan.ref;
    this.served.push({ registry, repository, tag: plan.name ? plan.ref.tag : undefined, digest: plan.root.digest, source });
    for (const r of plan.referrers ?? []) if (r.tag) this.served.push({ registry, repository, tag: r.tag, digest: r.digest, source, referrer: true });
  }

  names(): readonly ServedName[] {
    return this.served;
  }

  async manifest(digest: string): Promise<ServedManifest | undefined> {
    return this.manifests.get(digest);
  }

  async blob(digest: string): Promise<ServedBlob | undefined> {
    const size = this.blobs.get(digest);
    if (size === undefined) return undefined;
    return { size, open: (start, end) => this.reader.readRange(digest, start, end) };
  }

  referrers(subject: string): readonly Descriptor[] {
    return this.bySubject.get(subject) ?? [];
  }
}
