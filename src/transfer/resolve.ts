/**
 * Resolving a reference to an ImagePlan, the same way for every source (registry, OCI layout):
 * every manifest and index fetched and verified, platforms selected at any depth of index,
 * artifacts told apart from images, non-distributable layers noted, referrers discovered.
 * Platform rules:
 * - a single manifest is kept as is;
 * - an index with every leaf kept goes in unchanged, nested indexes included (same digests);
 * - one platform: the platform manifest becomes the image (its digest is upstream's);
 * - several but not all: a new flat index of those entries is written, and a note says the
 *   index digest differs from upstream.
 * Attestation entries (`unknown/unknown`) are never counted as platforms.
 */
import { FerryError } from '../errors.js';
import { sha256Digest } from '../digest/digest.js';
import type { Descriptor, Platform } from '../oci/manifest.js';
import { isForeignLayerType, isIndexType } from '../oci/media-types.js';
import { formatPlatform, selectPlatforms, type PlatformSelection } from '../oci/platform.js';
import { formatReference, manifestIdentifier, type Reference } from '../reference/parse-reference.js';
import type { FetchedManifest, ImageSource } from '../content/image-source.js';
import { platformImageOf, type ImagePlan, type PlannedManifest, type PlatformImage } from '../content/plan.js';
import { discoverReferrers } from './referrers.js';

export interface ResolveOptions {
  request: string;
  ref: Reference;
  /** The name in the bundle; defaults to the reference. */
  name?: Reference;
  platforms: PlatformSelection;
  /** Carry non-distributable (foreign) layers instead of noting and skipping them. */
  allowNondistributable?: boolean;
  /** Discover and carry signatures, attestations and SBOMs (default true). */
  referrers?: boolean;
  /** Blobs the receiving side has (`--have`): its layers among them are expected there, not carried. */
  have?: ReadonlySet<string>;
}

/** Indexes nest at most this deep (a loop of indexes is an error, not a hang). */
const MAX_DEPTH = 8;

function nameOf(ref: Reference): string | undefined {
  if (!ref.tag) return undefined;
  return `${ref.registry}/${ref.repository}:${ref.tag}`;
}

const isAttestation = (p: Platform | undefined): boolean => p?.os === 'unknown' || p?.architecture === 'unknown';

interface Tree {
  /** Every index below the top (children before parents). */
  indexes: FetchedManifest[];
  /** Leaf entries with their platform (from the nearest index entry that has one). */
  leaves: Descriptor[];
}

/** Fetches the nested indexes of `index` and lists its leaf entries, depth first. */
async function walkIndex(source: ImageSource, repository: string, index: FetchedManifest, what: string, depth: number): Promise<Tree> {
  if (index.parsed.kind !== 'index') return { indexes: [], leaves: [] };
  if (depth > MAX_DEPTH) throw new FerryError('UNSUPPORTED', `${what}: indexes nest more than ${MAX_DEPTH} deep`);
  const tree: Tree = { indexes: [], leaves: [] };
  for (const d of index.parsed.manifests) {
    if (!isIndexType(d.mediaType)) {
      tree.leaves.push(d);
      continue;
    }
    const child = (await source.manifest(repository, d.digest, `${what} (nested index ${d.digest})`))!;
    const sub = await walkIndex(source, repository, child, what, depth + 1);
    tree.indexes.push(...sub.indexes, child);
    tree.leaves.push(...sub.leaves.map((l) => (l.platform || !d.platform ? l : { ...l, platform: d.platform })));
  }
  return tree;
}

/** Resolves a reference into a plan. Throws NOT_FOUND when no requested platform exists. */
export async function resolveImage(source: ImageSource, opts: ResolveOptions): Promise<ImagePlan> {
  const { ref } = opts;
  const what = `resolving ${formatReference(ref)}`;
  const top = (await source.manifest(ref.repository, manifestIdentifier(ref), what))!;
  const notes: string[] = [];
  const name = nameOf(opts.name ?? ref);
  const base = { request: opts.request, ref, name, upstreamDigest: top.digest, notes };
  const plan = await selectFrom(source, top, opts, base, what);
  noteForeignLayers(plan, opts.allowNondistributable === true);
  if (opts.have) markExpected(plan, opts.have);
  if (opts.referrers !== false) await discoverReferrers(source, plan);
  return plan;
}

