/**
 * The image plan: everything the copy needs to know about one image before any blob moves —
 * the raw manifest and index bytes, and the descriptors of every config and layer. Sources
 * (registry, bundle) produce plans; sinks (bundle writer, registry push, docker engine) consume
 * them together with a BlobStore that holds the verified blobs.
 */
import type { Reference } from '../reference/parse-reference.js';
import type { Descriptor, Platform } from '../oci/manifest.js';
import type { PlatformSpec } from '../oci/platform.js';

export interface PlannedManifest {
  digest: string;
  mediaType: string;
  raw: Buffer;
}

export interface PlatformImage {
  platform: Platform | undefined;
  /** The platform manifest's descriptor. */
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImagePlan {
  /** The reference as the user wrote it. */
  request: string;
  /** Parsed and normalised reference. */
  ref: Reference;
  /** Name the image gets in the bundle (normalised, with tag), or undefined for digest-only. */
  name: string | undefined;
  /** The descriptor written to index.json: the kept index, or the single kept manifest. */
  root: Descriptor;
  /** The digest the registry resolved the reference to (the index digest for multi-arch images). */
  upstreamDigest: string;
  /** Every manifest and index to carry, children before parents (push order). */
  manifests: PlannedManifest[];
  /** One entry per kept platform, in index order. */
  images: PlatformImage[];
  /** Warnings for the user: digests that could not be kept, unusual media types. */
  notes: string[];
  /** Platforms this image prefers for the docker-load view (its own requested platforms). */
  prefer?: PlatformSpec[];
}

/** Every blob (config and layer) the plan needs, each once. */
export function planBlobs(plan: ImagePlan): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const img of plan.images) {
    for (const d of [img.config, ...img.layers]) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push(d);
    }
  }
  return out;
}

/** Total bytes of a plan's blobs and manifests. */
export function planSize(plan: ImagePlan): number {
  return planBlobs(plan).reduce((n, d) => n + d.size, 0) + plan.manifests.reduce((n, m) => n + m.raw.length, 0);
}

/** Bytes of the distinct config and layer blobs of several plans (what a bundle copies). */
export function uniqueBlobBytes(plans: readonly ImagePlan[]): number {
  const seen = new Map<string, number>();
  for (const p of plans) for (const d of planBlobs(p)) seen.set(d.digest, d.size);
  let n = 0;
  for (const s of seen.values()) n += s;
  return n;
}
