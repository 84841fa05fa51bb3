/**
 * Like layout-image.ts, for images with several layers, each gzip or zstd: made without docker
 * and without ferry. Each layer is a directory of the given files packed by GNU tar and
 * compressed by `gzip -n` or the `zstd` binary; the diff_id is the sha256 of the tar file GNU
 * tar wrote (unless a layer asks for a wrong one). A small script writes the config and the OCI
 * manifest into an OCI image layout, and skopeo copies it into a registry unchanged. What the
 * registry then serves (skopeo inspect --raw, hashed) is the oracle.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { runOk } from './processes.js';
import { registryDigest } from './skopeo.js';

export interface LayerSpec {
  /** name -> content, packed as one layer. */
  files: Record<string, string | Buffer>;
  compression: 'gzip' | 'zstd';
  /** Write this into the config instead of the real diff_id (a damaged image). */
  diffId?: string;
  /** Keep only the first `truncate` bytes of the compressed layer (a damaged image). */
  truncate?: number;
}

export interface LayersImage {
  /** host/repo:tag */
  ref: string;
  /** sha256 of the manifest the registry serves. */
  digest: string;
  layers: { digest: string; size: number; mediaType: string; diffId: string }[];
}

const MEDIA_TYPE = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  zstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
} as const;

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** Pushes an image with one layer per spec to `ref` (host/repo:tag on an open loopback registry). */
export async function pushLayersImage(ref: string, specs: LayerSpec[], workDir: string, created = '2024-05-01T10:00:00Z'): Promise<LayersImage> {
  const layout = join(workDir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const layers: LayersImage['layers'] = [];
  const blobs: Buffer[] = [];
  for (const [i, spec] of specs.entries()) {
    const root = join(workDir, `rootfs-${i}`);
    mkdirSync(root, { recursive: true });
    for (const [name, content] of Object.entries(spec.files)) writeFileSync(join(root, name), content);
    const tarFile = join(workDir, `layer-${i}.tar`);
    await runOk('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tarFile, '.']);
    const diffId = sha(readFileSync(tarFile));
    let packed: Buffer;
    if (spec.compression === 'gzip') {
      await runOk('gzip', ['-n', '-1', '-k', tarFile]);
      packed = readFileSync(`${tarFile}.gz`);
    } else {
      await runOk('zstd', ['-q', '-3', tarFile, '-o', `${tarFile}.zst`]);
      packed = readFileSync(`${tarFile}.zst`);
    }
    if (spec.truncate !== undefined) packed = packed.subarray(0, spec.truncate);
    blobs.push(packed);
    layers.push({ digest: sha(packed), size: packed.length, mediaType: MEDIA_TYPE[spec.compression], diffId: spec.diffId ?? diffId });
  }
  const config = Buffer.from(JSON.stringify({
    created, architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created })),
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  }));
  for (const b of [...blobs, config, manifest]) writeFileSync(join(layout, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  await runOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${ref}`]);
  const digest = await registryDigest(ref);
  if (digest !== sha(manifest)) throw new Error(`skopeo rewrote the manifest of ${ref}: ${digest}, written ${sha(manifest)}`);
  return { ref, digest, layers };
}
