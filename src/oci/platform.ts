/** Platforms: `os/arch[/variant]` strings and matching against index entries. */
import { FerryError, UsageError } from '../errors.js';
import type { Descriptor, Platform } from './manifest.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * `all` selects every platform of an index. `defaulted` marks the default (linux/amd64) used
 * because nothing was asked for: a single-platform image of another platform is then taken as
 * it is, while a platform that was asked for must exist (registry/source.ts).
 */
export type PlatformSelection = { all: true } | { all: false; platforms: PlatformSpec[]; defaulted?: true };

export const DEFAULT_PLATFORM = 'linux/amd64';

/** Operating systems and architectures that exist (GOOS/GOARCH values images use). */
export const KNOWN_OS = ['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'plan9', 'js', 'wasip1', 'unknown'];
export const KNOWN_ARCH = ['amd64', 'arm64', 'arm', '386', 'ppc64le', 'ppc64', 's390x', 'riscv64', 'mips64le', 'mips64', 'mipsle', 'mips', 'loong64', 'wasm', 'unknown'];

/**
 * Why a platform string is not valid, or undefined when it is: the same rules on the command
 * line as in the manifest file (os/arch[/variant], lowercase, a known OS and architecture).
 */
export function platformProblem(s: string): string | undefined {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    return 'expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8';
  }
  if (!KNOWN_OS.includes(parts[0]!)) return `unknown operating system "${parts[0]}" (known: ${KNOWN_OS.join(', ')})`;
  if (!KNOWN_ARCH.includes(parts[1]!)) return `unknown architecture "${parts[1]}" (known: ${KNOWN_ARCH.join(', ')})`;
  return undefined;
}

/** Parses `os/arch[/variant]`. Throws a UsageError (exit 2) naming the bad value and what is allowed. */
export function parsePlatform(s: string): PlatformSpec {
  const problem = platformProblem(s);
  if (problem) throw new UsageError(`invalid platform "${s}": ${problem}`);
  const [os, architecture, variant] = s.split('/') as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** Parses a list of platform strings (`all` alone selects every platform); none given is the default. */
export function parsePlatformSelection(values: readonly string[] | undefined): PlatformSelection {
  const given = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (given.includes('all')) return { all: true };
  if (given.length === 0) return { all: false, platforms: [parsePlatform(DEFAULT_PLATFORM)], defaulted: true };
  return { all: false, platforms: given.map(parsePlatform) };
}

export function formatPlatform(p: Platform | PlatformSpec | undefined): string {
  if (!p) return 'unknown';
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** arm64 without a variant means v8, and arm without one is v7 (containerd platforms normalize). */
function normVariant(arch: string, variant: string | undefined): string | undefined {
  if (arch === 'arm64' && (variant === undefined || variant === 'v8')) return 'v8';
  if (arch === 'arm' && variant === undefined) return 'v7';
  return variant;
}

/** Whether an index entry's platform matches a requested platform. */
export function platformMatches(want: PlatformSpec, have: Platform | undefined): boolean {
  if (!have) return false;
  if (want.os !== have.os || want.architecture !== have.architecture) return false;
  // No variant asked: any arm64 matches, but plain arm means arm/v7 (containerd's normalisation).
  if (want.variant === undefined && want.architecture !== 'arm') return true;
  return normVariant(want.architecture, want.variant) === normVariant(have.architecture, have.variant);
}

/**
 * The index entries a selection keeps, in index order. Attestation manifests
 * (`unknown/unknown`) are dropped unless everything is kept.
 */
export function selectPlatforms(manifests: readonly Descriptor[], selection: PlatformSelection): Descriptor[] {
  if (selection.all) return [...manifests];
  return manifests.filter((m) => selection.platforms.some((p) => platformMatches(p, m.platform)));
}

/**
 * Checks that a single-platform image (its platform from its config) has a platform that was
 * asked for, as `docker pull --platform` does. The default selection (nothing asked for) and
 * `all` accept any platform, and so does an image without one (an artifact). Throws NOT_FOUND
 * (exit 1, as for an index without the platform) naming the image's platform.
 */
export function requirePlatform(have: Platform | undefined, sel: PlatformSelection): void {
  if (sel.all || sel.defaulted || !have || sel.platforms.some((p) => platformMatches(p, have))) return;
  const asked = sel.platforms.map(formatPlatform).join(', ');
  throw new FerryError('NOT_FOUND', `the image is ${formatPlatform(have)} only; asked for ${asked}`, {
    hint: `it is a single-platform image, so there is no other platform to choose: ask for ${formatPlatform(have)}, or leave the platform out`,
  });
}
