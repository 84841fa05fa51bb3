/**
 * Interprets what an archive held: a ferry bundle or any OCI image layout (index.json, with the
 * original manifests), or a legacy `docker save` archive (manifest.json only, no manifests).
 * Produces one ArchiveImage per image with its plan; checks that every descriptor a manifest
 * or index references is present. Problems are collected, not thrown, so `verify` can list them.
 */
import { FerryError } from '../errors.js';
import { blobPath } from '../digest/digest.js';
import { parseManifest, type Descriptor, type ImageManifest, type Platform } from '../oci/manifest.js';
import { MediaType, isForeignLayerType, isIndexType } from '../oci/media-types.js';
import { parseReference, type Reference } from '../reference/parse-reference.js';
import { platformImageOf, type ImagePlan, type PlannedManifest, type PlannedReferrer, type PlatformImage } from '../content/plan.js';
import type { ArchiveContents, ArchiveFile } from './reader.js';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, FERRY_JSON, INDEX_JSON, MANIFEST_JSON, type DockerManifestEntry, type FerryMetadata } from './layout.js';
import { parseImageConfig } from '../oci/config.js';

export type ArchiveKind = 'ferry' | 'oci-layout' | 'docker-legacy';

export interface ArchiveImage {
  /** Full normalised name, or undefined for an unnamed image. */
  name: string | undefined;
  plan: ImagePlan;
  /** True when the archive lacks the original manifests: a push must build new ones. */
  synthesized: boolean;
}

export interface Interpretation {
  kind: ArchiveKind;
  images: ArchiveImage[];
  metadata: FerryMetadata | undefined;
  docker: DockerManifestEntry[] | undefined;
  /** Problems found: missing blobs, disagreeing documents. Empty when all is well. */
  problems: string[];
}

function json<T>(contents: ArchiveContents, name: string): T | undefined {
  const buf = contents.small.get(name);
  if (!buf) return undefined;
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch (err) {
    throw new FerryError('BUNDLE_FORMAT', `bundle entry "${name}" is not valid JSON`, { cause: err });
  }
}

const UNNAMED: Reference = { registry: 'unnamed', repository: 'unnamed', tag: undefined, digest: undefined };

function refOf(name: string | undefined): Reference {
  if (!name) return UNNAMED;
  try {
    return parseReference(name);
  } catch {
    return UNNAMED;
  }
}

