/**
 * The library face (src/index.ts) used as another program would: an OCI layout made by hand
 * (no ferry), resolved and copied into a second layout through the one engine, every byte kept.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256Digest } from './digest/digest.js';
import * as ferry from './index.js';

const dirs: string[] = [];
afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function layout(): Promise<{ dir: string; manifest: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-lib-'));
  dirs.push(dir);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (b: Buffer): Promise<{ digest: string; size: number }> => {
    const digest = sha256Digest(b);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), b);
    return { digest, size: b.length };
  };
  const config = await put(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  const layer = await put(Buffer.from('not really a tar, but the engine only checks digests'));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }] }));
  const m = await put(manifest);
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': '1.0' } }] }));
  return { dir, manifest };
}

describe('the library face', () => {
  it('resolves an OCI layout image and copies it into another layout through copyImages, digests kept', async () => {
    const src = await layout();
    const source = new ferry.OciLayoutSource(src.dir);
    const ref: ferry.Reference = { registry: 'oci:local', repository: 'src', tag: '1.0', digest: undefined };
    const plan = await ferry.resolveImage(source, { request: 'oci:src:1.0', ref, platforms: ferry.parsePlatformSelection(['linux/amd64']) });
    expect(plan.root.digest).toBe(sha256Digest(src.manifest));
    const dst = await mkdtemp(join(tmpdir(), 'ferry-lib-dst-'));
    dirs.push(dst);
    const sink = new ferry.OciLayoutSink(dst, 'copied');
    await sink.open();
    const { images } = await ferry.copyImages(source, [plan], sink);
    expect(images[0]!.error).toBeUndefined();
    expect(images[0]!.blobs.uploaded).toBe(2);
    const index = JSON.parse(await readFile(join(dst, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    expect(index.manifests[0]).toMatchObject({ digest: plan.root.digest, annotations: { 'org.opencontainers.image.ref.name': 'copied' } });
    expect((await readFile(join(dst, 'blobs', 'sha256', plan.root.digest.slice(7)))).equals(src.manifest)).toBe(true);
  });

  it('exports the places, the engine and the errors', () => {
    for (const name of ['copyImages', 'blobContent', 'resolveImage', 'pullImages', 'pushPlans', 'RegistryImageSource', 'RegistryImageSink', 'BlobStore', 'StoreSink', 'BundleSink', 'OciLayoutSource', 'OciLayoutSink', 'openSeekable', 'verifyArchive', 'FerryError']) {
      expect(ferry, name).toHaveProperty(name);
    }
  });
});
