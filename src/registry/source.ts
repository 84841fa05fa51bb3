/**
 * The registry as an image source: resolves a reference to an ImagePlan (manifests fetched and
 * verified, platforms selected) and opens blobs for the store. Platform rules:
 * - a single manifest is kept as is;
 * - an index with every entry kept goes in unchanged (same digest);
 * - one platform of an index: the platform manifest becomes the image (its digest is upstream's);
 * - several but not all: a new index of those entries is written, and a note says the index
 *   digest differs from upstream.
 */
import { FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import type { Descriptor } from '../oci/manifest.js';
import { formatPlatform, selectPlatforms, type PlatformSelection } from '../oci/platform.js';
import { formatReference, manifestIdentifier, type Reference } from '../reference/parse-reference.js';
import type { BlobOpener } from '../store/blob-store.js';
import type { ImagePlan, PlannedManifest, PlatformImage } from '../transfer/plan.js';
import { openBlob } from './blobs.js';
import type { RegistryClient } from './client.js';
import { getManifest, type FetchedManifest } from './manifests.js';

export interface ResolveOptions {
  request: string;
  ref: Reference;
  /** The name in the bundle; defaults to the reference. */
  name?: Reference;
  platforms: PlatformSelection;
}

function nameOf(ref: Reference): string | undefined {
  if (!ref.tag) return undefined;
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

/** Resolves a reference into a plan. Throws NOT_FOUND when no requested platform exists. */
export async function resolveImage(client: RegistryClient, opts: ResolveOptions): Promise<ImagePlan> {
  const { ref } = opts;
  const what = `resolving ${formatReference(ref)}`;
  const top = await getManifest(client, ref.repository, manifestIdentifier(ref), what);
  const notes: string[] = [];
  const name = nameOf(opts.name ?? ref);
  const base = { request: opts.request, ref, name, upstreamDigest: top.digest, notes };

  if (top.parsed.kind === 'manifest') {
    const img = imageOf(top, undefined);
    return { ...base, root: desc(top), manifests: [toPlanned(top)], images: [img] };
  }

  const entries = top.parsed.manifests;
  const kept = selectPlatforms(entries, opts.platforms);
  if (kept.length === 0) {
    const available = entries.map((m) => formatPlatform(m.platform)).join(', ');
    throw new FerryError('NOT_FOUND', `${what}: no manifest for platform ${describeSelection(opts.platforms)} (the index has: ${available})`, {
      hint: 'choose one of the listed platforms with --platform, or --platform all',
    });
  }
  const children: FetchedManifest[] = [];
  for (const d of kept) {
    const child = await getManifest(client, ref.repository, d.digest, `${what} (${formatPlatform(d.platform)})`);
    if (child.parsed.kind !== 'manifest') {
      throw new FerryError('UNSUPPORTED', `${what}: nested index ${d.digest} is not supported`);
    }
    children.push(child);
  }
  const images = children.map((c, i) => imageOf(c, kept[i]!));
  const planned = children.map(toPlanned);

  if (kept.length === entries.length) {
    return { ...base, root: desc(top), manifests: [...planned, toPlanned(top)], images };
  }
  if (kept.length === 1) {
    notes.push(`${formatReference(ref)}: kept ${formatPlatform(kept[0]!.platform)} manifest ${kept[0]!.digest} of ${entries.length}-platform index ${top.digest}; push it as a single-platform image, or use --platform all to keep the index digest`);
    return { ...base, root: { ...kept[0]!, mediaType: children[0]!.mediaType }, manifests: planned, images };
  }
  // A subset of several platforms: a new index, whose digest cannot equal upstream's.
  const doc = JSON.parse(top.raw.toString('utf8')) as Record<string, unknown>;
  doc.manifests = kept;
  const raw = Buffer.from(JSON.stringify(doc, null, 2));
  const digest = sha256Digest(raw);
  notes.push(`${formatReference(ref)}: kept ${kept.length} of ${entries.length} platforms; the bundle's index ${digest} differs from upstream index ${top.digest} (use --platform all to keep it)`);
  const sub: PlannedManifest = { digest, mediaType: top.mediaType, raw };
  return { ...base, root: { mediaType: top.mediaType, digest, size: raw.length }, manifests: [...planned, sub], images };
}

function describeSelection(s: PlatformSelection): string {
  return s.all ? 'all' : s.platforms.map(formatPlatform).join(', ');
}

function desc(m: FetchedManifest): Descriptor {
  return { mediaType: m.mediaType, digest: m.digest, size: m.raw.length };
}

function toPlanned(m: FetchedManifest): PlannedManifest {
  return { digest: m.digest, mediaType: m.mediaType, raw: m.raw };
}

function imageOf(m: FetchedManifest, entry: Descriptor | undefined): PlatformImage {
  if (m.parsed.kind !== 'manifest') throw new Error('unreachable');
  return { platform: entry?.platform, manifest: entry ? { ...entry, mediaType: m.mediaType } : desc(m), config: m.parsed.config, layers: m.parsed.layers };
}

/** A BlobOpener for the store, reading from the registry. */
export function registryBlobOpener(client: RegistryClient, repository: string, digest: string, what: string): BlobOpener {
  return (offset) => openBlob(client, repository, digest, offset, what);
}
