/**
 * The copy engine: moves resolved images (ImagePlans) from a BlobSource to an ImageSink; `save`,
 * `export`, `push`, `load` and `copy` are compositions of it. Order and verification live here,
 * not in the places:
 * - `sink.prepare` with every plan, before any blob; plans may still be resolving (promises,
 *   `PlanInput`): a sink that takes blobs before `prepare` (`blobsBeforePrepare`: the cache, a
 *   bundle) gets each image's blobs as soon as its plan is known, and `prepare` once every plan
 *   is; a plan that resolves to undefined did not resolve (the caller reports it) and the sink
 *   hears of it (`planMissing`) before `prepare`;
 * - every blob of every image, each once (deduplicated across images by the sink's key),
 *   `sink.concurrency` at a time, each image's configs before its layers, streamed from the
 *   source through blob-content.ts (size and sha256, the last chunk held back): a mismatch fails
 *   the blob before the sink can make it visible;
 * - only then, when no blob failed in a way that stops all, each image's manifests, children
 *   before parents, the root under its tag, referrers under theirs; then `finishImage`;
 * - `commit` once at the end; `abort` when the copy fails.
 * Failures: by default the first one stops the copy and is thrown (after `abort`). With
 * `isolate`, an image's failure fails that image only and the others go on, unless it stops
 * all: a sink's fatal failure (a registry that cannot be reached), or damage in a source that
 * is one file (a bundle: one bad blob means a damaged bundle, and none of its manifests may
 * reach the sink). Streams go source -> sink with no temporary copy on disk.
 */
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import type { BlobSource } from '../content/image-source.js';
import type { BlobOutcome, ImageSink } from '../content/image-sink.js';
import { planBlobs, planManifestImages, type ImagePlan } from '../content/plan.js';
import type { Descriptor } from '../oci/manifest.js';
import { blobContent } from './blob-content.js';

export interface CopyOptions {
  onBytes?: (plan: ImagePlan, n: number) => void;
  /** A blob is in the sink: `outcome` as the sink said (or 'exists' for a blob another image brought). */
  onBlob?: (plan: ImagePlan, blob: Descriptor, outcome: BlobOutcome) => void;
  /**
   * An image's configs are in the sink, before its layers move: may complete the plan (a
   * single-platform image's platform comes from its config) or throw to fail the image.
   */
  onConfigs?: (plan: ImagePlan) => Promise<void> | void;
  /** An image is done: in the sink, manifests included, or failed (`error`). */
  onImage?: (image: CopiedImage) => void;
  /** Keep going past an image's failure (see the file comment). */
  isolate?: boolean;
  /** Wraps an image's failure for messages (default: "copying REQUEST to SINK: ..."). */
  describeFailure?: (plan: ImagePlan, err: unknown) => FerryError;
}

export interface CopiedImage {
  plan: ImagePlan;
  blobs: Record<BlobOutcome, number>;
  /** Set when the image did not reach the sink (only with `isolate`). */
  error?: FerryError;
}

export interface CopyOutcome {
  /** One per plan that resolved (all of them, unless some were promises of undefined), in the plans' order. */
  images: CopiedImage[];
  /** The failure that stopped every image (with `isolate`): each image not copied has it as its error. */
  fatal?: FerryError;
}

/** A plan, or one still resolving: undefined when it did not resolve (the caller reports that image). */
export type PlanInput = ImagePlan | Promise<ImagePlan | undefined>;

/** A blob that is not what its digest says, or a source that cannot be read as it claims. */
function isDamage(err: unknown): boolean {
  const code = (err as FerryError)?.code;
  return code === 'DIGEST_MISMATCH' || code === 'BUNDLE_FORMAT';
}

