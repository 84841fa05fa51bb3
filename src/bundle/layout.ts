/**
 * The JSON documents of a bundle (docs/bundle-format.md): the OCI layout's `oci-layout` and
 * `index.json`, Docker's `manifest.json` and `repositories`, and ferry's own `ferry.json`.
 */
import { blobPath, digestHex } from '../digest/digest.js';
import { MediaType, zstdLayerNote } from '../oci/media-types.js';
import { formatPlatform, platformMatches, type PlatformSpec } from '../oci/platform.js';
import { familiarName, parseReference } from '../reference/parse-reference.js';
import type { Descriptor } from '../oci/manifest.js';
import type { ImagePlan, PlatformImage } from '../content/plan.js';
import { planSize } from '../content/plan.js';

export const OCI_LAYOUT = 'oci-layout';
export const INDEX_JSON = 'index.json';
export const MANIFEST_JSON = 'manifest.json';
export const REPOSITORIES = 'repositories';
export const FERRY_JSON = 'ferry.json';
export const FORMAT_VERSION = 2;

/** The JSON documents of a bundle or image archive (everything that is not a blob or layer). */
export const BUNDLE_DOCUMENTS: ReadonlySet<string> = new Set([OCI_LAYOUT, INDEX_JSON, MANIFEST_JSON, REPOSITORIES, FERRY_JSON]);

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface DockerManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

export interface FerryMetadata {
  ferryBundleVersion: number;
  tool: string;
  created: string;
  /** sha256 of the lock file the bundle was exported for (ferry export), to detect changes. */
  lock?: string;
  /** The export options that shape the bundle (ferry export), to detect changes. */
  settings?: BundleSettings;
  images: FerryImageMetadata[];
}

/** What besides the lock decides a bundle's bytes: `export` rewrites when any of it changes. */
export interface BundleSettings {
  compression: string;
  /** false: --no-referrers; else the images whose referrers are left out (`referrers: false`). */
  referrers: boolean | string[];
  nondistributable: boolean;
  /** Differential bundles: the sha256 of the inventory (`--have`) they were written against. */
  have?: string;
}

export interface FerryImageMetadata {
  reference: string;
  name: string | null;
  digest: string;
  mediaType: string;
  upstreamDigest: string;
  size: number;
  platforms: FerryPlatformMetadata[];
  /** The platform `docker load` gets (manifest.json), or null when none is loadable. */
  dockerLoad: string | null;
  notes: string[];
  /** Signatures, attestations and SBOMs carried with the image (format 1, since ferry 0.2). */
  referrers?: FerryReferrerMetadata[];
  /** Non-distributable layers the bundle does not carry. */
  foreignLayers?: string[];
  /** Differential bundles: layers the receiving side has already, not carried (`--have`). */
  expectedLayers?: string[];
}

export interface FerryPlatformMetadata {
  platform: string;
  manifest: string;
  config: string;
  layers: { digest: string; size: number; mediaType: string }[];
  /** Present for artifacts (Helm charts, attestations): never in manifest.json. */
  kind?: 'artifact';
  artifactType?: string;
}

export interface FerryReferrerMetadata {
  digest: string;
  mediaType: string;
  size: number;
  artifactType: string | null;
  /** The manifest it refers to. */
  subject: string;
  /** The tag it is published under in the source (cosign's `.sig`, or the fallback `sha256-<hex>`). */
  tag: string | null;
}

/** The tag Docker shows for a bundle name: `docker.io/library/nginx:1.27` -> `nginx:1.27`. */
export function dockerTag(name: string): string {
  const ref = parseReference(name);
  return `${familiarName(ref)}:${ref.tag}`;
}

/**
 * The platform image that manifest.json lists for `docker load`: the preferred platform if kept.
 * Only container images whose every layer is in the bundle qualify: never an artifact (a Helm
 * chart, a signature), which `docker load` cannot take, nor an image missing a foreign layer.
 */
export function dockerLoadImage(plan: ImagePlan, prefer: readonly PlatformSpec[]): PlatformImage | undefined {
  // A differential bundle keeps its images here: `docker load` then reuses the layer the engine holds, or fails on it.
  const foreign = plan.foreign ?? [];
  const loadable = plan.images.filter((i) => i.kind === 'image' && !i.layers.some((l) => foreign.includes(l.digest)));
  for (const p of plan.prefer ?? prefer) {
    const hit = loadable.find((i) => platformMatches(p, i.platform));
    if (hit) return hit;
  }
  return loadable.find((i) => !i.platform || (i.platform.os !== 'unknown' && i.platform.architecture !== 'unknown'));
}

