import { describe, expect, it } from 'vitest';
import { compareVersions, describeSelector, parseRange, parseVersion, rankTags, satisfies, selectTags } from './tag-select.js';

describe('parseVersion', () => {
  it.each([
    ['1.2.3', { major: 1, minor: 2, patch: 3, pre: [] }],
    ['v1.2.3', { major: 1, minor: 2, patch: 3, pre: [] }],
    ['1.27', { major: 1, minor: 27, patch: 0, pre: [] }],
    ['2', { major: 2, minor: 0, patch: 0, pre: [] }],
    ['1.28.0-rc.1', { major: 1, minor: 28, patch: 0, pre: ['rc', '1'] }],
    ['1.27-alpine', { major: 1, minor: 27, patch: 0, pre: ['alpine'] }],
  ])('%s is a version', (tag, v) => expect(parseVersion(tag)).toEqual(v));

  it.each(['latest', 'stable', 'sha-1a2b3c', '1.2.3.4', '01.2.3', 'v', '1..2', '1.2.3-', 'x1.2.3'])('%s is not a version', (tag) => expect(parseVersion(tag)).toBeUndefined());
});

describe('compareVersions', () => {
  const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0', '1.0.1', '1.2.0', '1.10.0', '2.0.0'];
  it('follows semver precedence (semver.org item 11)', () => {
    for (let i = 1; i < order.length; i++) expect(compareVersions(parseVersion(order[i - 1]!)!, parseVersion(order[i]!)!), `${order[i - 1]} < ${order[i]}`).toBeLessThan(0);
    expect(compareVersions(parseVersion('v1.2')!, parseVersion('1.2.0')!)).toBe(0);
  });
});

describe('satisfies', () => {
  it.each([
    ['>=1.26 <1.28', ['1.26.0', '1.26.5', '1.27.9', '1.27'], ['1.25.9', '1.28.0', '1.28.0-rc.1', '1.27.0-rc.1', '2.0.0']],
    ['>1.2.3', ['1.2.4', '1.3.0'], ['1.2.3', '1.2.0']],
    ['<=1.2.3', ['1.2.3', '0.1.0'], ['1.2.4']],
    ['=1.2.3', ['1.2.3', 'v1.2.3'], ['1.2.4']],
    ['1.27', ['1.27.0', '1.27.12'], ['1.28.0', '1.26.9']],
    ['^1.2.3', ['1.2.3', '1.9.0'], ['2.0.0', '1.2.2', '2.0.0-rc.1']],
    ['^0.2.3', ['0.2.9'], ['0.3.0']],
    ['^0.0.3', ['0.0.3'], ['0.0.4']],
    ['~1.2.3', ['1.2.3', '1.2.9'], ['1.3.0']],
    ['~1', ['1.0.0', '1.9.9'], ['2.0.0']],
    ['<1.1 || >=2.0 <2.1', ['1.0.5', '2.0.3'], ['1.1.0', '2.1.0']],
    ['>= 1.26', ['1.26.0'], ['1.25.0']],
    ['>=1.28.0-rc.1 <1.29', ['1.28.0-rc.1', '1.28.0-rc.2', '1.28.0', '1.28.3'], ['1.28.1-rc.1', '1.29.0']],
  ])('%s', (range, yes, no) => {
    const r = parseRange(range);
    for (const t of yes) expect(satisfies(parseVersion(t)!, r), `${t} satisfies ${range}`).toBe(true);
    for (const t of no) expect(satisfies(parseVersion(t)!, r), `${t} does not satisfy ${range}`).toBe(false);
  });

  it.each([
    ['>=1.26 <junk', '"<junk" in ">=1.26 <junk" is not a comparator (e.g. >=1.26, <1.28.0, ^2.1, ~1.4.2)'],
    ['>=1.26 ||', '">=1.26 ||" has an empty alternative'],
    ['=>1', '"=>1" in "=>1" is not a comparator (e.g. >=1.26, <1.28.0, ^2.1, ~1.4.2)'],
  ])('rejects %s', (range, message) => expect(() => parseRange(range)).toThrow(message));
});

describe('selectTags', () => {
  const tags = ['1.25.0', '1.25.3', '1.26.0', '1.26.1', '1.27.0', '1.27.2', '1.28.0', '1.28.3', '1.28.0-rc.1', 'latest', 'stable', 'v1.27.5', '1.27-alpine', 'sha-abc'];
  it.each([
    [{ semver: '>=1.26 <1.28' }, undefined, ['1.27.2', 'v1.27.5', '1.27.0', '1.26.1', '1.26.0'].sort((a, b) => compareVersions(parseVersion(b)!, parseVersion(a)!))],
    [{ semver: '>=1.26 <1.28' }, 2, ['v1.27.5', '1.27.2']],
    [{ latest: 3 }, undefined, ['1.28.3', '1.28.0', 'v1.27.5']],
    [{ regex: '1\\.25\\..*' }, undefined, ['1.25.3', '1.25.0']],
    [{ regex: 'lat' }, undefined, []], // anchored: the whole tag must match
    [['stable', 'latest', 'stable'], undefined, ['stable', 'latest']],
    [['9.9.9'], undefined, ['9.9.9']],
    ['all' as const, 3, ['1.28.3', '1.28.0', '1.28.0-rc.1']],
  ])('%j limit %s', (selector, limit, expected) => expect(selectTags(tags, selector, limit)).toEqual(expected));

  it('ranks versions highest first, then other tags in reverse lexical order', () => {
    expect(rankTags(['latest', '1.2', '1.10.0', 'alpha', '1.2.0', 'v1.2.0'])).toEqual(['1.10.0', '1.2', '1.2.0', 'v1.2.0', 'latest', 'alpha']);
  });

  it('describes selectors in one line', () => {
    expect(describeSelector({ semver: '>=1.26 <1.28' })).toBe('semver ">=1.26 <1.28"');
    expect(describeSelector({ latest: 3 }, 2)).toBe('latest 3, limit 2');
    expect(describeSelector(['a', 'b'])).toBe('[a, b]');
    expect(describeSelector('all', 5)).toBe('all, limit 5');
  });
});
