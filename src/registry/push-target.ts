/**
 * Where `ferry push --to HOST[:PORT][/PREFIX]` puts an image (docs/cli.md): the source
 * repository path under the prefix, with the source registry host dropped —
 * docker.io/library/nginx:1.27 -> HOST/PREFIX/library/nginx:1.27. With `keepHost` the source
 * host becomes a path component (HOST/PREFIX/docker.io/library/nginx:1.27), so images from
 * different registries cannot collide.
 */
import { UsageError } from '../errors.js';
import { parseReference, type Reference } from '../reference/parse-reference.js';

export interface PushTarget {
  host: string;
  prefix: string;
  keepHost: boolean;
}

/** Parses `--to`. Throws a UsageError (exit 2) for anything that is not HOST[:PORT][/PREFIX]. */
export function parsePushTarget(to: string, keepHost = false): PushTarget {
  const s = to.trim().replace(/^(docker|https?):\/\//i, '').replace(/\/+$/, '');
  const slash = s.indexOf('/');
  // Host names are case-insensitive: LOCALHOST:5001 is localhost:5001 (and loopback).
  const host = (slash < 0 ? s : s.slice(0, slash)).toLowerCase();
  const prefix = slash < 0 ? '' : s.slice(slash + 1);
  if (prefix !== prefix.toLowerCase()) {
    throw new UsageError(`--to "${to}": repository path must be lowercase: got "${prefix}"`, `registries accept only lowercase repository names; e.g. --to ${host}/${prefix.toLowerCase()}`);
  }
  try {
    // Validate by parsing a reference under it: the same grammar as any image name.
    parseReference(`${host}/${prefix ? `${prefix}/` : ''}x:1`);
  } catch {
    throw new UsageError(`--to "${to}" is not a registry HOST[:PORT][/PREFIX]`, 'e.g. --to registry.internal:5000/mirror');
  }
  if (!host.includes('.') && !host.includes(':') && host !== 'localhost') {
    throw new UsageError(`--to "${to}" does not start with a registry host (a name with a dot or a port, or localhost)`, 'e.g. --to registry.internal:5000/mirror');
  }
  return { host, prefix, keepHost };
}

/** The target repository for a source reference. */
export function targetRepository(t: PushTarget, source: Reference): string {
  const parts = [t.prefix, t.keepHost ? source.registry.replace(/:/g, '-') : '', source.repository].filter(Boolean);
  return parts.join('/').toLowerCase();
}
