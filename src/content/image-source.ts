/**
 * Where images are read from, as the copy engine sees it: one small interface that each place
 * bytes live implements (a registry: registry/image-source.ts; an OCI layout directory:
 * oci-layout/source.ts). A source only returns bytes: it does not verify blobs (the engine and
 * the store do) and does not choose platforms (transfer/resolve.ts does, the same way for all).
 */
import type { Readable } from 'node:stream';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';

/** Opens a blob stream starting at `offset`; resolves where it really starts (0 or offset). */
export type BlobOpener = (offset: number) => Promise<{ body: Readable; start: number }>;

export type { FetchedManifest } from '../oci/manifest.js';

export interface ImageSource {
  /** For messages: "registry 127.0.0.1:5000", "oci:/srv/layout". */
  readonly description: string;
  /**
   * The manifest or index that `ref` (a tag or a digest) names in `repository`. MUST verify the
   * bytes against `ref` when it is a digest. Resolves undefined when the source does not have it
   * and `optional` is set; throws NOT_FOUND otherwise.
   */
  manifest(repository: string, ref: string, what: string, optional?: boolean): Promise<FetchedManifest | undefined>;
  /**
   * The referrers of `digest` from a referrers API (OCI 1.1), or undefined when the source has
   * no such API (the caller then looks for the fallback tag).
   */
  referrers(repository: string, digest: string, what: string): Promise<Descriptor[] | undefined>;
  /** Opens a blob, from an offset (for resumes). Unverified bytes: the reader verifies them. */
  blob(repository: string, blob: Descriptor, what: string): BlobOpener;
  close(): Promise<void>;
}
