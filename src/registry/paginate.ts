/**
 * Paginated listings of the distribution API (tags/list, _catalog): the first page asks for
 * `n` entries, and each next page is the `Link: <...>; rel="next"` the registry returns (OCI
 * distribution spec, "Listing Tags"; the CNCF registry sends it whenever `n` is given).
 */
import { FerryError } from '../errors.js';
import { headerValue } from '../util/headers.js';
import { readCapped } from '../util/streams.js';
import type { RegistryClient } from './client.js';

/** Entries asked for per page. */
export const PAGE_SIZE = 100;
/** A listing stops with an error after this many pages (a registry whose Link loops). */
const MAX_PAGES = 100_000;
const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** The `rel="next"` target of a Link header, or undefined (RFC 8288). */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2]!)) return m[1];
  }
  return undefined;
}

async function readJson(body: AsyncIterable<Buffer>, what: string): Promise<unknown> {
  const raw = await readCapped(body, MAX_PAGE_BYTES, () => new FerryError('REGISTRY', `${what}: a page is larger than ${MAX_PAGE_BYTES} bytes`));
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new FerryError('REGISTRY', `${what}: the registry answered something that is not JSON`, { cause: err });
  }
}

/**
 * Every entry of `field` (an array of strings) over all pages, starting at `path`. Throws
 * REGISTRY for a page without that array, AUTH/NOT_FOUND as send() does.
 */
export async function listAll(client: RegistryClient, path: string, field: string, scopes: readonly string[], what: string): Promise<string[]> {
  const out: string[] = [];
  const seen = new Set<string>();
  let next: string | undefined = path;
  for (let page = 0; next; page++) {
    if (page >= MAX_PAGES || seen.has(next)) throw new FerryError('REGISTRY', `${what}: the registry's pages do not end (page ${page + 1} is ${next} again)`);
    seen.add(next);
    const res = await client.send({ method: 'GET', path: next, scopes, accept: [200], what });
    const doc = (await readJson(res.body, what)) as Record<string, unknown> | null;
    const list = doc?.[field];
    // A repository without tags: distribution answers `"tags": null` (some registries omit it).
    if (list !== null && list !== undefined && !(Array.isArray(list) && list.every((x) => typeof x === 'string'))) {
      throw new FerryError('REGISTRY', `${what}: the answer has no "${field}" list`);
    }
    out.push(...(list ?? []));
    next = nextLink(headerValue(res.headers, 'link'));
  }
  return out;
}
