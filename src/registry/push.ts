/**
 * The registry as an image sink: pushes plans from a verified store with their original bytes,
 * so every manifest and index digest in the target equals the one in the bundle. Order: all
 * blobs of an image (in parallel), then its manifests children first, the index last; the tag
 * (or, for digest-only images, the digest) goes on the root. Blobs one image already pushed are
 * mounted into the next repository instead of uploaded again.
 */
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import type { BlobStore } from '../store/blob-store.js';
import { planBlobs, type ImagePlan } from '../transfer/plan.js';
import type { Registries } from './registries.js';
import { putManifest } from './manifests.js';
import { targetRepository, type PushTarget } from './push-target.js';
import { uploadBlob, type UploadOutcome } from './upload.js';

export interface PushResult {
  source: string;
  target: string;
  digest: string;
  blobs: Record<UploadOutcome, number>;
  error?: FerryError;
}

export interface PushOptions {
  concurrency: number;
  onBytes?: (plan: ImagePlan, n: number) => void;
}

/** Pushes each plan; an image's failure is recorded in its result, the others go on. */
export async function pushPlans(plans: readonly ImagePlan[], store: BlobStore, registries: Registries, target: PushTarget, opts: PushOptions): Promise<PushResult[]> {
  const client = registries.client(target.host);
  const limit = pLimit(opts.concurrency);
  // digest -> repository that holds it (for mounts), and in-flight uploads to share.
  const holders = new Map<string, string>();
  const inflight = new Map<string, Promise<unknown>>();
  const results: PushResult[] = [];
  await Promise.all(
    plans.map(async (plan) => {
      const repository = targetRepository(target, plan.ref);
      const tag = plan.name ? plan.ref.tag : undefined;
      const targetName = `${target.host}/${repository}`;
      const result: PushResult = { source: plan.name ?? plan.request, target: `${targetName}${tag ? `:${tag}` : ''}@${plan.root.digest}`, digest: plan.root.digest, blobs: { exists: 0, mounted: 0, uploaded: 0 } };
      results.push(result);
      try {
        await Promise.all(
          planBlobs(plan).map((d) =>
            limit(async () => {
              const other = inflight.get(d.digest);
              if (other) await other.catch(() => undefined);
              const from = holders.get(d.digest);
              const p = uploadBlob(client, repository, d, {
                ...(from ? { mountFrom: from } : {}),
                open: (start, end) => store.readRange(d.digest, start, end),
                onBytes: (n) => opts.onBytes?.(plan, n),
              });
              inflight.set(d.digest, p);
              const outcome = await p;
              result.blobs[outcome]++;
              holders.set(d.digest, repository);
            }),
          ),
        );
        for (const m of plan.manifests) {
          const isRoot = m.digest === plan.root.digest;
          const ref = isRoot && tag ? tag : m.digest;
          const got = await putManifest(client, repository, ref, m.raw, m.mediaType, `pushing manifest ${m.digest} to ${targetName}`);
          if (got && got !== m.digest) {
            throw new FerryError('DIGEST_MISMATCH', `pushing ${targetName}: the registry stored manifest ${m.digest} as ${got}`, { hint: 'the registry rewrote the manifest; it does not preserve digests' });
          }
        }
      } catch (err) {
        result.error = wrap(`pushing ${plan.name ?? plan.request} to ${targetName}`, err, 'REGISTRY');
      }
    }),
  );
  return results;
}
