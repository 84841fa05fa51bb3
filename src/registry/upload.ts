/**
 * Blob upload (OCI distribution spec, "Pushing blobs"): HEAD first and skip what exists; a
 * cross-repository mount when another repository has it; otherwise POST an upload session and
 * send the bytes — one PUT for blobs up to `chunkSize`, PATCH chunks with Content-Range and a
 * closing PUT for larger ones. Each request is retried on transient faults (client.ts); a
 * session that fails for good fails the image, and the next push starts a new session.
 */
import { Transform, type Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import { blobExists } from './blobs.js';
import { repoScope, type RegistryClient } from './client.js';
import { pipeTo } from '../util/streams.js';
import { headerValue, type Headers } from '../util/headers.js';

export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

export type UploadOutcome = 'exists' | 'mounted' | 'uploaded';

export interface UploadOptions {
  /** A repository on the same registry that already holds the blob. */
  mountFrom?: string;
  chunkSize?: number;
  /** Opens bytes [start, end] of the blob. */
  open: (start: number, end: number) => Readable;
  onBytes?: (n: number) => void;
}

function location(res: { headers: Headers }, what: string): string {
  const loc = headerValue(res.headers, 'location');
  if (!loc) throw new FerryError('REGISTRY', `${what}: the registry gave no upload Location`);
  return loc;
}

function withDigest(loc: string, digest: string, base: string): string {
  const u = new URL(loc, base);
  u.searchParams.set('digest', digest);
  return u.toString();
}

/** Makes `blob` present in `repository`. Resolves how: it existed, was mounted, or was uploaded. */
export async function uploadBlob(client: RegistryClient, repository: string, blob: Descriptor, opts: UploadOptions): Promise<UploadOutcome> {
  const what = `pushing blob ${blob.digest} to ${client.host}/${repository}`;
  if (await blobExists(client, repository, blob.digest, what)) return 'exists';
  const base = await client.baseUrl();
  const scopes = [repoScope(repository, 'pull,push')];
  let loc: string | undefined;
  if (opts.mountFrom && opts.mountFrom !== repository) {
    const res = await client.send({
      method: 'POST',
      path: `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(opts.mountFrom)}`,
      scopes: [...scopes, repoScope(opts.mountFrom, 'pull')],
      accept: [201, 202],
      what,
    });
    await res.body.dump();
    if (res.status === 201) return 'mounted';
    loc = location(res, what);
  }
  if (!loc) {
    const res = await client.send({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, scopes, accept: [202], what });
    await res.body.dump();
    loc = location(res, what);
  }
  const chunk = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  // Count through a pipe, never with a 'data' listener: that would start the file flowing
  // before undici reads it, and the bytes read meanwhile would never reach the request.
  const counted = (r: Readable): Readable => {
    if (!opts.onBytes) return r;
    const onBytes = opts.onBytes;
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        onBytes(chunk.length);
        cb(null, chunk);
      },
    });
    return pipeTo(r, tap);
  };
  if (blob.size <= chunk) {
    const res = await client.send({
      method: 'PUT',
      path: withDigest(loc, blob.digest, base),
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: () => counted(opts.open(0, Math.max(0, blob.size - 1))),
      accept: [201, 204],
      what,
    });
    await res.body.dump();
    return 'uploaded';
  }
  for (let start = 0; start < blob.size; start += chunk) {
    const end = Math.min(blob.size, start + chunk) - 1;
    const res = await client.send({
      method: 'PATCH',
      path: new URL(loc, base).toString(),
      scopes,
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}`, 'content-length': String(end - start + 1) },
      body: () => counted(opts.open(start, end)),
      accept: [202, 204],
      what,
    });
    await res.body.dump();
    loc = location(res, what);
  }
  const res = await client.send({ method: 'PUT', path: withDigest(loc, blob.digest, base), scopes, headers: { 'content-length': '0' }, accept: [201, 204], what });
  await res.body.dump();
  return 'uploaded';
}
