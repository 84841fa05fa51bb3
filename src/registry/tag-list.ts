/**
 * Listing a repository's tags (OCI distribution spec, "Listing Tags": `GET /v2/<name>/tags/list`),
 * following `Link: <...>; rel="next"` pages (at most MAX_PAGES) until the registry gives none.
 */
import { FerryError } from '../errors.js';
import { headerValue } from '../util/headers.js';
import { repoScope, type RegistryClient } from './client.js';

const MAX_PAGES = 1000;
const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** The next page's URL from a Link header, or undefined. */
export function nextPage(link: string | undefined): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

/**
 * Every tag of `repository`, in the registry's order (lexical for the distribution registry).
 * A repository the registry does not know throws NOT_FOUND; other failures as client.send.
 */
export async function listTags(client: RegistryClient, repository: string, what: string): Promise<string[]> {
  const tags: string[] = [];
  let path: string | undefined = `/v2/${repository}/tags/list`;
  for (let page = 0; path && page < MAX_PAGES; page++) {
    const res = await client.send({ method: 'GET', path, scopes: [repoScope(repository, 'pull')], headers: { accept: 'application/json' }, accept: [200], what });
    const text = await res.body.text();
    if (text.length > MAX_PAGE_BYTES) throw new FerryError('REGISTRY', `${what}: the tag list page is larger than ${MAX_PAGE_BYTES} bytes`);
    let doc: { tags?: unknown };
    try {
      doc = JSON.parse(text) as { tags?: unknown };
    } catch {
      throw new FerryError('REGISTRY', `${what}: GET ${path}: the registry answered something that is not JSON`);
    }
    // A repository whose tags were all deleted answers `"tags": null`.
    if (doc.tags !== null && doc.tags !== undefined && !(Array.isArray(doc.tags) && doc.tags.every((t) => typeof t === 'string'))) {
      throw new FerryError('REGISTRY', `${what}: GET ${path}: "tags" is not a list of strings`);
    }
    tags.push(...((doc.tags as string[] | null | undefined) ?? []));
    const next = nextPage(headerValue(res.headers, 'link'));
    path = next ? new URL(next, res.url).href : undefined;
  }
  return tags;
}
