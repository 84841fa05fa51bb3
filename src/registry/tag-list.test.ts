import { describe, expect, it } from 'vitest';
import { nextPage } from './tag-list.js';

describe('nextPage (RFC 8288 Link, as the distribution spec uses it)', () => {
  it.each([
    ['</v2/a/tags/list?last=b&n=2>; rel="next"', '/v2/a/tags/list?last=b&n=2'],
    ['<https://r.example/v2/a/tags/list?last=b>; rel=next', 'https://r.example/v2/a/tags/list?last=b'],
    ['</x>; rel="prev", </y>; rel="next"', '/y'],
    ['</x>; rel="prev"', undefined],
    [undefined, undefined],
    ['garbage', undefined],
  ])('%s', (link, want) => expect(nextPage(link)).toBe(want));
});
