/** Blob requests (OCI distribution spec: pulling blobs, checking existence). */
import type { Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { repoScope, type RegistryClient } from './client.js';

/**
 * Opens a blob for reading from `offset` (a `Range` request when offset > 0). Resolves the
 * body and the offset it actually starts at: `offset` on 206, 0 when the server ignored Range.
 */
export async function openBlob(client: RegistryClient, repository: string, digest: string, offset: number, what: string): Promise<{ body: Readable; start: number }> {
  const res = await client.send({
    method: 'GET',
    path: `/v2/${repository}/blobs/${digest}`,
    scopes: [repoScope(repository, 'pull')],
    headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
    accept: offset > 0 ? [200, 206, 416] : [200],
    what,
  });
  if (res.status === 416) {
    await res.body.dump();
    return openBlob(client, repository, digest, 0, what);
  }
  if (res.status === 206) {
    const cr = String(res.headers['content-range'] ?? '');
    const m = /bytes (\d+)-/.exec(cr);
    if (!m || Number(m[1]) !== offset) {
      res.body.destroy();
      throw new FerryError('REGISTRY', `${what}: asked for bytes from ${offset}, the registry answered "${cr}"`);
    }
    return { body: res.body, start: offset };
  }
  return { body: res.body, start: 0 };
}

/** Whether the repository has the blob (HEAD 200). */
export async function blobExists(client: RegistryClient, repository: string, digest: string, what: string): Promise<boolean> {
  const res = await client.send({
    method: 'HEAD',
    path: `/v2/${repository}/blobs/${digest}`,
    scopes: [repoScope(repository, 'pull,push')],
    accept: [200, 404],
    what,
  });
  await res.body.dump();
  return res.status === 200;
}
