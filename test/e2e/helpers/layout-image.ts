/**
 * Test images made without docker and without ferry: a small script writes an OCI image layout
 * (one layer: a directory of the given files, packed by GNU tar and compressed by `gzip -n`, a
 * config and a manifest), and skopeo copies it into a registry. What the registry then serves
 * (skopeo inspect --raw, hashed) is the oracle.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { runOk } from './processes.js';
import { registryDigest } from './skopeo.js';

export interface LayoutImage {
  /** host/repo:tag */
  ref: string;
  /** sha256 of the manifest the registry serves. */
  digest: string;
  layer: { digest: string; size: number };
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * Pushes an image with one layer holding `files` (name -> content) to `ref` (host/repo:tag on an
 * open loopback registry). `created` goes into the config.
 */
export async function pushLayoutImage(ref: string, files: Record<string, string | Buffer>, workDir: string, created = '2024-05-01T10:00:00Z'): Promise<LayoutImage> {
  const root = join(workDir, 'rootfs');
  const layout = join(workDir, 'layout');
  mkdirSync(root, { recursive: true });
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  const tarFile = join(workDir, 'layer.tar');
  await runOk('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-C', root, '-cf', tarFile, '.']);
  await runOk('gzip', ['-n', '-1', tarFile]);
  const gz = readFileSync(`${tarFile}.gz`);
  const diffId = sha(gunzipSync(gz));
  const config = Buffer.from(JSON.stringify({ created, architecture: 'amd64', os: 'linux', config: { Cmd: ['/hello'] }, rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created }] }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(gz), size: gz.length }],
  }));
  for (const b of [gz, config, manifest]) writeFileSync(join(layout, 'blobs', 'sha256', sha(b).slice(7)), b);
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
  await runOk('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${ref}`]);
  return { ref, digest: await registryDigest(ref), layer: { digest: sha(gz), size: gz.length } };
}

/** `n` random bytes (incompressible, so the layer is about as big). */
export const randomFile = (n: number): Buffer => randomBytes(n);
