/**
 * Test fixture (not built into dist/): two image plans (a single-platform image and a two-platform
 * index sharing a layer) over gzip, zstd and plain layers, and a store that holds their blobs.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Digest } from '../digest/digest.js';
import type { Descriptor, Platform } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import { parseReference } from '../reference/parse-reference.js';
import { BlobStore } from '../store/blob-store.js';
import type { ImagePlan, PlatformImage } from '../content/plan.js';
import { writeBundle, type Compression } from './writer.js';

/** Blob contents by digest, so fake plans can be written into a real store. */
export const blobs = new Map<string, Buffer>();

export function blob(mediaType: string, data: Buffer): Descriptor {
  const digest = sha256Digest(data);
  blobs.set(digest, data);
  return { mediaType, digest, size: data.length };
}

export function image(platform: Platform | undefined, layers: Descriptor[]): { img: PlatformImage; raw: Buffer } {
  const config = blob(MediaType.ociConfig, Buffer.from(JSON.stringify({ architecture: platform?.architecture ?? 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })));
  const raw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers }));
  const manifest: Descriptor = { mediaType: MediaType.ociManifest, digest: sha256Digest(raw), size: raw.length, ...(platform ? { platform } : {}) };
  return { img: { platform, manifest, config, layers, kind: 'image' }, raw };
}

export function singlePlan(request: string, layers: Descriptor[]): ImagePlan {
  const ref = parseReference(request);
  const { img, raw } = image(undefined, layers);
  return {
    request,
    ref,
    name: ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined,
    root: img.manifest,
    upstreamDigest: img.manifest.digest,
    manifests: [{ digest: img.manifest.digest, mediaType: img.manifest.mediaType, raw }],
    images: [img],
    notes: [],
  };
}

export function indexPlan(request: string, platforms: [Platform, Descriptor[]][]): ImagePlan {
  const ref = parseReference(request);
  const built = platforms.map(([p, layers]) => image(p, layers));
  const indexRaw = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: built.map((b) => b.img.manifest) }));
  const root: Descriptor = { mediaType: MediaType.ociIndex, digest: sha256Digest(indexRaw), size: indexRaw.length };
  return {
    request,
    ref,
    name: ref.tag ? `${ref.registry}/${ref.repository}:${ref.tag}` : undefined,
    root,
    upstreamDigest: root.digest,
    manifests: [...built.map((b) => ({ digest: b.img.manifest.digest, mediaType: MediaType.ociManifest, raw: b.raw })), { digest: root.digest, mediaType: MediaType.ociIndex, raw: indexRaw }],
    images: built.map((b) => b.img),
    notes: [],
  };
}

export const shared = blob(MediaType.ociLayerGzip, randomBytes(1000)); // shared by both plans
export const gzA = blob(MediaType.dockerLayerGzip, randomBytes(513));
export const tarA = blob(MediaType.ociLayer, Buffer.from('uncompressed tar layer\n'.repeat(40)));
export const zstdB = blob(MediaType.ociLayerZstd, randomBytes(512));
export const tarB = blob(MediaType.ociLayer, Buffer.alloc(0));
export const armOnly = blob(MediaType.ociLayerGzip, randomBytes(77));

export const planA = singlePlan('nginx:1.27', [shared, gzA, tarA]);
export const planB = indexPlan('127.0.0.1:5000/x/y:1', [
  [{ os: 'linux', architecture: 'amd64' }, [shared, zstdB, tarB]],
  [{ os: 'linux', architecture: 'arm64', variant: 'v8' }, [shared, armOnly]],
]);
export const plans = [planA, planB];
export const created = new Date('2025-06-01T12:00:00Z');

/** A store under `dir` holding every fixture blob. */
export async function fixtureStore(dir: string): Promise<BlobStore> {
  const store = new BlobStore(join(dir, 'cache'));
  await store.init();
  for (const [d, data] of blobs) await store.putBuffer(d, data, d);
  return store;
}

/** Writes `which` (default: the fixture plans) as a bundle in a new temp dir, which goes into `dirs` (for the test to remove); resolves its path. */
export async function fixtureBundle(dirs: string[], compression: Compression, which: readonly ImagePlan[] = plans): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-fixture-bundle-'));
  dirs.push(dir);
  const out = join(dir, compression === 'gzip' ? 'b.tar.gz' : 'b.tar');
  await writeBundle(which, await fixtureStore(dir), { out, compression, prefer: [], tool: 't', created });
  return out;
}
