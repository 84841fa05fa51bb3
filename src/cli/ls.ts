/** `ferry ls BUNDLE`: the images in a bundle: name, digest, platforms, size, layers. */
import { interpret } from '../bundle/contents.js';
import type { FerryMetadata } from '../bundle/layout.js';
import { formatPlatform } from '../oci/platform.js';
import { planSize } from '../transfer/plan.js';
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
}

function fromMetadata(meta: FerryMetadata): LsImage[] {
  return meta.images.map((m) => ({
    name: m.name,
    reference: m.reference,
    digest: m.digest,
    platforms: m.platforms.map((p) => p.platform),
    size: m.size,
    layers: Math.max(0, ...m.platforms.map((p) => p.layers.length)),
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
      platforms: i.plan.images.map((p) => formatPlatform(p.platform)),
      size: planSize(i.plan),
      layers: Math.max(0, ...i.plan.images.map((p) => p.layers.length)),
    }));
  }
  if (a.json) {
    process.stdout.write(`${JSON.stringify({ bundle: a.bundle, kind, images }, null, 2)}\n`);
    return 0;
  }
  const rows = [['NAME', 'DIGEST', 'PLATFORMS', 'SIZE', 'LAYERS'], ...images.map((i) => [i.name ?? '<none>', i.digest.slice(0, 19), i.platforms.join(','), formatBytes(i.size), String(i.layers)])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd()}\n`);
  return 0;
}
