/**
 * Where images are read from, as the copy engine sees it: one small interface that each place
 * bytes live implements (a registry: registry/image-source.ts; an OCI layout directory:
 * oci-layout/source.ts). A source only returns bytes: it does not verify blobs (the engine and
 * the store do) and does not choose platforms (transfer/resolve.ts does, the same way for all).
 */
import type { Readable } from 'node:stream';
import type { Descriptor, FetchedManifest } from '../oci/manifest.js';
import type { Reference } from '../reference/parse-reference.js';

/**
 * Opens a blob stream starting at `offset` (and ending at `end`, inclusive, where the place can
 * bound a read; else at the blob's end); resolves where it really starts (0 or offset).
 */
export type BlobOpener = (offset: number, end?: number) => Promise<{ body: Readable; start: number }>;

export type { FetchedManifest } from '../oci/manifest.js';

/** What the copy engine reads blobs from (every ImageSource is one). */
export interface BlobSource {
  /** For messages: "registry 127.0.0.1:5000", "oci:/srv/layout". */
  readonly description: string;
  /**
   * true when the bytes were verified where they entered (the blob cache): the engine does not
   * hash them again. Every other source's bytes are verified by the engine as they stream.
   */
  readonly verified?: boolean;
  /**
   * true when all blobs come from one file (a bundle): a blob that is not what its digest says
   * means the file is damaged, and the copy of every image stops before any manifest.
   */
  readonly oneFile?: boolean;
  /** Opens a blob of the image `ref` names, from an offset. Unverified bytes: the engine verifies them. */
  blob(ref: Reference, blob: Descriptor, what: string): BlobOpener;
}

export interface ImageSource extends BlobSource {
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
  close(): Promise<void>;
}
