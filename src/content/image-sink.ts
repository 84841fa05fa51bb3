/**
 * Where the copy engine (transfer/copy.ts) writes images: one small interface per place bytes
 * live (a registry: registry/image-sink.ts; an OCI layout directory: oci-layout/sink.ts; a
 * bundle: bundle/bundle-sink.ts; a Docker engine: docker-engine/engine-sink.ts).
 * Contract, in the order the engine calls it:
 * - `prepare` once, before any blob, with every plan: the sink checks it can take them (a sink
 *   with `blobsBeforePrepare` may get blobs of resolved images first, `prepare` once every plan
 *   is known; `planMissing` when one did not resolve);
 * - `putBlob` for every blob of every image (concurrently, up to `concurrency`): the content it
 *   gets is verified by the engine against the blob's size and digest, and its stream fails
 *   before its last byte when it does not match; the sink MUST NOT make a blob visible that did
 *   not end cleanly;
 * - `putManifest` for each manifest, children before parents, only after every blob of every
 *   image is in;
 * - `finishImage` once per image after its manifests, `commit` once after everything;
 * - `imageFailed` for an image that failed while the others go on (CopyOptions.isolate);
 * - `abort` instead of commit when the copy fails or is interrupted: nothing half-written stays.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';
import type { ImagePlan, PlannedManifest } from './plan.js';

export type BlobOutcome = 'exists' | 'mounted' | 'uploaded';

/**
 * A blob's bytes as the engine hands them to a sink, verified. Ranges read one after another
 * (one PUT, or PATCH chunks in order) share one running sha256; a range that does not start
 * where the last one ended first hashes the bytes before it: from `prefix` when the sink holds
 * them (a partial download to resume: exactly `start` bytes), else from the source. The range
 * that ends the blob holds back its last chunk until size and digest matched (unless the sink
 * says it need not), so a sink never sees the whole of a wrong blob.
 */
export interface BlobContent {
  /** Bytes [start, end] (inclusive). */
  open(start: number, end: number, opts?: ContentOptions): Readable;
}

export interface ContentOptions {
  /** The first `start` bytes, as the sink holds them (a partial download to resume). */
  prefix?: Readable;
  /**
   * false: pass every byte on at once (a sink that makes nothing visible until the stream ends
   * cleanly, such as a partial file renamed at the end, and wants every byte on disk for a
   * resume). Default true.
   */
  holdLast?: boolean;
}

export interface ImageSink {
  readonly description: string;
  /** Blob writes at a time that suit this sink. */
  readonly concurrency: number;
  /** Before any blob: can the sink take these plans (reachable; what they expect there is there)? Throwing stops the copy of all. */
  prepare?(plans: readonly ImagePlan[]): Promise<void>;
  /**
   * true: the sink takes blobs before `prepare` (the cache, a bundle), so the engine starts
   * the blobs of each image as soon as its plan is resolved, and calls `prepare` once every
   * plan is known (still before any manifest).
   */
  readonly blobsBeforePrepare?: boolean;
  /** A plan given to the copy did not resolve (before `prepare`): a sink that needs every image (a bundle) gives up. */
  planMissing?(): void;
  /**
   * Blobs with the same key are written once (default: the digest). A registry sink that
   * writes images into several repositories keys by repository too (and mounts).
   */
  blobKey?(plan: ImagePlan, blob: Descriptor): string;
  /**
   * An image's configs are in and its plan is complete (a single-platform image's platform
   * read from its config); its layers follow. A bundle sink starts its writer once every
   * image got here.
   */
  configsIn?(plan: ImagePlan): void;
  putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome>;
  /** Stores a manifest under `tag` (a name) or by digest when `tag` is undefined. */
  putManifest(plan: ImagePlan, manifest: PlannedManifest, tag: string | undefined): Promise<void>;
  /** Publishes what the sink publishes once per image, after its manifests (referrer indexes, names). */
  finishImage(plan: ImagePlan): Promise<void>;
  /** Whether one of its failures stops every image, not just the one it happened to (a registry that cannot be reached). */
  isFatal?(err: unknown): boolean;
  /** An image failed and the copy goes on with the others (CopyOptions.isolate). */
  imageFailed?(plan: ImagePlan, err: unknown): void;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
