/**
 * Searching Docker Hub as `docker search` does: `GET <url>?q=TERM&n=LIMIT` on Hub's search API
 * (`https://index.docker.io/v1/search`, or FERRY_HUB_SEARCH_URL), answered with
 * `{"results":[{"name","description","star_count","is_official","is_automated"}]}`. Other
 * registries have no search API: search there is a filter over their catalog (catalog.ts).
 */
import { request, type Dispatcher } from 'undici';
import { FerryError, UsageError, describe } from '../errors.js';
import { USER_AGENT } from './client.js';
import { redactUrl } from './redact.js';
import { DEFAULT_RETRY, isRetryableError, isRetryableStatus, waitToRetry, type RetryPolicy } from './retry.js';

export const HUB_SEARCH_URL = 'https://index.docker.io/v1/search';

export interface SearchResult {
  name: string;
  description: string;
  stars: number;
  official: boolean;
}

/** The search URL: FERRY_HUB_SEARCH_URL when set, else Docker Hub's. */
export function hubSearchUrl(env: NodeJS.ProcessEnv = process.env): string {
  const url = env.FERRY_HUB_SEARCH_URL || HUB_SEARCH_URL;
  if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
    throw new UsageError(`FERRY_HUB_SEARCH_URL is not an http(s) URL: "${url}"`, `e.g. FERRY_HUB_SEARCH_URL=${HUB_SEARCH_URL}, or unset it`);
  }
  return url;
}

function parseResults(doc: unknown, what: string): SearchResult[] {
  const results = (doc as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) throw new FerryError('REGISTRY', `${what}: the answer has no "results" list`);
  return results.map((r: Record<string, unknown>) => ({
    name: typeof r.name === 'string' ? r.name : typeof r.repo_name === 'string' ? r.repo_name : '',
    description: typeof r.description === 'string' ? r.description : typeof r.short_description === 'string' ? r.short_description : '',
    stars: typeof r.star_count === 'number' ? r.star_count : 0,
    official: r.is_official === true,
  }));
}

/** Asks the search API for up to `limit` results for `term`. Throws NETWORK or REGISTRY. */
export async function searchHub(term: string, limit: number, dispatcher: (host: string) => Dispatcher, url = hubSearchUrl(), retry: RetryPolicy = DEFAULT_RETRY): Promise<SearchResult[]> {
  const u = new URL(url);
  u.searchParams.set('q', term);
  u.searchParams.set('n', String(limit));
  const what = `searching ${u.host} for "${term}"`;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await request(u, { method: 'GET', headers: { 'user-agent': USER_AGENT, accept: 'application/json' }, dispatcher: dispatcher(u.host) });
      const text = await res.body.text();
      if (res.statusCode === 200) {
        try {
          return parseResults(JSON.parse(text), what);
        } catch (err) {
          if (err instanceof FerryError) throw err;
          throw new FerryError('REGISTRY', `${what}: the answer is not JSON`, { cause: err });
        }
      }
      if (isRetryableStatus(res.statusCode) && attempt < retry.attempts) {
        await waitToRetry(retry, attempt, what, res.statusCode, res.headers['retry-after']);
        continue;
      }
      throw new FerryError('REGISTRY', `${what}: GET ${redactUrl(u)}: HTTP ${res.statusCode} ${text.trim().slice(0, 200)}`.trimEnd());
    } catch (err) {
      if (err instanceof FerryError) throw err;
      if (!isRetryableError(err) || attempt >= retry.attempts) {
        throw new FerryError('NETWORK', `${what}: GET ${redactUrl(u)}: ${describe(err)}`, { cause: err, hint: 'check the network; FERRY_HUB_SEARCH_URL points search at another server' });
      }
      await waitToRetry(retry, attempt, what, err);
    }
  }
}

export interface SearchFilter {
  stars: number;
  official: boolean | undefined;
}

/** The results `filter` keeps, as `docker search --filter stars=N --filter is-official=true`. */
export function filterResults(results: readonly SearchResult[], f: SearchFilter): SearchResult[] {
  return results.filter((r) => r.stars >= f.stars && (f.official === undefined || r.official === f.official));
}
