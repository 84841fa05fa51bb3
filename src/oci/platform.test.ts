import { describe, expect, it } from 'vitest';
import { FerryError, UsageError } from '../errors.js';
import type { Descriptor, Platform } from './manifest.js';
import { KNOWN_ARCH, KNOWN_OS, formatPlatform, requirePlatform, parsePlatform, parsePlatformSelection, platformMatches, platformProblem, selectPlatforms, type PlatformSelection, type PlatformSpec } from './platform.js';

describe('parsePlatform', () => {
  const valid: [string, PlatformSpec][] = [
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['windows/amd64', { os: 'windows', architecture: 'amd64' }],
  ];
  it.each(valid)('%s', (s, want) => {
    expect(parsePlatform(s)).toEqual(want);
  });

  const invalid = ['linux', 'linux/', '/amd64', 'linux/amd64/v8/x', 'Linux/AMD64', 'linux amd64', ''];
  it.each(invalid)('rejects %j with a UsageError (exit 2)', (s) => {
    let caught: unknown;
    try {
      parsePlatform(s);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(UsageError);
    const e = caught as UsageError;
    expect(e.code).toBe('USAGE');
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  });
});

describe('parsePlatform: the manifest file\'s rules on the command line (known OS and architecture)', () => {
  const cases: [string, string][] = [
    ['linux/amd65', `invalid platform "linux/amd65": unknown architecture "amd65" (known: ${KNOWN_ARCH.join(', ')})`],
    ['linx/amd64', `invalid platform "linx/amd64": unknown operating system "linx" (known: ${KNOWN_OS.join(', ')})`],
    ['linux/x86_64', `invalid platform "linux/x86_64": unknown architecture "x86_64" (known: ${KNOWN_ARCH.join(', ')})`],
  ];
  it.each(cases)('rejects %s naming the part and what is known', (s, msg) => {
    expect(() => parsePlatform(s)).toThrow(UsageError);
    expect(() => parsePlatform(s)).toThrow(msg);
    expect(platformProblem(s)).toBe(msg.slice(`invalid platform "${s}": `.length));
  });

  it('accepts every known OS/architecture pair shape, and unknown variants', () => {
    expect(platformProblem('linux/riscv64')).toBeUndefined();
    expect(platformProblem('windows/arm64/v8')).toBeUndefined();
    expect(platformProblem('linux/arm/v5')).toBeUndefined();
  });

  it('rejects --platform linux/amd65 in a list too', () => {
    expect(() => parsePlatformSelection(['linux/arm64,linux/amd65'])).toThrow('invalid platform "linux/amd65": unknown architecture "amd65"');
  });
});

describe('parsePlatformSelection', () => {
  const amd64: PlatformSpec = { os: 'linux', architecture: 'amd64' };
  const arm64: PlatformSpec = { os: 'linux', architecture: 'arm64' };
  const armv7: PlatformSpec = { os: 'linux', architecture: 'arm', variant: 'v7' };
  const cases: [label: string, values: readonly string[] | undefined, want: PlatformSelection][] = [
    ['undefined -> default linux/amd64, marked as defaulted', undefined, { all: false, platforms: [amd64], defaulted: true }],
    ['empty list -> default linux/amd64, marked as defaulted', [], { all: false, platforms: [amd64], defaulted: true }],
    ['linux/amd64 asked for is not defaulted', ['linux/amd64'], { all: false, platforms: [amd64] }],
    ['all', ['all'], { all: true }],
    ['all inside a list', ['linux/amd64,all'], { all: true }],
    ['comma list', ['linux/amd64,linux/arm64'], { all: false, platforms: [amd64, arm64] }],
    ['comma list with spaces and a trailing comma', ['linux/amd64, linux/arm/v7,'], { all: false, platforms: [amd64, armv7] }],
    ['repeated flags', ['linux/amd64', 'linux/arm64'], { all: false, platforms: [amd64, arm64] }],
  ];
  it.each(cases)('%s', (_label, values, want) => {
    expect(parsePlatformSelection(values)).toEqual(want);
  });

  it('rejects an invalid entry with a UsageError naming it', () => {
    expect(() => parsePlatformSelection(['linux/amd64,arm64'])).toThrow(UsageError);
    expect(() => parsePlatformSelection(['linux/amd64,arm64'])).toThrow('invalid platform "arm64"');
  });
});

describe('formatPlatform', () => {
  it('formats os/arch[/variant], unknown when absent', () => {
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: 'v7' })).toBe('linux/arm/v7');
    expect(formatPlatform({ os: 'linux', architecture: 'amd64' })).toBe('linux/amd64');
    expect(formatPlatform(undefined)).toBe('unknown');
  });
});

