/**
 * `ferry push` as a composition of the copy engine (transfer/copy.ts): the bundle (read in
 * place, or the verified cache) as the source, the registry (registry/image-sink.ts) as the
 * sink, each image placed by the push target (push-target.ts) with its original bytes, so every
 * manifest and index digest in the target equals the one in the bundle. Each image's failure is
 * its own (the others go on); a registry that cannot be reached, or a damaged bundle, stops all
 * and no manifest of the damaged bundle reaches the target (the engine's rules).
 */
import { FerryError, wrap } from '../errors.js';
import type { BlobSource } from '../content/image-source.js';
import type { ImagePlan } from '../content/plan.js';
import { copyImages } from './copy.js';
import type { Registries } from '../registry/registries.js';
import { RegistryImageSink } from '../registry/image-sink.js';
import { targetRepository, type PushTarget } from '../registry/push-target.js';
import type { UploadOutcome } from '../registry/upload.js';

export interface PushResult {
  source: string;
  target: string;
  digest: string;
  blobs: Record<UploadOutcome, number>;
  error?: FerryError;
}

export interface PushOutcome {
  /** One per plan, in the plans' order. */
  results: PushResult[];
  /**
   * The failure that stopped the push: the target could not be reached, or the bundle is
   * damaged. Every result that did not succeed has it (the same object) as its error.
   */
  fatal?: FerryError;
}

export interface PushOptions {
  concurrency: number;
  onBytes?: (plan: ImagePlan, n: number) => void;
  /** Called when an image is in the target, manifests included. */
  onDone?: (plan: ImagePlan) => void;
}

/** Pushes each plan (see the file comment). Never throws for a registry failure. */
export async function pushPlans(plans: readonly ImagePlan[], source: BlobSource, registries: Registries, target: PushTarget, opts: PushOptions): Promise<PushOutcome> {
  const client = registries.client(target.host);
  const repository = (plan: ImagePlan): string => targetRepository(target, plan.ref);
  const tag = (plan: ImagePlan): string | undefined => (plan.name ? plan.ref.tag : undefined);
  const sink = new RegistryImageSink(client, { repository, tag }, { concurrency: opts.concurrency });
  const { images, fatal } = await copyImages(source, plans, sink, {
    isolate: true,
    ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
    onImage: (i) => {
      if (!i.error) opts.onDone?.(i.plan);
    },
    describeFailure: (plan, err) => wrap(`pushing ${plan.name ?? plan.request} to ${target.host}/${repository(plan)}`, err, 'REGISTRY'),
  });
  const results = images.map((i): PushResult => {
    const t = tag(i.plan);
    return {
      source: i.plan.name ?? i.plan.request,
      target: `${target.host}/${repository(i.plan)}${t ? `:${t}` : ''}@${i.plan.root.digest}`,
      digest: i.plan.root.digest,
      blobs: i.blobs,
      ...(i.error ? { error: i.error } : {}),
    };
  });
  return fatal ? { results, fatal } : { results };
}
