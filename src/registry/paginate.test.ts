import { describe, expect, it } from 'vitest';
import { nextLink } from './paginate.js';

describe('nextLink (RFC 8288 Link header)', () => {
  it.each([
    ['</v2/x/tags/list?n=100&last=y>; rel="next"', '/v2/x/tags/list?n=100&last=y'],
    ['</v2/_catalog?last=b&n=2>; rel=next', '/v2/_catalog?last=b&n=2'],
    ['<https://r.example/v2/x/tags/list?last=y>;rel="next"', 'https://r.example/v2/x/tags/list?last=y'],
    ['</a>; rel="prev", </b>; rel="next"', '/b'],
    ['</a>; rel="first next"', '/a'],
    ['</a>; rel="prev"', undefined],
    ['</a>; rel="nextpage"', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%j -> %j', (header, want) => {
    expect(nextLink(header)).toBe(want);
  });
});