describe('platformMatches', () => {
  const p = (s: string): Platform => {
    const [os, architecture, variant] = s.split('/') as [string, string, string | undefined];
    return variant === undefined ? { os, architecture } : { os, architecture, variant };
  };
  const cases: [want: string, have: string | undefined, match: boolean][] = [
    ['linux/amd64', 'linux/amd64', true],
    ['linux/amd64', 'linux/arm64', false],
    ['linux/amd64', 'windows/amd64', false],
    ['linux/amd64', undefined, false],
    // arm64: no variant means v8, on either side
    ['linux/arm64', 'linux/arm64/v8', true],
    ['linux/arm64', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/arm64', true],
    ['linux/arm64/v8', 'linux/arm64/v8', true],
    // arm: no variant means v7
    ['linux/arm/v7', 'linux/arm', true],
    ['linux/arm/v7', 'linux/arm/v7', true],
    ['linux/arm/v6', 'linux/arm/v7', false],
    ['linux/arm/v6', 'linux/arm', false],
    ['linux/arm/v7', 'linux/arm/v6', false],
    ['linux/arm', 'linux/arm/v7', true],
    ['linux/arm', 'linux/arm', true],
  ];
  it.each(cases)('want %s, have %s -> %s', (want, have, match) => {
    expect(platformMatches(parsePlatform(want), have === undefined ? undefined : p(have))).toBe(match);
  });

  // containerd normalises `linux/arm` to linux/arm/v7 before matching, and `docker pull
  // --platform linux/arm` of an index with v6 and v7 entries gets v7 only.
  it('linux/arm means arm/v7: it does not match an arm/v6 entry', () => {
    expect(platformMatches(parsePlatform('linux/arm'), p('linux/arm/v6'))).toBe(false);
  });
});

describe('selectPlatforms', () => {
  const d = (n: number, platform: Platform | undefined): Descriptor => ({
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100 + n,
    ...(platform ? { platform } : {}),
  });
  const index = [
    d(1, { os: 'linux', architecture: 'amd64' }),
    d(2, { os: 'linux', architecture: 'arm', variant: 'v6' }),
    d(3, { os: 'linux', architecture: 'arm', variant: 'v7' }),
    d(4, { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    d(5, { os: 'unknown', architecture: 'unknown' }),
    d(6, { os: 'unknown', architecture: 'unknown' }),
  ];
  const digests = (ds: Descriptor[]): string[] => ds.map((x) => x.digest);

  it('keeps everything, attestations included, for all', () => {
    expect(selectPlatforms(index, { all: true })).toEqual(index);
  });

  it('keeps the default platform only', () => {
    expect(digests(selectPlatforms(index, parsePlatformSelection(undefined)))).toEqual([index[0]!.digest]);
  });

  it('keeps requested platforms in index order, not request order, dropping attestations', () => {
    const sel = parsePlatformSelection(['linux/arm64,linux/amd64']);
    expect(digests(selectPlatforms(index, sel))).toEqual([index[0]!.digest, index[3]!.digest]);
  });

  it('linux/arm64 (no variant) selects the arm64/v8 entry', () => {
    expect(digests(selectPlatforms(index, parsePlatformSelection(['linux/arm64'])))).toEqual([index[3]!.digest]);
  });

  it('linux/arm selects the arm/v7 entry only (v7 is the default arm variant)', () => {
    expect(digests(selectPlatforms(index, parsePlatformSelection(['linux/arm'])))).toEqual([index[2]!.digest]);
  });

  it('selects nothing when nothing matches', () => {
    expect(selectPlatforms(index, parsePlatformSelection(['linux/s390x']))).toEqual([]);
  });

  it('returns a copy, not the input array', () => {
    const all = selectPlatforms(index, { all: true });
    expect(all).not.toBe(index);
  });
});

describe('requirePlatform (a single-platform image against the platforms asked for)', () => {
  const amd64: Platform = { os: 'linux', architecture: 'amd64' };
  it('accepts a match, any match of several, all, the default, and an image without a platform', () => {
    expect(() => requirePlatform(amd64, parsePlatformSelection(['linux/amd64']))).not.toThrow();
    expect(() => requirePlatform(amd64, parsePlatformSelection(['linux/arm64,linux/amd64']))).not.toThrow();
    expect(() => requirePlatform(amd64, parsePlatformSelection(['all']))).not.toThrow();
    expect(() => requirePlatform({ os: 'linux', architecture: 'arm64' }, parsePlatformSelection([]))).not.toThrow();
    expect(() => requirePlatform(undefined, parsePlatformSelection(['linux/arm64']))).not.toThrow();
  });

  it('rejects a platform the image does not have with NOT_FOUND (exit 1) naming the image\'s platform', () => {
    let caught: unknown;
    try {
      requirePlatform(amd64, parsePlatformSelection(['linux/arm64', 'linux/s390x']));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FerryError);
    expect((caught as FerryError).code).toBe('NOT_FOUND');
    expect((caught as FerryError).exitCode).toBe(1);
    expect((caught as FerryError).message).toBe('the image is linux/amd64 only; asked for linux/arm64, linux/s390x');
    expect((caught as FerryError).hint).toBe('it is a single-platform image, so there is no other platform to choose: ask for linux/amd64, or leave the platform out');
  });
});
