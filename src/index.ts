/**
 * ferry as a library: what the CLI (src/cli/) is thin over, for tests and other programs.
 * `import { copyImages, RegistryImageSource, OciLayoutSink, ... } from 'ferry'`.
 *
 * The model: a reference is resolved against an ImageSource into an ImagePlan (the content
 * graph: raw manifest bytes, images and artifacts, referrers); the copy engine moves plans from
 * a BlobSource to an ImageSink, verifying every blob in transit. Places: a registry, the blob
 * cache, a bundle file, an OCI layout directory (and, for `load`, a Docker engine's archive).
 */
export { FerryError, DigestMismatchError, UsageError, EXIT, type ErrorCode } from './errors.js';
export { VERSION } from './version.js';

export { parseReference, formatReference, type Reference } from './reference/parse-reference.js';
export { parsePlatform, parsePlatformSelection, formatPlatform, type PlatformSelection, type PlatformSpec } from './oci/platform.js';
export type { Descriptor, Platform } from './oci/manifest.js';

export type { ImagePlan, PlannedManifest, PlatformImage, PlannedReferrer } from './content/plan.js';
export { planBlobs, planSize } from './content/plan.js';
export type { BlobOpener, BlobSource, ImageSource } from './content/image-source.js';
export type { BlobContent, BlobOutcome, ContentOptions, ImageSink } from './content/image-sink.js';

export { copyImages, type CopiedImage, type CopyOptions, type CopyOutcome } from './transfer/copy.js';
export { blobContent } from './transfer/blob-content.js';
export { resolveImage, type ResolveOptions } from './transfer/resolve.js';
export { pullImages, resolveRequest, type ImageRequest, type PullResult } from './transfer/pull.js';
export { pushPlans, type PushOutcome, type PushResult } from './transfer/push.js';

export { Registries } from './registry/registries.js';
export { RegistryImageSource, registriesBlobSource } from './registry/image-source.js';
export { RegistryImageSink, type Placement } from './registry/image-sink.js';
export { parsePushTarget, targetRepository, type PushTarget } from './registry/push-target.js';

export { BlobStore, defaultCacheDir } from './store/blob-store.js';
export { StoreSink } from './store/store-sink.js';
export { storeBlobSource } from './store/store-source.js';

export { OciLayoutSource } from './oci-layout/source.js';
export { OciLayoutSink } from './oci-layout/sink.js';

export { writeBundle, type WriteBundleOptions, type WrittenBundle } from './bundle/writer.js';
export { BundleSink, type BundleWrite } from './bundle/bundle-sink.js';
export { openSeekable, type SeekableArchive } from './bundle/seekable.js';
export { interpret, type Interpretation } from './bundle/contents.js';
export { verifyArchive, type VerifyResult } from './bundle/verify.js';
