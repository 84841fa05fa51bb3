/** Platforms: `os/arch[/variant]` strings and matching against index entries. */
import { UsageError } from '../errors.js';
import type { Descriptor, Platform } from './manifest.js';

export interface PlatformSpec {
  os: string;
  architecture: string;
  variant?: string;
}

/** `all` selects every platform of an index. */
export type PlatformSelection = { all: true } | { all: false; platforms: PlatformSpec[] };

export const DEFAULT_PLATFORM = 'linux/amd64';

/** Parses `os/arch[/variant]`. Throws a UsageError (exit 2) naming the bad value. */
export function parsePlatform(s: string): PlatformSpec {
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9._-]+$/.test(p))) {
    throw new UsageError(`invalid platform "${s}": expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`);
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** Parses a list of platform strings (`all` alone selects every platform). */
export function parsePlatformSelection(values: readonly string[] | undefined): PlatformSelection {
  const given = (values ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  const list = given.length > 0 ? given : [DEFAULT_PLATFORM];
  if (list.includes('all')) return { all: true };
  return { all: false, platforms: list.map(parsePlatform) };
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