async function selectFrom(source: ImageSource, top: FetchedManifest, opts: ResolveOptions, base: Omit<ImagePlan, 'root' | 'manifests' | 'images'>, what: string): Promise<ImagePlan> {
  const { ref } = opts;
  const notes = base.notes;
  if (top.parsed.kind === 'manifest') {
    return { ...base, root: desc(top), manifests: [toPlanned(top)], images: [imageOf(top, undefined)] };
  }
  const tree = await walkIndex(source, ref.repository, top, what, 1);
  const leaves = tree.leaves;
  const kept = selectPlatforms(leaves, opts.platforms);
  if (kept.length === 0) {
    const available = leaves.filter((m) => !isAttestation(m.platform)).map((m) => formatPlatform(m.platform)).join(', ') || 'no platform images';
    throw new FerryError('NOT_FOUND', `${what}: no manifest for platform ${describeSelection(opts.platforms)} (the index has: ${available})`, {
      hint: 'choose one of the listed platforms with --platform, or --platform all',
    });
  }
  const children: FetchedManifest[] = [];
  for (const d of kept) children.push((await source.manifest(ref.repository, d.digest, `${what} (${formatPlatform(d.platform)})`))!);
  const images = children.map((c, i) => imageOf(c, kept[i]!));
  const planned = children.map(toPlanned);

  if (kept.length === leaves.length) {
    return { ...base, root: desc(top), manifests: [...planned, ...tree.indexes.map(toPlanned), toPlanned(top)], images };
  }
  const platformCount = leaves.filter((m) => !isAttestation(m.platform)).length;
  if (kept.length === 1) {
    notes.push(`${formatReference(ref)}: kept ${formatPlatform(kept[0]!.platform)} manifest ${kept[0]!.digest} of ${platformCount}-platform index ${top.digest}; it travels as a single-platform image under that digest (use --platform all to keep the index and its digest)`);
    return { ...base, root: { ...kept[0]!, mediaType: children[0]!.mediaType }, manifests: planned, images };
  }
  // A subset of several platforms: a new flat index, whose digest cannot equal upstream's.
  const doc = JSON.parse(top.raw.toString('utf8')) as Record<string, unknown>;
  doc.manifests = kept;
  const raw = Buffer.from(JSON.stringify(doc, null, 2));
  const digest = sha256Digest(raw);
  notes.push(`${formatReference(ref)}: kept ${kept.length} of ${platformCount} platforms; the bundle's index ${digest} differs from upstream index ${top.digest} (use --platform all to keep it)`);
  const sub: PlannedManifest = { digest, mediaType: top.mediaType, raw };
  return { ...base, root: { mediaType: top.mediaType, digest, size: raw.length }, manifests: [...planned, sub], images };
}

/**
 * Non-distributable layers (Windows base layers and the like) are not carried by default, as
 * `docker push` does not push them: the plan lists them in `foreign`, and a note says so.
 */
function noteForeignLayers(plan: ImagePlan, allow: boolean): void {
  const foreign = plan.images.flatMap((i) => i.layers.filter((l) => isForeignLayerType(l.mediaType)));
  if (foreign.length === 0) return;
  const seen = new Set(foreign.map((l) => l.digest));
  if (allow) {
    plan.notes.push(`${formatReference(plan.ref)}: carrying ${seen.size} non-distributable layer${seen.size === 1 ? '' : 's'} (--allow-nondistributable); check that the license allows it`);
    return;
  }
  plan.foreign = [...seen];
  for (const l of foreign.filter((x, i) => foreign.findIndex((y) => y.digest === x.digest) === i)) {
    plan.notes.push(`${formatReference(plan.ref)}: layer ${l.digest} is non-distributable (foreign${l.urls?.length ? `, from ${l.urls[0]}` : ''}); not carried, as docker push does not push it either: the engine that pulls the image fetches it from its urls. --allow-nondistributable carries it`);
  }
}

/** A differential bundle: the layers the receiving side has are expected there (manifests and configs always travel). */
function markExpected(plan: ImagePlan, have: ReadonlySet<string>): void {
  const layers = new Map(plan.images.flatMap((i) => i.layers).filter((l) => have.has(l.digest)).map((l) => [l.digest, l.size]));
  if (!layers.size) return;
  plan.expected = [...layers.keys()];
  const bytes = [...layers.values()].reduce((n, x) => n + x, 0);
  plan.notes.push(`${formatReference(plan.ref)}: differential: ${layers.size} layer${layers.size === 1 ? '' : 's'} (${bytes} bytes) expected on the receiving side, not carried`);
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

/** A fetched manifest (not an index) as a PlatformImage. */
export function imageOf(m: FetchedManifest, entry: Descriptor | undefined): PlatformImage {
  if (m.parsed.kind !== 'manifest') throw new FerryError('UNSUPPORTED', `manifest ${m.digest} is an index where an image manifest was expected`);
  return platformImageOf(m.parsed, desc(m), entry);
}
