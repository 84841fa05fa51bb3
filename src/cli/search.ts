/**
 * `ferry search TERM`: Docker Hub's search API, printed as `docker search` prints it (NAME,
 * DESCRIPTION, STARS, OFFICIAL), with --limit and --filter. `HOST/TERM` names another
 * registry: those have no search API, so the answer is its catalog filtered by TERM, and a
 * line on stderr says so. FERRY_HUB_SEARCH_URL replaces Hub's URL. Exit 0, 1, 2 (docs/cli.md).
 */
import { UsageError } from '../errors.js';
import { listCatalog } from '../registry/catalog.js';
import { filterResults, hubSearchUrl, searchHub, type SearchFilter, type SearchResult } from '../registry/search.js';
import type { SearchArgs } from './commands.js';
import { makeOutput, makeRegistries } from './common.js';

const HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** `HOST/TERM` -> host and term (a first part with a dot, a port or `localhost` is a host). */
export function splitTerm(text: string): { host: string | undefined; term: string } {
  const i = text.indexOf('/');
  if (i > 0) {
    const first = text.slice(0, i);
    if (/[.:]/.test(first) || first === 'localhost') return { host: HUB_HOSTS.has(first) ? undefined : first, term: text.slice(i + 1) };
  }
  return { host: undefined, term: text };
}

/** Parses --filter values as docker search does. Throws a UsageError (exit 2) for others. */
export function parseFilters(values: readonly string[]): SearchFilter {
  const f: SearchFilter = { stars: 0, official: undefined };
  for (const v of values) {
    const [key, value = ''] = v.split(/=(.*)/s) as [string, string?];
    if (key === 'stars' && /^\d+$/.test(value)) f.stars = Number(value);
    else if (key === 'is-official' && (value === 'true' || value === 'false')) f.official = value === 'true';
    else throw new UsageError(`invalid --filter "${v}"`, 'use stars=N or is-official=true|false');
  }
  return f;
}

function limitOption(v: string): number {
  const n = /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--limit must be a whole number from 1 to 100, got "${v}"`);
  return n;
}

/** docker's ellipsis: at most `n` characters, the last one `…` when shortened. */
const ellipsis = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

function table(results: readonly SearchResult[], trunc: boolean): string {
  const rows = [['NAME', 'DESCRIPTION', 'STARS', 'OFFICIAL'], ...results.map((r) => {
    const desc = r.description.replace(/\s*\n\s*/g, ' ');
    return [r.name, trunc ? ellipsis(desc, 45) : desc, String(r.stars), r.official ? '[OK]' : ''];
  })];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => `${r.map((v, c) => v.padEnd(widths[c]!)).join('   ').trimEnd()}\n`).join('');
}

export async function runSearch(a: SearchArgs): Promise<number> {
  const limit = limitOption(a.limit);
  const filter = parseFilters(a.filter);
  const { host, term } = splitTerm(a.term);
  const out = makeOutput(a);
  const registries = makeRegistries(a);
  try {
    let results: SearchResult[];
    if (host === undefined) {
      results = filterResults(await searchHub(term, limit, (h) => registries.dispatcher(h), hubSearchUrl(), registries.retryPolicy), filter);
    } else {
      out.info(`${host} has no search API: showing the repositories of its catalog (_catalog) whose name contains "${term}"`);
      const want = term.toLowerCase();
      const names = (await listCatalog(registries.client(host))).filter((n) => n.toLowerCase().includes(want));
      results = filterResults(names.map((n) => ({ name: `${host}/${n}`, description: '', stars: 0, official: false })), filter).slice(0, limit);
    }
    if (a.json) out.report({ command: 'search', status: 'ok', registry: host ?? 'docker.io', source: host === undefined ? 'search-api' : 'catalog', term, results });
    else process.stdout.write(table(results, a.trunc));
    return 0;
  } finally {
    await registries.close();
  }
}
