/** What stored manifests reference: so keeping a manifest keeps its config, layers and children. */
import { readFile } from 'node:fs/promises';
import { MAX_MANIFEST_BYTES, parseManifest } from '../oci/manifest.js';
import type { BlobStore } from './blob-store.js';

/** Digests referenced, transitively, by the manifests among `roots` that are in the store. */
export async function readManifestDigestsFromStore(store: BlobStore, roots: Iterable<string>): Promise<Set<string>> {
  const out = new Set<string>();
  const queue = [...roots];
  while (queue.length) {
    const d = queue.pop()!;
    const raw = await readFile(store.path(d)).catch(() => undefined);
    if (!raw || raw.length > MAX_MANIFEST_BYTES || raw[0] !== 0x7b) continue;
    let m;
    try {
      m = parseManifest(raw, undefined, d);
    } catch {
      continue;
    }
    const refs = m.kind === 'index' ? m.manifests : [m.config, ...m.layers];
    for (const r of refs) {
      if (out.has(r.digest)) continue;
      out.add(r.digest);
      if (m.kind === 'index') queue.push(r.digest);
    }
  }
  return out;
}
