/**
 * The image plan: everything the copy needs to know about one image before any blob moves —
 * the raw manifest and index bytes, and the descriptors of every config and layer. Sources
 * (registry, bundle) produce plans; sinks (bundle writer, registry push, docker engine) consume
 * them together with a BlobStore that holds the verified blobs.
 */
import type { Reference } from '../reference/parse-reference.js';
import type { Descriptor, ImageManifest, Platform } from '../oci/manifest.js';
import type { PlatformSpec } from '../oci/platform.js';
import { MediaType, isFilesystemLayerType, isImageConfigType } from '../oci/media-types.js';

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
  /**
   * 'image': a container image (an image config and filesystem layers), for `docker load` and
   * the diff_id checks. 'artifact': anything else a manifest can carry (a Helm chart, an
   * `artifactType` with the empty config, a signature, an attestation, an SBOM), carried and
   * verified by digest only.
   */
  kind: 'image' | 'artifact';
  artifactType?: string;
}

/** A manifest that refers to one of the plan's manifests (OCI 1.1 `subject`, or cosign's tags). */
export interface PlannedReferrer {
  /** The referrer manifest (its bytes are in `manifests`). */
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | undefined;
  /** The manifest it refers to. */
  subject: string;
  /** The tag it was found under (cosign's `sha256-<hex>.sig`, or the referrers tag schema's `sha256-<hex>`), if any. */
  tag: string | undefined;
  /** Its config and layers, when it is a manifest (not the fallback tag's index). */
  image: PlatformImage | undefined;
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
  /** Signatures, attestations and SBOMs of the image (their manifests are in `manifests`). */
  referrers?: PlannedReferrer[];
  /** Digests of non-distributable layers that are not carried (see media-types isForeignLayerType). */
  foreign?: string[];
  /**
   * Differential bundles (`--have`): digests of layers the receiving side has already, so the
   * bundle does not carry them; a push checks that the target holds them before any manifest.
   */
  expected?: string[];
}

/** Whether a manifest is a container image or an artifact (see PlatformImage.kind). */
export function manifestKind(config: Descriptor, layers: readonly Descriptor[], platform: Platform | undefined, artifactType: string | undefined): 'image' | 'artifact' {
  if (artifactType !== undefined) return 'artifact';
  if (!isImageConfigType(config.mediaType)) return 'artifact';
  if (!layers.every((l) => isFilesystemLayerType(l.mediaType))) return 'artifact';
  if (platform && (platform.os === 'unknown' || platform.architecture === 'unknown')) return 'artifact';
  return 'image';
}

/** The layers of an image that the plan carries: all but skipped foreign ones and, in a differential bundle, the expected ones. */
export function carriedLayers(plan: ImagePlan, img: PlatformImage): Descriptor[] {
  const skip = [...(plan.foreign ?? []), ...(plan.expected ?? [])];
  return skip.length ? img.layers.filter((l) => !skip.includes(l.digest)) : img.layers;
}

/** The plan's manifests as PlatformImages: its images and artifacts, then its referrers'. */
export function planManifestImages(plan: ImagePlan): PlatformImage[] {
  return [...plan.images, ...(plan.referrers ?? []).flatMap((r) => (r.image ? [r.image] : []))];
}

/** Every blob (config and layer) the plan needs, each once: images', artifacts' and referrers'. */
export function planBlobs(plan: ImagePlan): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const img of planManifestImages(plan)) {
    for (const d of [img.config, ...carriedLayers(plan, img)]) {
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

/** A parsed manifest as a PlatformImage; `entry` is its descriptor in the parent index, if any. */
export function platformImageOf(m: ImageManifest, manifest: Descriptor, entry: Descriptor | undefined): PlatformImage {
  const platform = entry?.platform;
  const artifactType = m.artifactType ?? entry?.artifactType;
  const kind = manifestKind(m.config, m.layers, platform, artifactType);
  // Without an artifactType, OCI says the config's type names the artifact; when that config
  // is an image config or the empty one (cosign's signatures), the first layer's type says more.
  const generic = isImageConfigType(m.config.mediaType) || m.config.mediaType === MediaType.ociEmpty;
  const type = artifactType ?? (kind === 'artifact' ? (generic ? (m.layers[0]?.mediaType ?? m.config.mediaType) : m.config.mediaType) : undefined);
  return {
    platform,
    manifest: entry ? { ...entry, mediaType: m.mediaType } : manifest,
    config: m.config,
    layers: m.layers,
    kind,
    ...(type !== undefined ? { artifactType: type } : {}),
  };
}
