/**
 * The paths of the distribution API (OCI distribution-spec "Endpoints") that `ferry serve`
 * answers, parsed into routes. Repository names follow the spec's grammar; a name may itself
 * contain `/manifests/` or `/blobs/`, so the last such segment decides.
 */
import { RegistryError, digestInvalid } from './registry-errors.js';

export type Route =
  | { kind: 'base' }
  | { kind: 'catalog' }
  | { kind: 'tags'; name: string }
  | { kind: 'manifest'; name: string; reference: string }
  | { kind: 'blob'; name: string; digest: string }
  | { kind: 'referrers'; name: string; digest: string }
  | { kind: 'upload'; name: string };

const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** Whether `d` is a well-formed digest this server can hold (sha256 with 64 hex digits). */
export function isServableDigest(d: string): boolean {
  return SHA256.test(d);
}

function checkDigest(d: string): string {
  if (!DIGEST.test(d) || (d.startsWith('sha256:') && !SHA256.test(d))) throw digestInvalid(d);
  return d;
}

function checkName(name: string): string {
  if (!NAME.test(name) || name.length > 255) throw new RegistryError(400, 'NAME_INVALID', 'invalid repository name', { name });
  return name;
}

/**
 * The route of `pathname` (already percent-decoded is not assumed: it is decoded here), or
 * undefined for a path outside the API. Throws RegistryError NAME_INVALID, TAG_INVALID or
 * DIGEST_INVALID for malformed parts.
 */
export function parseRoute(pathname: string): Route | undefined {
  let path: string;
  try {
    path = decodeURIComponent(pathname);
  } catch {
    return undefined;
  }
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  if (path === '/v2/_catalog') return { kind: 'catalog' };
  if (!path.startsWith('/v2/')) return undefined;
  const rest = path.slice(4);
  let m = /^(.+)\/tags\/list$/.exec(rest);
  if (m) return { kind: 'tags', name: checkName(m[1]!) };
  m = /^(.+)\/blobs\/uploads(?:\/.*)?$/.exec(rest);
  if (m) return { kind: 'upload', name: m[1]! };
  m = /^(.+)\/manifests\/([^/]+)$/.exec(rest);
  if (m) {
    const reference = m[2]!;
    if (reference.includes(':')) checkDigest(reference);
    else if (!TAG.test(reference)) throw new RegistryError(400, 'TAG_INVALID', 'manifest tag did not match URI', { tag: reference });
    return { kind: 'manifest', name: checkName(m[1]!), reference };
  }
  m = /^(.+)\/blobs\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'blob', name: checkName(m[1]!), digest: checkDigest(m[2]!) };
  m = /^(.+)\/referrers\/([^/]+)$/.exec(rest);
  if (m) return { kind: 'referrers', name: checkName(m[1]!), digest: checkDigest(m[2]!) };
  return undefined;
}