/** Builds the plans for an OCI image layout (ferry bundles and Docker 25+ archives). */
function fromOciLayout(contents: ArchiveContents, problems: string[]): ArchiveImage[] {
  const index = json<{ manifests?: unknown[] }>(contents, INDEX_JSON);
  if (!index || !Array.isArray(index.manifests)) throw new FerryError('BUNDLE_FORMAT', 'index.json has no manifests array');
  const top = parseManifest(contents.small.get(INDEX_JSON)!, MediaType.ociIndex, INDEX_JSON);
  if (top.kind !== 'index') throw new FerryError('BUNDLE_FORMAT', 'index.json is not an image index');
  const blob = (d: Descriptor, what: string): Buffer | undefined => {
    const f = contents.files.get(blobPath(d.digest));
    if (!f) {
      problems.push(`${what}: ${d.digest} is missing from the archive`);
      return undefined;
    }
    if (f.size !== d.size) problems.push(`${what}: ${d.digest} is ${f.size} bytes, its descriptor says ${d.size}`);
    return contents.small.get(blobPath(d.digest));
  };
  const metaImages = json<FerryMetadata>(contents, FERRY_JSON)?.images ?? [];
  return top.manifests.map((root) => {
    const ann = root.annotations ?? {};
    const refName = ann[ANNOTATION_REF_NAME];
    const name = ann[ANNOTATION_IMAGE_NAME] ?? (refName && refName.includes('/') ? refName : undefined);
    const label = name ?? root.digest;
    const meta = metaImages.find((m) => m.digest === root.digest);
    const foreign = new Set(meta?.foreignLayers ?? []);
    const expected = new Set(meta?.expectedLayers ?? []);
    const manifests: PlannedManifest[] = [];
    const images: PlatformImage[] = [];
    /** Parses a manifest or index blob; undefined (with the problem noted) when it is missing or bad. */
    const document = (d: Descriptor, what: string): { raw: Buffer; parsed: ReturnType<typeof parseManifest> } | undefined => {
      const raw = blob(d, `image ${label}: ${what}`);
      if (!raw) return undefined;
      try {
        return { raw, parsed: parseManifest(raw, d.mediaType, `image ${label}: ${what} ${d.digest}`) };
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
        return undefined;
      }
    };
    /** A manifest and its blobs; returns its PlatformImage. */
    const manifestImage = (d: Descriptor, parsed: ImageManifest, entry: Descriptor | undefined): PlatformImage => {
      const cfgRaw = blob(parsed.config, `image ${label}: config`);
      for (const l of parsed.layers) {
        // A non-distributable layer is not carried (see ferry.json foreignLayers, or any layout's foreign type).
        if (foreign.has(l.digest) || (isForeignLayerType(l.mediaType) && !contents.files.has(blobPath(l.digest)))) continue;
        // A differential bundle expects it on the receiving side (ferry.json expectedLayers).
        if (expected.has(l.digest) && !contents.files.has(blobPath(l.digest))) continue;
        blob(l, `image ${label}: layer`);
      }
      const img = platformImageOf(parsed, { ...d, mediaType: parsed.mediaType }, entry);
      if (!img.platform && cfgRaw && img.kind === 'image') {
        const cfg = parseImageConfig(cfgRaw);
        if (cfg) img.platform = cfg.platform;
        else problems.push(`image ${label}: config ${parsed.config.digest} is not valid JSON`);
      }
      return img;
    };
    /** Walks a manifest or an index of any depth; children first into `manifests`. */
    const walk = (d: Descriptor, entry: Descriptor | undefined, depth: number, top: boolean): void => {
      if (depth > 8) {
        problems.push(`image ${label}: indexes nest more than 8 deep`);
        return;
      }
      const doc = document(d, isIndexType(d.mediaType) ? 'index' : 'manifest');
      if (!doc) return;
      if (doc.parsed.kind === 'manifest') {
        manifests.push({ digest: d.digest, mediaType: doc.parsed.mediaType, raw: doc.raw });
        images.push(manifestImage(d, doc.parsed, entry));
        return;
      }
      for (const child of doc.parsed.manifests) {
        // Docker 25+ archives may carry only some platforms of an index; that is not damage.
        if (!contents.files.has(blobPath(child.digest))) continue;
        walk(child, child.platform || !entry?.platform ? child : { ...child, platform: entry.platform }, depth + 1, false);
      }
      if (top && images.length === 0) problems.push(`image ${label}: none of the index's manifests is in the archive`);
      manifests.push({ digest: d.digest, mediaType: doc.parsed.mediaType, raw: doc.raw });
    };
    walk(root, undefined, 1, true);
    const referrers: PlannedReferrer[] = [];
    for (const r of meta?.referrers ?? []) {
      const doc = document({ mediaType: r.mediaType, digest: r.digest, size: r.size }, `referrer ${r.tag ?? ''}`.trim());
      if (!doc) continue;
      if (!manifests.some((m) => m.digest === r.digest)) manifests.push({ digest: r.digest, mediaType: doc.parsed.mediaType, raw: doc.raw });
      const image = doc.parsed.kind === 'manifest' ? { ...manifestImage({ mediaType: r.mediaType, digest: r.digest, size: r.size }, doc.parsed, undefined), kind: 'artifact' as const } : undefined;
      referrers.push({ digest: r.digest, mediaType: r.mediaType, size: r.size, artifactType: r.artifactType ?? undefined, subject: r.subject, tag: r.tag ?? undefined, image });
    }
    const ref = refOf(name);
    const plan: ImagePlan = {
      request: name ?? root.digest, ref, name: ref.tag ? name : undefined, root, upstreamDigest: meta?.upstreamDigest ?? root.digest, manifests, images, notes: [],
      ...(referrers.length ? { referrers } : {}),
      ...(foreign.size ? { foreign: [...foreign] } : {}),
      ...(expected.size ? { expected: [...expected] } : {}),
    };
    return { name, plan, synthesized: false };
  });
}

