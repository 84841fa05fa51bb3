/**
 * Several BlobSources as one, routed by digest: a differential bundle's own blobs from the
 * bundle, the layers it builds on from the --base bundles that hold them (`ferry load --base`).
 * Like its parts it only returns bytes; the copy engine verifies them.
 */
import type { BlobSource } from './image-source.js';

/** `main` for every blob except those `routes` sends elsewhere; one file (damage stops all) when every part is. */
export function routedBlobSource(main: BlobSource, routes: ReadonlyMap<string, BlobSource>): BlobSource {
  if (!routes.size) return main;
  const parts = [main, ...routes.values()];
  return {
    description: main.description,
    ...(parts.every((p) => p.verified) ? { verified: true } : {}),
    ...(parts.every((p) => p.oneFile) ? { oneFile: true } : {}),
    blob: (ref, d, what) => (routes.get(d.digest) ?? main).blob(ref, d, what),
  };
}
