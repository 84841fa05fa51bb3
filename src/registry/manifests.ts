/** Manifest requests (OCI distribution spec: pulling manifests, pushing manifests). */
import { DigestMismatchError, FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import { MANIFEST_ACCEPT } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../oci/manifest.js';
import type { FetchedManifest } from '../oci/manifest.js';
import { repoScope, type RegistryClient } from './client.js';
import { headerValue } from '../util/headers.js';
import { readCapped } from '../util/streams.js';

export type { FetchedManifest } from '../oci/manifest.js';

/**
 * GETs a manifest or index by tag or digest. The digest is computed from the raw bytes; when
 * `ref` is a digest the bytes must hash to it (DigestMismatchError otherwise).
 */
export async function getManifest(client: RegistryClient, repository: string, ref: string, what: string): Promise<FetchedManifest> {
  const res = await client.send({
    method: 'GET',
    path: `/v2/${repository}/manifests/${ref}`,
    scopes: [repoScope(repository, 'pull')],
    headers: { accept: MANIFEST_ACCEPT },
    accept: [200],
    what,
  });
  const raw = await readCapped(res.body, MAX_MANIFEST_BYTES, () => new FerryError('REGISTRY', `${what}: the manifest is larger than ${MAX_MANIFEST_BYTES} bytes`));
  const digest = sha256Digest(raw);
  if (ref.startsWith('sha256:') && digest !== ref) throw new DigestMismatchError(`${what}: manifest`, ref, digest);
  const parsed = parseManifest(raw, headerValue(res.headers, 'content-type'), what);
  return { raw, mediaType: parsed.mediaType, digest, parsed };
}

/**
 * HEADs a manifest: its digest (Docker-Content-Digest) and media type, or undefined when the
 * registry does not have it. A HEAD does not count as a pull on Docker Hub.
 */
export async function headManifest(client: RegistryClient, repository: string, ref: string, what: string): Promise<{ digest: string | undefined; mediaType: string | undefined; size: number } | undefined> {
  const res = await client.send({
    method: 'HEAD',
    path: `/v2/${repository}/manifests/${ref}`,
    scopes: [repoScope(repository, 'pull')],
    headers: { accept: MANIFEST_ACCEPT },
    accept: [200, 404],
    what,
  });
  await res.body.dump();
  if (res.status === 404) return undefined;
  return {
    digest: headerValue(res.headers, 'docker-content-digest'),
    mediaType: headerValue(res.headers, 'content-type')?.split(';')[0],
    size: Number(res.headers['content-length'] ?? 0),
  };
}

/** PUTs the exact manifest bytes under a tag or digest, so the registry computes the same digest. */
export async function putManifest(client: RegistryClient, repository: string, ref: string, raw: Buffer, mediaType: string, what: string): Promise<string | undefined> {
  const res = await client.send({
    method: 'PUT',
    path: `/v2/${repository}/manifests/${ref}`,
    scopes: [repoScope(repository, 'pull,push')],
    headers: { 'content-type': mediaType },
    body: raw,
    accept: [201, 200],
    what,
  });
  await res.body.dump();
  return headerValue(res.headers, 'docker-content-digest');
}
