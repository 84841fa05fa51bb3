/**
 * An OCI image layout directory (image-spec image-layout.md): `oci-layout`, `index.json`, and
 * `blobs/<alg>/<hex>`. Images in it are named by the `org.opencontainers.image.ref.name`
 * annotation of their index.json entry, as skopeo's and umoci's `oci:DIR:NAME` do.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FerryError } from '../errors.js';
import { digestHex } from '../digest/digest.js';
import { parseManifest, type Descriptor } from '../oci/manifest.js';
import { MediaType } from '../oci/media-types.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** `oci:DIR[:NAME]` split into the directory and the name (undefined when absent). */
export function parseLayoutRef(s: string): { dir: string; name: string | undefined } | undefined {
  if (!s.startsWith('oci:')) return undefined;
  const rest = s.slice('oci:'.length);
  // As containers/image's oci: transport reads it: the directory ends at the first ':', the
  // rest is the name (which may hold ':' and '/': `oci:/srv/x:team/app:1.0`).
  const i = rest.indexOf(':');
  if (i >= 0) return { dir: rest.slice(0, i), name: rest.slice(i + 1) || undefined };
  return { dir: rest, name: undefined };
}

export const blobFile = (dir: string, digest: string): string => join(dir, 'blobs', 'sha256', digestHex(digest));

/** The entries of DIR/index.json; [] when the layout does not exist yet and `missingOk`. */
export async function readLayoutIndex(dir: string, missingOk = false): Promise<Descriptor[]> {
  let raw: Buffer;
  try {
    raw = await readFile(join(dir, 'index.json'));
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FerryError('USAGE', `reading the OCI layout ${dir}: it has no index.json`, { cause: err, hint: 'name a directory that holds an OCI image layout (oci-layout, index.json, blobs/)' });
  }
  const parsed = parseManifest(raw, MediaType.ociIndex, `${dir}/index.json`);
  if (parsed.kind !== 'index') throw new FerryError('BUNDLE_FORMAT', `${dir}/index.json is not an image index`);
  return parsed.manifests;
}