export function ociLayout(): string {
  return JSON.stringify({ imageLayoutVersion: '1.0.0' });
}

/** index.json: one descriptor per image, named with the containerd and OCI annotations. */
export function indexJson(plans: readonly ImagePlan[]): string {
  const manifests: Descriptor[] = plans.map((p) => {
    const annotations: Record<string, string> = {};
    if (p.name) {
      annotations[ANNOTATION_IMAGE_NAME] = p.name;
      annotations[ANNOTATION_REF_NAME] = parseReference(p.name).tag ?? '';
    } else {
      annotations[ANNOTATION_IMAGE_NAME] = `${p.ref.registry}/${p.ref.repository}@${p.root.digest}`;
    }
    return { mediaType: p.root.mediaType, digest: p.root.digest, size: p.root.size, annotations };
  });
  return JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }, null, 2);
}

/** manifest.json for `docker load`, pointing at the same blobs/sha256 paths. */
export function dockerManifestJson(plans: readonly ImagePlan[], prefer: readonly PlatformSpec[]): { json: string; repositories: string } {
  const entries: DockerManifestEntry[] = [];
  const repos: Record<string, Record<string, string>> = {};
  for (const p of plans) {
    const img = dockerLoadImage(p, prefer);
    if (!img) continue;
    const tags: string[] = [];
    if (p.name) {
      const ref = parseReference(p.name);
      const familiar = familiarName(ref);
      tags.push(dockerTag(p.name));
      const lastLayer = img.layers[img.layers.length - 1];
      (repos[familiar] ??= {})[ref.tag!] = lastLayer ? digestHex(lastLayer.digest) : digestHex(img.config.digest);
    }
    entries.push({ Config: blobPath(img.config.digest), RepoTags: tags, Layers: img.layers.map((l) => blobPath(l.digest)) });
  }
  return { json: JSON.stringify(entries), repositories: JSON.stringify(repos) };
}

/** ferry.json: what the bundle holds, written before the blobs so a reader knows what to expect. */
export function ferryMetadata(plans: readonly ImagePlan[], prefer: readonly PlatformSpec[], tool: string, created: Date, lock?: string, settings?: BundleSettings): FerryMetadata {
  return {
    ferryBundleVersion: FORMAT_VERSION,
    tool,
    created: created.toISOString(),
    ...(lock ? { lock } : {}),
    ...(settings ? { settings } : {}),
    images: plans.map((p) => {
      const load = dockerLoadImage(p, prefer);
      return {
        reference: p.request,
        name: p.name ?? null,
        digest: p.root.digest,
        mediaType: p.root.mediaType,
        upstreamDigest: p.upstreamDigest,
        size: planSize(p),
        platforms: p.images.map((i) => ({
          platform: formatPlatform(i.platform),
          manifest: i.manifest.digest,
          config: i.config.digest,
          layers: i.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
          ...(i.kind === 'artifact' ? { kind: 'artifact' as const, ...(i.artifactType ? { artifactType: i.artifactType } : {}) } : {}),
        })),
        dockerLoad: load ? load.manifest.digest : null,
        notes: p.notes,
        ...(p.referrers?.length ? { referrers: p.referrers.map((r) => ({ digest: r.digest, mediaType: r.mediaType, size: r.size, artifactType: r.artifactType ?? null, subject: r.subject, tag: r.tag ?? null })) } : {}),
        ...(p.foreign?.length ? { foreignLayers: p.foreign } : {}),
        ...(p.expected?.length ? { expectedLayers: p.expected } : {}),
      };
    }),
  };
}

/** The warning for a bundle whose docker-load view holds zstd layers (Docker before 23 cannot load them), or undefined. */
export function dockerLoadZstdNote(plans: readonly ImagePlan[], prefer: readonly PlatformSpec[]): string | undefined {
  return zstdLayerNote(plans.map((p) => ({ reference: p.request, layers: dockerLoadImage(p, prefer)?.layers ?? [] })));
}
