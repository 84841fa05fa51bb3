/**
 * Deleting a manifest by digest (OCI distribution spec, "Deleting Manifests":
 * `DELETE /v2/<name>/manifests/<digest>`). The registry removes the manifest and every tag of
 * that repository that pointed to it; the blobs stay until its garbage collection runs.
 */
import { FerryError } from '../errors.js';
import { repoScope, type RegistryClient } from './client.js';

/** Whether a JSON errors body carries the code UNSUPPORTED. */
function unsupported(text: string): boolean {
  try {
    const doc = JSON.parse(text) as { errors?: { code?: string }[] };
    return Array.isArray(doc.errors) && doc.errors.some((e) => e.code === 'UNSUPPORTED');
  } catch {
    return false;
  }
}

/**
 * Deletes the manifest `digest` of `repository`. Throws REGISTRY (exit 1) saying the registry
 * does not allow deletes when it answers 405, or 400 with UNSUPPORTED (the distribution
 * registry without `storage.delete.enabled`); NOT_FOUND when it has no such manifest; other
 * failures as client.send.
 */
export async function deleteManifest(client: RegistryClient, repository: string, digest: string, what: string): Promise<void> {
  const res = await client.send({ method: 'DELETE', path: `/v2/${repository}/manifests/${digest}`, scopes: [repoScope(repository, 'pull,push')], accept: [200, 202, 400, 405], what });
  const text = await res.body.text().catch(() => '');
  if (res.status === 405 || (res.status === 400 && unsupported(text))) {
    throw new FerryError('REGISTRY', `${what}: ${client.host} does not allow deleting manifests (HTTP ${res.status})`, {
      hint: `deletes are off on this registry; its operator can enable them (for the distribution registry: storage.delete.enabled: true)`,
    });
  }
  if (res.status === 400) throw new FerryError('REGISTRY', `${what}: DELETE /v2/${repository}/manifests/${digest}: HTTP 400 ${text.trim().slice(0, 200)}`);
}
