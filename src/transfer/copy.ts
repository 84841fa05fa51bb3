/**
 * The copy engine: moves resolved images (ImagePlans) from an ImageSource to an ImageSink.
 * Order and verification live here, not in the places:
 * - every blob of every image, each once (deduplicated across images), `sink.concurrency` at a
 *   time, streamed from the source through a verifying stream (size and sha256): a mismatch
 *   fails the blob before the sink can make it visible;
 * - then each image's manifests, children before parents, the root under its tag, referrers
 *   under theirs: a manifest is written only after every blob it references is in;
 * - then `finishImage` (referrer indexes), and `commit` once at the end; `abort` on failure.
 * Streams go source -> sink with no temporary copy on disk.
 */
import { PassThrough, type Readable } from 'node:stream';
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import { VerifyingStream } from '../digest/verifying-stream.js';
import type { BlobOpener, ImageSource } from '../content/image-source.js';
import type { BlobOutcome, ImageSink, VerifiedOpener } from '../content/image-sink.js';
import { planBlobs, planManifestImages, type ImagePlan } from '../content/plan.js';
import { pipeTo } from '../util/streams.js';

export interface CopyEvents {
  onBytes?: (plan: ImagePlan, n: number) => void;
  onImage?: (plan: ImagePlan, blobs: Record<BlobOutcome, number>) => void;
}

export interface CopiedImage {
  plan: ImagePlan;
  blobs: Record<BlobOutcome, number>;
}

/**
 * A VerifiedOpener over a source's BlobOpener: the whole blob from byte 0, through a verifying
 * stream. Sinks read blobs front to back; a sink that asks for a later start gets an error.
 */
export function verifiedOpener(open: BlobOpener, size: number, digest: string, subject: string): VerifiedOpener {
  return (start: number): Readable => {
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    if (start !== 0) {
      process.nextTick(() => out.destroy(new FerryError('UNSUPPORTED', `${subject}: a streamed copy reads blobs from the start, not from byte ${start}`)));
      return out;
    }
    open(0).then(
      ({ body, start: got }) => {
        if (got !== 0) {
          body.destroy();
          out.destroy(new FerryError('REGISTRY', `${subject}: the source answered from byte ${got}, not 0`));
          return;
        }
        pipeTo(pipeTo(body, new VerifyingStream(digest, size, subject)), out);
      },
      (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return out;
  };
}

/** Copies `plans` from `source` to `sink` (see the file comment). Throws the first failure, after `sink.abort()`. */
export async function copyImages(source: ImageSource, plans: readonly ImagePlan[], sink: ImageSink, events: CopyEvents = {}): Promise<CopiedImage[]> {
  const limit = pLimit(sink.concurrency);
  const results: CopiedImage[] = plans.map((plan) => ({ plan, blobs: { exists: 0, mounted: 0, uploaded: 0 } }));
  const started = new Map<string, Promise<BlobOutcome>>();
  let failure: unknown;
  const blobTasks: Promise<void>[] = [];
  try {
    for (const r of results) {
      for (const d of planBlobs(r.plan)) {
        const kind = planManifestImages(r.plan).some((i) => i.config.digest === d.digest) ? 'config' : 'layer';
        const subject = `${kind} ${d.digest} of ${r.plan.request}`;
        let p = started.get(d.digest);
        const first = !p;
        if (!p) {
          p = limit(async () => {
            // After a failure, blobs still queued are not started: the copy is over.
            if (failure !== undefined) throw failure;
            try {
              return await sink.putBlob(r.plan, d, verifiedOpener(source.blob(r.plan.ref.repository, d, `copying ${subject}`), d.size, d.digest, subject), (n) => events.onBytes?.(r.plan, n));
            } catch (err) {
              // Set here, before p-limit starts the next queued blob.
              failure ??= err;
              throw err;
            }
          });
          started.set(d.digest, p);
        }
        const task = p.then(
          (outcome) => void r.blobs[first ? outcome : 'exists']++,
          (err: unknown) => {
            // Queued blobs start, see the failure and end at once (clearing p-limit's queue
            // instead would leave their promises unsettled).
            failure ??= err;
          },
        );
        blobTasks.push(task);
      }
    }
    // Every started blob has ended (none is still writing) before the result is known.
    await Promise.all(blobTasks);
    if (failure !== undefined) throw failure;
    for (const r of results) {
      const tags = new Map((r.plan.referrers ?? []).flatMap((x) => (x.tag ? [[x.digest, x.tag] as const] : [])));
      for (const m of r.plan.manifests) {
        const tag = m.digest === r.plan.root.digest ? r.plan.ref.tag : tags.get(m.digest);
        await sink.putManifest(r.plan, m, tag);
      }
      await sink.finishImage(r.plan);
      events.onImage?.(r.plan, r.blobs);
    }
    await sink.commit();
    return results;
  } catch (err) {
    await sink.abort().catch(() => undefined);
    throw err instanceof FerryError ? err : wrap(`copying to ${sink.description}`, err);
  }
}
