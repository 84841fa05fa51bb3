/**
 * Where the copy engine (transfer/copy.ts) writes images: one small interface per place bytes
 * live (a registry: registry/image-sink.ts; an OCI layout directory: oci-layout/sink.ts).
 * Contract, in the order the engine calls it:
 * - `putBlob` for every blob of every image (concurrently, up to `concurrency`): the stream it
 *   gets is verified by the engine against the blob's size and digest, and fails when it does
 *   not match; the sink MUST NOT make a blob visible that did not end cleanly;
 * - `putManifest` for each manifest, children before parents, only after every blob it
 *   references is in;
 * - `commit` once, after everything: what the sink publishes last (index.json, a tag list);
 * - `abort` instead of commit on failure or interruption: nothing half-written stays.
 */
import type { Readable } from 'node:stream';
import type { Descriptor } from '../oci/manifest.js';
import type { ImagePlan, PlannedManifest } from './plan.js';

export type BlobOutcome = 'exists' | 'mounted' | 'uploaded';

/** Opens bytes [start, end] of a blob, verified (see the contract). */
export type VerifiedOpener = (start: number, end: number) => Readable;

export interface ImageSink {
  readonly description: string;
  /** Blob writes at a time that suit this sink. */
  readonly concurrency: number;
  putBlob(plan: ImagePlan, blob: Descriptor, open: VerifiedOpener, onBytes: (n: number) => void): Promise<BlobOutcome>;
  /** Stores a manifest under `tag` (a name) or by digest when `tag` is undefined. */
  putManifest(plan: ImagePlan, manifest: PlannedManifest, tag: string | undefined): Promise<void>;
  /** Publishes what the sink publishes once per image, after its manifests (referrer indexes, names). */
  finishImage(plan: ImagePlan): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
