/**
 * For archives without the original manifests (legacy `docker save`, skopeo docker-archive):
 * builds a Docker schema2 manifest from the config and layers, gzip-compressing uncompressed
 * layers into the store. The manifest digest cannot equal upstream's; callers say so.
 */
import { open } from 'node:fs/promises';
import { createGzip } from 'node:zlib';
import { sha256Digest } from '../digest/digest.js';
import { HashingTap } from '../digest/hashing-tap.js';
import type { Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';
import type { BlobStore } from '../store/blob-store.js';
import type { ImagePlan } from '../content/plan.js';
import { pipeTo } from '../util/streams.js';

async function isGzip(store: BlobStore, digest: string): Promise<boolean> {
  const fh = await open(store.path(digest), 'r');
  try {
    const b = Buffer.alloc(2);
    await fh.read(b, 0, 2, 0);
    return b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Compresses a layer into the store; resolves the gzip blob's descriptor. */
async function compressLayer(store: BlobStore, layer: Descriptor): Promise<Descriptor> {
  const tap = new HashingTap();
  const pending = await store.ingest(pipeTo(pipeTo(store.read(layer.digest, layer.size), createGzip({ level: 6 })), tap));
  const digest = `sha256:${tap.hex()}`;
  await pending.commit(digest);
  return { mediaType: MediaType.dockerLayerGzip, digest, size: tap.bytes };
}

/** Gives a synthesized plan real manifest bytes. Mutates and returns the plan. */
export async function synthesizeManifest(plan: ImagePlan, store: BlobStore, compressed: Map<string, Promise<Descriptor>>): Promise<ImagePlan> {
  const img = plan.images[0]!;
  const layers: Descriptor[] = [];
  for (const l of img.layers) {
    let p = compressed.get(l.digest);
    if (!p) {
      p = (async () => ((await isGzip(store, l.digest)) ? { ...l, mediaType: MediaType.dockerLayerGzip } : compressLayer(store, l)))();
      compressed.set(l.digest, p);
    }
    layers.push(await p);
  }
  const doc = { schemaVersion: 2, mediaType: MediaType.dockerManifest, config: { mediaType: MediaType.dockerConfig, size: img.config.size, digest: img.config.digest }, layers };
  const raw = Buffer.from(JSON.stringify(doc, null, 3));
  const digest = sha256Digest(raw);
  const desc: Descriptor = { mediaType: MediaType.dockerManifest, digest, size: raw.length };
  img.layers = layers;
  img.manifest = desc;
  plan.root = desc;
  plan.manifests = [{ digest, mediaType: MediaType.dockerManifest, raw }];
  plan.notes.push(`${plan.name ?? plan.request}: the archive has no original manifest; built manifest ${digest}, which differs from the upstream digest`);
  return plan;
}
