import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseFilters, splitTerm } from './search.js';

describe('search arguments', () => {
  it.each([
    ['nginx', { host: undefined, term: 'nginx' }],
    ['bitnami/nginx', { host: undefined, term: 'bitnami/nginx' }],
    ['docker.io/nginx', { host: undefined, term: 'nginx' }],
    ['127.0.0.1:5000/app', { host: '127.0.0.1:5000', term: 'app' }],
    ['registry.example.org/team', { host: 'registry.example.org', term: 'team' }],
    ['localhost/x', { host: 'localhost', term: 'x' }],
  ])('splitTerm(%j)', (t, want) => {
    expect(splitTerm(t)).toEqual(want);
  });

  it('parses --filter as docker search does', () => {
    expect(parseFilters([])).toEqual({ stars: 0, official: undefined });
    expect(parseFilters(['stars=3', 'is-official=true'])).toEqual({ stars: 3, official: true });
    expect(parseFilters(['is-official=false'])).toEqual({ stars: 0, official: false });
    for (const bad of ['stars=x', 'is-official=yes', 'is-automated=true', 'stars']) expect(() => parseFilters([bad])).toThrow(UsageError);
  });
});

describe('FERRY_HUB_SEARCH_URL', () => {
  it('defaults to Docker Hub and refuses what is not an http(s) URL', async () => {
    const { hubSearchUrl } = await import('../registry/search.js');
    expect(hubSearchUrl({})).toBe('https://index.docker.io/v1/search');
    expect(hubSearchUrl({ FERRY_HUB_SEARCH_URL: 'http://127.0.0.1:9/v1/search' })).toBe('http://127.0.0.1:9/v1/search');
    for (const bad of ['nonsense', 'ftp://x/y']) expect(() => hubSearchUrl({ FERRY_HUB_SEARCH_URL: bad })).toThrow(UsageError);
  });
});
