/**
 * `n`/`last` pagination of `tags/list` and `_catalog` (OCI distribution-spec "Listing Tags",
 * distribution's catalog API): entries are sorted, `last` starts after that entry, `n` caps the
 * page, and a `Link: <...>; rel="next"` header points at the next page when there is one.
 */
import { RegistryError } from './registry-errors.js';

export interface Page {
  entries: string[];
  /** The `Link` header value, when more entries follow. */
  link: string | undefined;
}

/**
 * One page of `all` (sorted here) for the query `n` and `last`; `path` is the request path the
 * Link repeats. Throws RegistryError PAGINATION_NUMBER_INVALID for an `n` that is not a whole
 * number.
 */
export function paginate(all: readonly string[], query: URLSearchParams, path: string): Page {
  const sorted = [...all].sort();
  const last = query.get('last');
  const nRaw = query.get('n');
  let n: number | undefined;
  if (nRaw !== null && nRaw !== '') {
    if (!/^\d+$/.test(nRaw)) throw new RegistryError(400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: nRaw });
    n = Number(nRaw);
  }
  const from = last ? sorted.filter((e) => e > last) : sorted;
  if (n === undefined || from.length <= n) return { entries: from, link: undefined };
  const entries = from.slice(0, n);
  if (n === 0) return { entries, link: undefined };
  const next = new URLSearchParams();
  for (const [k, v] of query) if (k !== 'n' && k !== 'last') next.append(k, v);
  next.set('n', String(n));
  next.set('last', entries[entries.length - 1]!);
  return { entries, link: `<${path}?${next.toString()}>; rel="next"` };
}