/** Builds plans for a legacy `docker save` archive from manifest.json (no original manifests). */
function fromDockerManifest(contents: ArchiveContents, entries: DockerManifestEntry[], problems: string[]): ArchiveImage[] {
  const out: ArchiveImage[] = [];
  for (const [i, e] of entries.entries()) {
    const file = (path: string, what: string): ArchiveFile | undefined => {
      const f = contents.files.get(path);
      if (!f) problems.push(`manifest.json[${i}]: ${what} ${path} is missing from the archive`);
      return f;
    };
    const cfg = file(e.Config, 'config');
    const layers = (e.Layers ?? []).map((l) => file(l, 'layer')).filter((f): f is ArchiveFile => !!f);
    if (!cfg) continue;
    let platform: Platform | undefined;
    const cfgRaw = contents.small.get(e.Config);
    if (cfgRaw) {
      const c = parseImageConfig(cfgRaw);
      if (!c) problems.push(`manifest.json[${i}]: config ${e.Config} is not valid JSON`);
      platform = c?.platform ?? { os: 'linux', architecture: 'amd64' };
    }
    const configDesc: Descriptor = { mediaType: MediaType.dockerConfig, digest: cfg.digest, size: cfg.size };
    const layerDescs: Descriptor[] = layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar', digest: l.digest, size: l.size }));
    const tags = e.RepoTags ?? [];
    const names = tags.length ? tags : [undefined];
    for (const tag of names) {
      const ref = refOf(tag);
      const name = ref === UNNAMED ? undefined : `${ref.registry}/${ref.repository}:${ref.tag}`;
      const img: PlatformImage = { platform, manifest: configDesc, config: configDesc, layers: layerDescs, kind: 'image' };
      const plan: ImagePlan = { request: tag ?? cfg.digest, ref, name, root: configDesc, upstreamDigest: cfg.digest, manifests: [], images: [img], notes: [] };
      out.push({ name, plan, synthesized: true });
    }
  }
  return out;
}

/** Interprets archive contents. Throws BUNDLE_FORMAT when it is no image archive at all. */
export function interpret(contents: ArchiveContents): Interpretation {
  const problems: string[] = [];
  const metadata = json<FerryMetadata>(contents, FERRY_JSON);
  const docker = json<DockerManifestEntry[]>(contents, MANIFEST_JSON);
  if (docker !== undefined && !Array.isArray(docker)) throw new FerryError('BUNDLE_FORMAT', 'manifest.json is not a JSON array');
  if (contents.files.has(INDEX_JSON)) {
    const images = fromOciLayout(contents, problems);
    if (docker) {
      // A differential bundle's expected layers are on the receiving side, not in the archive.
      const expected = new Set((metadata?.images ?? []).flatMap((m) => m.expectedLayers ?? []).map(blobPath));
      for (const [i, e] of docker.entries()) {
        for (const p of [e.Config, ...(e.Layers ?? [])]) if (!contents.files.has(p) && !expected.has(p)) problems.push(`manifest.json[${i}]: ${p} is missing from the archive`);
      }
    }
    return { kind: metadata ? 'ferry' : 'oci-layout', images, metadata, docker, problems };
  }
  if (docker) return { kind: 'docker-legacy', images: fromDockerManifest(contents, docker, problems), metadata, docker, problems };
  throw new FerryError('BUNDLE_FORMAT', 'the archive has neither index.json nor manifest.json, so it holds no images ferry can read', {
    hint: 'ferry reads its own bundles, OCI image layouts and `docker save` archives',
  });
}