/** Copies `plans` from `source` to `sink` (see the file comment). */
export async function copyImages(source: BlobSource, plans: readonly PlanInput[], sink: ImageSink, opts: CopyOptions = {}): Promise<CopyOutcome> {
  let fatal: FerryError | undefined;
  // One per plan in order; a plan that did not resolve (undefined) has none. Never rejects.
  const slots: Promise<CopiedImage | undefined>[] = plans.map((p) =>
    Promise.resolve(p).then(
      (plan) => (plan ? { plan, blobs: { exists: 0, mounted: 0, uploaded: 0 } } : undefined),
      (err: unknown) => {
        fatal ??= err instanceof FerryError ? err : wrap('resolving the images', err);
        return undefined;
      },
    ),
  );
  /** The images whose plans resolved, in the plans' order (once every plan is known). */
  const images: CopiedImage[] = [];
  const describeFailure = opts.describeFailure ?? ((plan: ImagePlan, err: unknown) => (err instanceof FerryError ? err : wrap(`copying ${plan.request} to ${sink.description}`, err)));
  // Damage in a one-file source stops all only while blobs move: a manifest the sink refuses fails its image.
  const stopsAll = (err: unknown, blobPhase: boolean): boolean => !opts.isolate || !!sink.isFatal?.(err) || (blobPhase && !!source.oneFile && isDamage(err));
  const fail = (image: CopiedImage, err: unknown, blobPhase = true): void => {
    if (image.error) return;
    if (fatal && (err === fatal || sink.isFatal?.(err))) image.error = fatal;
    else {
      image.error = describeFailure(image.plan, err);
      if (!fatal && stopsAll(err, blobPhase)) fatal = image.error;
    }
    sink.imageFailed?.(image.plan, err);
  };
  const reported = new Set<CopiedImage>();
  const report = (image: CopiedImage): void => {
    if (reported.has(image)) return;
    reported.add(image);
    opts.onImage?.(image);
  };
  const publish = async (image: CopiedImage): Promise<void> => {
    if (image.error) return;
    const { plan } = image;
    try {
      const tags = new Map((plan.referrers ?? []).flatMap((x) => (x.tag ? [[x.digest, x.tag] as const] : [])));
      for (const m of plan.manifests) {
        if (fatal) throw fatal;
        await sink.putManifest(plan, m, m.digest === plan.root.digest ? plan.ref.tag : tags.get(m.digest));
      }
      await sink.finishImage(plan);
      report(image);
    } catch (err) {
      fail(image, err, false);
    }
  };
  try {
    // Blobs of the images already resolved move while the others resolve, when the sink allows it.
    const early = sink.blobsBeforePrepare ? copyBlobs(source, slots, sink, opts, fail, () => fatal) : undefined;
    for (const x of await Promise.all(slots)) if (x) images.push(x);
    if (images.length < plans.length) sink.planMissing?.();
    try {
      if (fatal) throw fatal;
      await sink.prepare?.(images.map((i) => i.plan));
    } catch (err) {
      fatal ??= err instanceof FerryError ? err : wrap(`preparing ${sink.description}`, err);
      await early;
      throw fatal;
    }
    await (early ?? copyBlobs(source, slots, sink, opts, fail, () => fatal));
    if (fatal) throw fatal;
    if (opts.isolate) await Promise.all(images.map(publish));
    else {
      for (const image of images) {
        await publish(image);
        if (fatal) throw fatal;
      }
    }
    if (fatal) throw fatal;
    for (const image of images) if (image.error) report(image);
    // Nothing reached the sink: there is nothing to commit.
    if (images.length && images.every((i) => i.error)) {
      await sink.abort().catch(() => undefined);
      return { images };
    }
    await sink.commit();
  } catch (err) {
    await sink.abort().catch(() => undefined);
    const stop = err instanceof FerryError ? err : wrap(`copying to ${sink.description}`, err);
    if (!opts.isolate) throw stop;
    for (const image of images) {
      image.error ??= stop;
      report(image);
    }
    return { images, fatal: stop };
  }
  return { images };
}

/**
 * Every blob of every image into the sink: one task per distinct blob key, images in parallel
 * (each as soon as its plan is known), each image's configs first. An image's failure is
 * recorded through `fail`; once a failure stops all, blobs still queued are not started.
 */
async function copyBlobs(source: BlobSource, images: readonly Promise<CopiedImage | undefined>[], sink: ImageSink, opts: CopyOptions, fail: (image: CopiedImage, err: unknown) => void, fatal: () => FerryError | undefined): Promise<void> {
  const limit = pLimit(sink.concurrency);
  const started = new Map<string, Promise<BlobOutcome>>();
  const put = (image: CopiedImage, d: Descriptor, kind: string): Promise<void> => {
    const { plan } = image;
    const key = sink.blobKey?.(plan, d) ?? d.digest;
    let p = started.get(key);
    const first = !p;
    if (!p) {
      p = limit(async () => {
        // After a failure that stops all (or, without isolate, any failure), queued blobs are
        // not started: the copy is over.
        const stop = fatal();
        if (stop) throw stop;
        const subject = `${kind} ${d.digest} of ${plan.request}`;
        const content = blobContent(source.blob(plan.ref, d, `copying ${subject}`), d.size, d.digest, subject, source.verified);
        try {
          return await sink.putBlob(plan, d, content, (n) => opts.onBytes?.(plan, n));
        } catch (err) {
          // Recorded here, before p-limit starts the next queued blob (which then sees a
          // failure that stops all).
          fail(image, err);
          throw err;
        }
      });
      started.set(key, p);
    }
    return p.then((outcome) => {
      const counted = first ? outcome : 'exists';
      image.blobs[counted]++;
      opts.onBlob?.(plan, d, counted);
    });
  };
  await Promise.all(
    images.map(async (slot) => {
      const image = await slot;
      if (!image || fatal()) return;
      const { plan } = image;
      const configs = new Set(planManifestImages(plan).map((i) => i.config.digest));
      const blobs = planBlobs(plan);
      try {
        await settled(blobs.filter((d) => configs.has(d.digest)).map((d) => put(image, d, 'config')));
        if (fatal()) return;
        await opts.onConfigs?.(plan);
        sink.configsIn?.(plan);
        await settled(blobs.filter((d) => !configs.has(d.digest)).map((d) => put(image, d, 'layer')));
      } catch (err) {
        // Without isolate the first failure ends the copy: queued blobs see it and do not start.
        fail(image, err);
      }
    }),
  );
}

/** Waits for every task (none is still writing when the result is known); throws the first failure. */
async function settled(tasks: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(tasks);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}
