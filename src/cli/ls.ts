/** `ferry ls BUNDLE`: the images in a bundle: name, digest, platforms, size, layers. */
import { interpret } from '../bundle/contents.js';
import type { FerryMetadata } from '../bundle/layout.js';
import { formatPlatform } from '../oci/platform.js';
import { planSize } from '../content/plan.js';
import { formatBytes } from './output.js';
import type { LsArgs } from './commands.js';
import { readBundleHead } from '../bundle/head.js';


interface LsImage {
  name: string | null;
  reference: string | null;
  digest: string;
  platforms: string[];
  size: number;
  layers: number;
  /** 'image', or 'artifact' with its artifactType (a Helm chart, an SBOM). */
  type: string;
  /** Signatures, attestations and SBOMs carried with it. */
  referrers: { digest: string; artifactType: string | null; tag: string | null }[];
}

/** What a set of platform entries is: an image, or the artifact type when none is an image. */
function typeOf(platforms: readonly { kind?: string; artifactType?: string }[]): string {
  if (platforms.some((p) => p.kind !== 'artifact')) return 'image';
  return platforms.find((p) => p.artifactType)?.artifactType ?? 'artifact';
}

function fromMetadata(meta: FerryMetadata): LsImage[] {
  return meta.images.map((m) => ({
    name: m.name,
    reference: m.reference,
    digest: m.digest,
    platforms: m.platforms.filter((p) => p.kind !== 'artifact').map((p) => p.platform),
    size: m.size,
    layers: Math.max(0, ...m.platforms.map((p) => p.layers.length)),
    type: typeOf(m.platforms),
    referrers: (m.referrers ?? []).map((r) => ({ digest: r.digest, artifactType: r.artifactType, tag: r.tag })),
  }));
}

export async function runLs(a: LsArgs): Promise<number> {
  // A ferry bundle starts with its JSON documents: read only those. Other archives are read whole.
  const { metadata, contents } = await readBundleHead(a.bundle);
  let images: LsImage[];
  let kind: string;
  if (metadata) {
    kind = 'ferry';
    images = fromMetadata(metadata);
  } else {
    const it = interpret(contents);
    kind = it.kind;
    images = it.images.map((i) => ({
      name: i.name ?? null,
      reference: null,
      digest: i.plan.root.digest,
      platforms: i.plan.images.filter((p) => p.kind === 'image').map((p) => formatPlatform(p.platform)),
      size: planSize(i.plan),
      layers: Math.max(0, ...i.plan.images.map((p) => p.layers.length)),
      type: typeOf(i.plan.images),
      referrers: [],
    }));
  }
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ bundle: a.bundle, kind, images }, null, 2)}\n`);
    return 0;
  }
  // An artifact shows its type where an image shows its platforms; each referrer gets a line of
  // its own under its image, with the tag it came under and its type.
  const rows = [['NAME', 'DIGEST', 'PLATFORMS', 'SIZE', 'LAYERS'], ...images.flatMap((i) => [
    [i.name ?? '<none>', i.digest.slice(0, 19), i.type === 'image' ? i.platforms.join(',') : `artifact ${i.type}`, formatBytes(i.size), String(i.layers)],
    ...i.referrers.map((r) => [`  ${r.tag ?? 'referrer'}`, r.digest.slice(0, 19), `referrer ${r.artifactType ?? ''}`.trim(), '', '']),
  ])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  return 0;
}
