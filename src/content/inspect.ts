/**
 * An ImagePlan (from a registry, a layout or a bundle) as what `ferry inspect` shows: the
 * platform image chosen, its manifest parsed from the plan's raw bytes, its config read through
 * the caller (the only blob read), then oci/inspect-view.ts. The same for every place, so the
 * inspect of a bundle entry equals the inspect of the registry image it came from.
 */
import { FerryError } from '../errors.js';
import type { Descriptor, ImageManifest } from '../oci/manifest.js';
import { parseManifest } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { inspectView, type InspectView } from '../oci/inspect-view.js';
import { DEFAULT_PLATFORM, formatPlatform, parsePlatform, platformMatches, requirePlatform } from '../oci/platform.js';
import { parseImageConfig } from '../oci/config.js';
import type { ImagePlan, PlatformImage } from './plan.js';

const isAttestation = (i: PlatformImage): boolean => i.platform?.os === 'unknown' || i.platform?.architecture === 'unknown';

/**
 * The platform image to show: the one `platform` names, else the only one, else linux/amd64,
 * else the first that is not an attestation. Throws NOT_FOUND when `platform` names none.
 */
export function chooseImage(plan: ImagePlan, platform: string | undefined): PlatformImage {
  const images = plan.images;
  if (platform !== undefined) {
    const want = parsePlatform(platform);
    if (images.length === 1 && !images[0]!.platform) return images[0]!;
    const hit = images.find((i) => !isAttestation(i) && platformMatches(want, i.platform));
    if (hit) return hit;
    throw new FerryError('NOT_FOUND', `${plan.request}: no manifest for platform ${platform} (the image has: ${images.filter((i) => !isAttestation(i)).map((i) => formatPlatform(i.platform)).join(', ')})`, {
      hint: 'choose one of the listed platforms with --platform',
    });
  }
  if (images.length === 1) return images[0]!;
  const def = parsePlatform(DEFAULT_PLATFORM);
  const found = images.find((i) => platformMatches(def, i.platform)) ?? images.find((i) => !isAttestation(i)) ?? images[0];
  if (!found) throw new FerryError('NOT_FOUND', `${plan.request}: the index lists no manifest`);
  return found;
}

/** The raw bytes of a manifest of the plan (the plan always carries them). */
export function planManifestRaw(plan: ImagePlan, digest: string): Buffer {
  if (plan.manifests.length === 0) {
    throw new FerryError('UNSUPPORTED', `${plan.request}: a legacy docker save archive holds no registry manifest, so there are no manifest bytes to print`, { hint: 'inspect it without --raw, or print its config with --config' });
  }
  const m = plan.manifests.find((x) => x.digest === digest);
  if (!m) throw new FerryError('NOT_FOUND', `${plan.request}: manifest ${digest} is not available`);
  return m.raw;
}

export interface InspectOptions {
  platform: string | undefined;
  /** Reads a config blob (verified); undefined when it cannot be had (a legacy archive's is always there). */
  readConfig: (config: Descriptor) => Promise<Buffer | undefined>;
}

/** Builds the inspect view of a plan. Throws NOT_FOUND for a platform it lacks. */
export async function inspectPlan(plan: ImagePlan, opts: InspectOptions): Promise<{ view: InspectView; image: PlatformImage; config: Buffer | undefined }> {
  const image = chooseImage(plan, opts.platform);
  const config = await opts.readConfig(image.config);
  if (opts.platform !== undefined && !image.platform && config) {
    requirePlatform(parseImageConfig(config)?.platform, { all: false, platforms: [parsePlatform(opts.platform)] });
  }
  // A legacy `docker save` archive has no registry manifest: show what it lists (config, layers).
  const legacy = plan.manifests.length === 0;
  const raw = legacy ? undefined : planManifestRaw(plan, image.manifest.digest);
  const parsed: ImageManifest | ReturnType<typeof parseManifest> = raw
    ? parseManifest(raw, image.manifest.mediaType, `${plan.request}: manifest ${image.manifest.digest}`)
    : { kind: 'manifest', mediaType: MediaType.dockerManifest, config: image.config, layers: image.layers };
  if (parsed.kind !== 'manifest') throw new FerryError('UNSUPPORTED', `${plan.request}: ${image.manifest.digest} is an index where a manifest was expected`);
  const isIndex = plan.root.digest !== image.manifest.digest;
  const ref = plan.ref;
  const named = ref.registry !== 'unnamed';
  const view = inspectView({
    name: plan.name ?? (named ? `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}` : undefined),
    repoTag: named && ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined,
    repository: named ? `${ref.registry}/${ref.repository}` : undefined,
    top: { digest: plan.root.digest, mediaType: plan.root.mediaType },
    platforms: isIndex ? plan.images.map((i) => i.manifest) : [],
    manifest: { descriptor: { ...image.manifest, size: raw?.length ?? image.manifest.size }, parsed, platform: image.platform },
    config,
    referrers: (plan.referrers ?? []).map((r) => ({ digest: r.digest, mediaType: r.mediaType, artifactType: r.artifactType, subject: r.subject, tag: r.tag })),
  });
  return { view, image, config };
}
