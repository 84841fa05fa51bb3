/**
 * Parsing of manifests and indexes from their raw bytes (OCI image-spec manifest.md, image-index.md;
 * Docker schema2). The raw bytes are kept everywhere: the digest is of the bytes, never of a
 * re-serialisation.
 */
import { FerryError } from '../errors.js';
import { assertDigest } from '../digest/digest.js';
import { MediaType, isIndexType, isManifestType } from './media-types.js';

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  'os.version'?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
  urls?: string[];
  artifactType?: string;
}

export interface ImageManifest {
  kind: 'manifest';
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
  /** OCI 1.1: the type of an artifact manifest (Helm chart, signature, SBOM). */
  artifactType?: string;
  /** OCI 1.1: the manifest this one refers to (a signature's or attestation's image). */
  subject?: Descriptor;
}

export interface ImageIndex {
  kind: 'index';
  mediaType: string;
  manifests: Descriptor[];
  artifactType?: string;
  subject?: Descriptor;
}

export type ParsedManifest = ImageManifest | ImageIndex;

/** A manifest or index as it was read: its raw bytes, their digest, and the parse. */
export interface FetchedManifest {
  raw: Buffer;
  mediaType: string;
  digest: string;
  parsed: ParsedManifest;
}

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

function descriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw new FerryError('BUNDLE_FORMAT', `${where}: not a descriptor`);
  const d = v as Record<string, unknown>;
  const size = d.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new FerryError('BUNDLE_FORMAT', `${where}: descriptor size ${String(size)} is not a non-negative integer`);
  }
  if (typeof d.mediaType !== 'string') throw new FerryError('BUNDLE_FORMAT', `${where}: descriptor has no mediaType`);
  return { ...(d as unknown as Descriptor), digest: assertDigest(d.digest, where), size };
}

/**
 * Parses manifest or index bytes. `headerType` is the Content-Type the registry sent, used when
 * the document has no mediaType field. Throws UNSUPPORTED for schema1, BUNDLE_FORMAT for junk.
 */
export function parseManifest(raw: Uint8Array, headerType: string | undefined, where: string): ParsedManifest {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new FerryError('BUNDLE_FORMAT', `${where}: manifest is not valid JSON`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new FerryError('BUNDLE_FORMAT', `${where}: manifest is not a JSON object`);
  const ht = headerType?.split(';')[0]?.trim();
  if (doc.schemaVersion === 1 || ht === MediaType.dockerSchema1 || ht === MediaType.dockerSchema1Signed) {
    throw new FerryError('UNSUPPORTED', `${where}: Docker schema1 manifests are not supported`, {
      hint: 'schema1 was removed from Docker; rebuild and push the image with a current tool to get a schema2 or OCI manifest',
    });
  }
  let mt = typeof doc.mediaType === 'string' ? doc.mediaType : ht;
  if (!mt || (!isIndexType(mt) && !isManifestType(mt))) {
    // OCI allows mediaType to be absent: infer from the shape.
    mt = Array.isArray(doc.manifests) ? MediaType.ociIndex : doc.config ? MediaType.ociManifest : mt;
  }
  const extra = {
    ...(typeof doc.artifactType === 'string' ? { artifactType: doc.artifactType } : {}),
    ...(doc.subject !== undefined ? { subject: descriptor(doc.subject, `${where} subject`) } : {}),
  };
  if (isIndexType(mt)) {
    if (!Array.isArray(doc.manifests)) throw new FerryError('BUNDLE_FORMAT', `${where}: index has no manifests array`);
    return { kind: 'index', mediaType: mt!, manifests: doc.manifests.map((m, i) => descriptor(m, `${where} manifests[${i}]`)), ...extra };
  }
  if (isManifestType(mt)) {
    if (!Array.isArray(doc.layers)) throw new FerryError('BUNDLE_FORMAT', `${where}: manifest has no layers array`);
    return {
      kind: 'manifest',
      mediaType: mt!,
      config: descriptor(doc.config, `${where} config`),
      layers: doc.layers.map((l, i) => descriptor(l, `${where} layers[${i}]`)),
      ...extra,
    };
  }
  if (mt === undefined) throw new FerryError('BUNDLE_FORMAT', `${where}: the document is neither an image manifest nor an index (no mediaType, config or manifests)`);
  throw new FerryError('UNSUPPORTED', `${where}: unsupported manifest media type "${String(mt)}"`, {
    hint: 'ferry carries container images (OCI or Docker schema2 manifests and indexes)',
  });
}
