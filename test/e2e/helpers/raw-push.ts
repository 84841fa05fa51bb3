/**
 * Pushing hand-written content straight to a registry over the distribution API with Node's
 * own fetch (not ferry's client): blobs by monolithic upload, manifests by PUT with their exact
 * bytes. For fixtures no tool builds on demand: Helm-shaped charts, artifacts with the empty
 * config, cosign-style signature tags, OCI 1.1 referrers and the referrers tag schema's index,
 * nested indexes, foreign layers.
 */
import { createHash } from 'node:crypto';

export interface Desc {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
  urls?: string[];
}

export const sha256 = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A descriptor for `data` of `mediaType`. */
export const descOf = (mediaType: string, data: Buffer | string, extra: Partial<Desc> = {}): Desc => ({ mediaType, digest: sha256(data), size: Buffer.byteLength(data), ...extra });

/** Uploads a blob (POST then PUT ?digest=); returns its descriptor. Throws on any other status. */
export async function putBlob(host: string, repo: string, mediaType: string, data: Buffer | string): Promise<Desc> {
  const d = descOf(mediaType, data);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`POST upload to ${host}/${repo}: HTTP ${start.status} ${await start.text()}`);
  const loc = new URL(start.headers.get('location')!, `http://${host}`);
  loc.searchParams.set('digest', d.digest);
  const put = await fetch(loc, { method: 'PUT', body: Buffer.from(data), headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`PUT blob ${d.digest} to ${host}/${repo}: HTTP ${put.status} ${await put.text()}`);
  return d;
}

/** PUTs manifest bytes under `ref` (a tag or its digest); returns its descriptor. */
export async function putManifest(host: string, repo: string, ref: string, doc: object, extra: Partial<Desc> = {}): Promise<Desc & { raw: Buffer }> {
  const raw = Buffer.from(JSON.stringify(doc));
  const mediaType = (doc as { mediaType: string }).mediaType;
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { method: 'PUT', body: raw, headers: { 'content-type': mediaType } });
  if (res.status !== 201) throw new Error(`PUT manifest ${repo}:${ref}: HTTP ${res.status} ${await res.text()}`);
  return { ...descOf(mediaType, raw, extra), raw };
}

/** GETs a manifest's raw bytes (for digests in tests). */
export async function getManifestRaw(host: string, repo: string, ref: string): Promise<Buffer> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' },
  });
  if (res.status !== 200) throw new Error(`GET manifest ${host}/${repo}:${ref}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const EMPTY_CONFIG = 'application/vnd.oci.empty.v1+json';
