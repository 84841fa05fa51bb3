/**
 * Blob upload (OCI distribution spec, "Pushing blobs"): HEAD first and skip what exists; a
 * cross-repository mount when another repository has it; otherwise POST an upload session and
 * send the bytes — one PUT for blobs up to `chunkSize`, PATCH chunks with Content-Range and a
 * closing PUT for larger ones ("Pushing a blob in chunks").
 *
 * Requests without a body are retried by the client (client.ts). A PUT or PATCH that breaks
 * mid-body (connection reset, 5xx) is never sent again to the same session: the registry may
 * have kept part of the body there, and a second copy would land after it. The session is
 * cancelled (DELETE, best effort) and the blob starts over in a new one, with the client's retry
 * policy for the number of sessions and the backoff between them.
 */
import { Transform, type Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { backoffDelay, isRetryableError, isRetryableStatus, sleep } from './retry.js';
import type { Descriptor } from '../oci/manifest.js';
import { blobExists } from './blobs.js';
import { RegistryStatusError, repoScope, type RegistryClient } from './client.js';
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

/**
 * Whether an upload request failed in a way a new session may fix: the connection broke or
 * timed out, or the registry answered 5xx / 429.
 */
export function isBrokenSession(err: unknown): boolean {
  if (err instanceof RegistryStatusError) return isRetryableStatus(err.status);
  return err instanceof FerryError && err.code === 'NETWORK' && isRetryableError(err);
}

/**
 * Makes `blob` present in `repository`. Resolves how: it existed, was mounted, or was uploaded.
 * Throws the last failure when every session broke, or at once for anything else (auth, 4xx,
 * a local read error).
 */
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
  for (let session = 1; ; session++) {
    if (!loc) {
      const res = await client.send({ method: 'POST', path: `/v2/${repository}/blobs/uploads/`, scopes, accept: [202], what });
      await res.body.dump();
      loc = location(res, what);
    }
    let sent = 0;
    const onBytes = (n: number): void => {
      sent += n;
      opts.onBytes?.(n);
    };
    try {
      await sendBytes(client, { loc, base, scopes, what }, blob, { ...opts, onBytes });
      return 'uploaded';
    } catch (err) {
      if (!isBrokenSession(err) || session >= client.retry.attempts) throw err;
      // The bytes of the broken session count again when they are sent again.
      if (sent) opts.onBytes?.(-sent);
      await cancelSession(client, new URL(loc, base).toString(), scopes, what);
      loc = undefined;
      await sleep(backoffDelay(client.retry, session));
    }
  }
}

interface Session {
  loc: string;
  base: string;
  scopes: string[];
  what: string;
}

/** DELETE of an abandoned upload session; its failure changes nothing, the registry expires it. */
async function cancelSession(client: RegistryClient, url: string, scopes: string[], what: string): Promise<void> {
  try {
    const res = await client.send({ method: 'DELETE', path: url, scopes, accept: [200, 202, 204, 404], what, attempts: 1 });
    await res.body.dump();
  } catch {
    /* best effort */
  }
}

/** Sends the bytes of `blob` into the session at `s.loc` and completes it; each request once. */
async function sendBytes(client: RegistryClient, s: Session, blob: Descriptor, opts: UploadOptions): Promise<void> {
  const { base, scopes, what } = s;
  let loc = s.loc;
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
      attempts: 1,
    });
    await res.body.dump();
    return;
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
      attempts: 1,
    });
    await res.body.dump();
    loc = location(res, what);
  }
  const res = await client.send({ method: 'PUT', path: withDigest(loc, blob.digest, base), scopes, headers: { 'content-length': '0' }, accept: [201, 204], what, attempts: 1 });
  await res.body.dump();
}
