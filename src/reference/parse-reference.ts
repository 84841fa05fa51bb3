/**
 * Image references, following distribution/reference (reference.go, normalize.go):
 *   name[:tag][@digest], name = [host[:port]/]path, path components [a-z0-9]+ joined by
 *   `.`, `_`, `__` or `-+`. The first component is a host when it is `localhost`, contains `.`
 *   or `:`, or is a bracketed IPv6 address. Otherwise the host is docker.io and a
 *   single-component path gets `library/`. No tag and no digest means `latest`.
 */
import { FerryError } from '../errors.js';

export const DOCKER_HUB = 'docker.io';

export interface Reference {
  /** Registry host with optional port, normalised: lowercase, `docker.io` for Docker Hub. */
  readonly registry: string;
  /** Repository path within the registry (`library/nginx`). */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:.%a-zA-Z]+\])(?::[0-9]+)?$/;
const MAX_NAME = 255;

function invalid(input: string, why: string): FerryError {
  return new FerryError('REFERENCE', `invalid image reference "${input}": ${why}`, {
    hint: 'write references as [host[:port]/]path[:tag][@sha256:<64 hex>], e.g. docker.io/library/nginx:1.27',
  });
}

/** Parses and normalises a reference. Throws a REFERENCE FerryError (exit 2) saying what is wrong. */
export function parseReference(input: string): Reference {
  const s = input.trim();
  if (s === '') throw invalid(input, 'it is empty');
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (/^sha512:[a-f0-9]{128}$/.test(digest)) {
      throw invalid(input, 'sha512 digests are valid but not supported: ferry verifies content with sha256, as registries address it');
    }
    if (!DIGEST.test(digest)) {
      throw invalid(input, `"${digest}" is not a valid digest (sha256: followed by 64 lowercase hex characters)`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  // A colon after the last slash (and not inside an IPv6 bracket) introduces the tag.
  if (colon > lastSlash && !(rest.startsWith('[') && lastSlash < 0)) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `"${tag}" is not a valid tag (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  let registry = DOCKER_HUB;
  let path = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first === 'localhost' || first.includes('.') || first.includes(':') || first.startsWith('[') || first !== first.toLowerCase()) {
      if (!HOST.test(first)) throw invalid(input, `"${first}" is not a valid registry host`);
      // Host names are case-insensitive (RFC 4343): one spelling, so LOCALHOST:5000 is localhost:5000.
      registry = first.toLowerCase();
      path = rest.slice(slash + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (path === '') throw invalid(input, 'the repository name is empty');
  if (path !== path.toLowerCase()) throw invalid(input, `repository "${path}" must be lowercase`);
  for (const component of path.split('/')) {
    if (!COMPONENT.test(component)) {
      throw invalid(input, `"${component}" is not a valid path component (lowercase letters and digits, separated by . _ __ or -)`);
    }
  }
  if (registry === DOCKER_HUB && !path.includes('/')) path = `library/${path}`;
  const fullName = `${registry}/${path}`;
  if (fullName.length > MAX_NAME) throw invalid(input, `the name is ${fullName.length} characters long, at most ${MAX_NAME} are allowed`);
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository: path, tag, digest };
}

/** The canonical string: `registry/repository[:tag][@digest]`. */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/**
 * The familiar name Docker shows (`nginx:1.27`, `quay.io/x/y:1`): docker.io and library/ are
 * dropped. Used for RepoTags in manifest.json.
 */
export function familiarName(ref: Reference): string {
  let name = ref.repository;
  if (ref.registry === DOCKER_HUB) {
    if (name.startsWith('library/') && name.split('/').length === 2) name = name.slice('library/'.length);
  } else {
    name = `${ref.registry}/${name}`;
  }
  return name;
}

/** What a request for a manifest uses: the digest when pinned, the tag otherwise. */
export function manifestIdentifier(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}
