/** Media types (OCI image-spec media-types.md, Docker image manifest v2 schema 2). */
export const MediaType = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The Accept header for manifest requests: the four schema2/OCI manifest and index types. */
export const MANIFEST_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
].join(', ');

export function isIndexType(mt: string | undefined): boolean {
  return mt === MediaType.ociIndex || mt === MediaType.dockerManifestList;
}

export function isManifestType(mt: string | undefined): boolean {
  return mt === MediaType.ociManifest || mt === MediaType.dockerManifest;
}

/**
 * Whether a blob of this media type is stored compressed already (so the bundle writer stores it
 * without compressing again). Unknown types are treated as compressed only when they say so.
 */
export function isCompressedMediaType(mt: string): boolean {
  return /(\+|\.)(gzip|zstd)$/.test(mt) || mt.endsWith('tar.gzip');
}

/** Whether a config media type is an image config (Docker or OCI), as opposed to an artifact's. */
export function isImageConfigType(mt: string): boolean {
  return mt === MediaType.ociConfig || mt === MediaType.dockerConfig;
}

/** Whether a layer media type is a filesystem layer (a tar, possibly compressed). */
export function isFilesystemLayerType(mt: string): boolean {
  return /^application\/vnd\.(oci\.image\.layer\.|docker\.image\.rootfs\.)/.test(mt);
}

/**
 * Whether a layer is non-distributable ("foreign"): Docker's foreign layer type or OCI's
 * deprecated nondistributable types. Registries may not hold them; their `urls` say where they are.
 */
export function isForeignLayerType(mt: string): boolean {
  return mt === MediaType.dockerForeignLayerGzip || mt.startsWith('application/vnd.oci.image.layer.nondistributable.');
}

/**
 * Whether a layer of this media type is zstd-compressed: `+zstd` (OCI image-spec
 * media-types.md, `application/vnd.oci.image.layer.v1.tar+zstd` and its non-distributable
 * sibling).
 */
export function isZstdMediaType(mt: string | undefined): boolean {
  return mt !== undefined && /\+zstd$/.test(mt);
}

/**
 * The warning `save` prints for a bundle meant for `docker load` when some of its images have
 * zstd layers (Docker Engine before 23.0 cannot load them), or undefined when none has. Each
 * image is named by its reference; `layers` are its layer descriptors over all platforms.
 */
export function zstdLayerNote(images: ReadonlyArray<{ reference: string; layers: ReadonlyArray<{ mediaType: string }> }>): string | undefined {
  const names = images.filter((i) => i.layers.some((l) => isZstdMediaType(l.mediaType))).map((i) => i.reference);
  if (names.length === 0) return undefined;
  const which = names.length === 1 ? `${names[0]} has` : `${names.length} images have`;
  const list = names.length === 1 ? '' : ` (${names.join(', ')})`;
  return (
    `${which} zstd-compressed layers${list}: \`docker load\` (and \`ferry load\`) of this bundle needs Docker Engine 23.0 or later, ` +
    'older engines cannot decompress them; `ferry push` to a registry carries them unchanged'
  );
}
