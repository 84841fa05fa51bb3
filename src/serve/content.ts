/**
 * What `ferry serve` serves, as one small interface: the names (upstream registry, repository
 * path, tag or digest), manifests by digest, blobs by digest with random access, and referrers
 * by subject. An implementation only converts between where the bytes live (the blob cache, a
 * seekable bundle) and this interface; it does NOT verify. Verification is the serving layer's
 * job (verifier.ts): nothing an implementation returns reaches a client before its digest has
 * been checked.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';

/** One name of an image as the bundle records it: `docker.io/library/nginx:1.27`. */
export interface ServedName {
  /** Upstream registry host, lowercase: `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path without the host: `library/nginx`. */
  repository: string;
  /** The tag, or undefined for an image the bundle names by digest only. */
  tag: string | undefined;
  /** The manifest or index the name points at. */
  digest: string;
  /** Which bundle the name comes from (for warnings). */
  source: string;
  /** True for a referrer's tag (cosign's `sha256-<hex>.sig`, the referrers tag schema's `sha256-<hex>`). */
  referrer?: boolean;
}

export interface ServedManifest {
  /** The manifest's own media type (its `mediaType` field, or what the bundle recorded). */
  mediaType: string;
  /** The stored bytes, unverified. */
  bytes: Buffer;
}

export interface ServedBlob {
  size: number;
  /** A stream of bytes `start` to `end` (inclusive), unverified. */
  open(start: number, end: number): Readable;
}

export interface ServedContent {
  /** Every name, in the bundles' order. */
  names(): readonly ServedName[];
  /** The manifest or index with this digest, or undefined when the content has none. */
  manifest(digest: string): Promise<ServedManifest | undefined>;
  /** The blob (config or layer) with this digest, or undefined when the content has none. */
  blob(digest: string): Promise<ServedBlob | undefined>;
  /** The descriptors of the manifests whose `subject` is `digest` (OCI 1.1 referrers), possibly empty. */
  referrers(subject: string): readonly Descriptor[];
}
