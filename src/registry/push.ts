/**
 * The registry as an image sink: pushes plans from a verified store with their original bytes,
 * so every manifest and index digest in the target equals the one in the bundle. Order: all
 * blobs of an image (in parallel), then its manifests children first, the index last; the tag
 * (or, for digest-only images, the digest) goes on the root. Blobs one image already pushed are
 * mounted into the next repository instead of uploaded again.
 *
 * A registry that cannot be reached fails the push once, not once per image: the target is
 * pinged (`/v2/`) before the first image, and the first connection failure of any image
 * (refused, unknown host, TLS, timeouts or resets after the retries) stops the images not yet
 * done; they are reported with that one failure.
 */
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import type { Readable } from 'node:stream';
import { planBlobs, type ImagePlan } from '../content/plan.js';
import type { Registries } from './registries.js';
import { publishReferrers } from './referrers-publish.js';
import { putManifest } from './manifests.js';
import { targetRepository, type PushTarget } from './push-target.js';
import { uploadBlob, type UploadOutcome } from './upload.js';
import { blobExists } from './blobs.js';
import type { RegistryClient } from './client.js';
import { isConnectionFailure } from './retry.js';

export interface PushResult {
  source: string;
  target: string;
  digest: string;
  blobs: Record<UploadOutcome, number>;
  error?: FerryError;
}

export interface PushOutcome {
  /** One per plan, in the order the images started. */
  results: PushResult[];
  /**
   * The failure that stopped the push: the target could not be reached. Every result that did
   * not succeed has it (the same object) as its error.
   */
  fatal?: FerryError;
}

/**
 * Where the bytes of the blobs come from: the verified store, or a bundle read in place. A
 * reader that streams unverified bytes (a bundle) MUST fail the stream when they do not match
 * the digest, before the stream ends (VerifyingStream with holdLast).
 */
export interface BlobReader {
  /** Bytes [start, end] (inclusive) of a blob. */
  readRange(digest: string, start: number, end: number): Readable;
}

export interface PushOptions {
  concurrency: number;
  onBytes?: (plan: ImagePlan, n: number) => void;
  /** Called when an image is in the target, manifests included. */
  onDone?: (plan: ImagePlan) => void;
}

/**
 * Pushes each plan; an image's failure is recorded in its result and the others go on, unless
 * it is a connection failure (see the file comment). Never throws for a registry failure.
 */
export async function pushPlans(plans: readonly ImagePlan[], blobs: BlobReader, registries: Registries, target: PushTarget, opts: PushOptions): Promise<PushOutcome> {
  const client = registries.client(target.host);
  const resultOf = (plan: ImagePlan): PushResult => {
    const repository = targetRepository(target, plan.ref);
    const tag = plan.name ? plan.ref.tag : undefined;
    return { source: plan.name ?? plan.request, target: `${target.host}/${repository}${tag ? `:${tag}` : ''}@${plan.root.digest}`, digest: plan.root.digest, blobs: { exists: 0, mounted: 0, uploaded: 0 } };
  };
  try {
    await client.baseUrl();
  } catch (err) {
    // The ping's error already names the registry: "connecting to registry HOST: ...".
    const fatal = err instanceof FerryError ? err : wrap(`connecting to registry ${target.host}`, err, 'NETWORK');
    return { results: plans.map((p) => ({ ...resultOf(p), error: fatal }) as PushResult), fatal };
  }
  // A differential bundle: the layers it expects on the target must be there before any
  // manifest is pushed (no manifest may name a blob the target lacks).
  const missing = await missingExpected(client, target, plans);
  if (missing.length) {
    const fatal = new FerryError('NOT_FOUND', `${target.host} lacks ${missing.length} blob${missing.length === 1 ? '' : 's'} this differential bundle expects there, so nothing was pushed:\n  - ${missing.map((m) => `${m.digest} (${m.repository})`).join('\n  - ')}`, {
      hint: 'push the full bundle (or an earlier one that carries them) first, or export again with a have.json made from this registry (`ferry inventory --registry`)',
    });
    return { results: plans.map((p) => ({ ...resultOf(p), error: fatal }) as PushResult), fatal };
  }
  const limit = pLimit(opts.concurrency);
  // digest -> repository that holds it (for mounts), and in-flight uploads to share.
  const holders = new Map<string, string>();
  const inflight = new Map<string, Promise<unknown>>();
  const results: PushResult[] = [];
  let fatal: FerryError | undefined;
  const stopIfFatal = (): void => {
    if (fatal) throw fatal;
  };
  // Every image's blobs first; manifests only when no blob anywhere turned out damaged (a
  // bundle read in place is verified as it is uploaded: one bad blob means a damaged bundle,
  // and no manifest of it may reach the target).
  const failure = (result: PushResult, plan: ImagePlan, targetName: string, err: unknown, blobPhase: boolean): void => {
    if (err === fatal || (fatal && isConnectionFailure(err))) {
      result.error = fatal;
      return;
    }
    result.error = wrap(`pushing ${plan.name ?? plan.request} to ${targetName}`, err, 'REGISTRY');
    if (isConnectionFailure(err) || (blobPhase && isDamage(err))) fatal = result.error;
  };
  const jobs = plans.map((plan) => {
    const repository = targetRepository(target, plan.ref);
    const tag = plan.name ? plan.ref.tag : undefined;
    const result = resultOf(plan);
    results.push(result);
    return { plan, repository, tag, targetName: `${target.host}/${repository}`, result };
  });
  await Promise.all(
    jobs.map(async ({ plan, repository, targetName, result }) => {
      try {
        await Promise.all(
          planBlobs(plan).map((d) =>
            limit(async () => {
              stopIfFatal();
              const other = inflight.get(d.digest);
              if (other) await other.catch(() => undefined);
              const from = holders.get(d.digest);
              const p = uploadBlob(client, repository, d, {
                ...(from ? { mountFrom: from } : {}),
                open: (start, end) => blobs.readRange(d.digest, start, end),
                onBytes: (n) => opts.onBytes?.(plan, n),
              });
              inflight.set(d.digest, p);
              const outcome = await p;
              result.blobs[outcome]++;
              holders.set(d.digest, repository);
            }),
          ),
        );
      } catch (err) {
        failure(result, plan, targetName, err, true);
      }
    }),
  );
  await Promise.all(
    jobs.map(async ({ plan, repository, tag, targetName, result }) => {
      if (result.error) return;
      if (fatal) {
        result.error = fatal;
        return;
      }
      try {
        // Referrers published under a tag (cosign's .sig/.att/.sbom, the fallback sha256-<hex>
        // index) go back under that tag; the others by digest.
        const referrerTag = new Map((plan.referrers ?? []).flatMap((r) => (r.tag ? [[r.digest, r.tag] as const] : [])));
        for (const m of plan.manifests) {
          stopIfFatal();
          const isRoot = m.digest === plan.root.digest;
          const ref = isRoot && tag ? tag : (referrerTag.get(m.digest) ?? m.digest);
          const got = await putManifest(client, repository, ref, m.raw, m.mediaType, `pushing manifest ${m.digest} to ${targetName}`);
          if (got && got !== m.digest) {
            throw new FerryError('DIGEST_MISMATCH', `pushing ${targetName}: the registry stored manifest ${m.digest} as ${got}`, { hint: 'the registry rewrote the manifest; it does not preserve digests' });
          }
        }
        if (plan.referrers?.length) await publishReferrers(client, repository, plan, `pushing the referrers of ${targetName}`);
        opts.onDone?.(plan);
      } catch (err) {
        failure(result, plan, targetName, err, false);
      }
    }),
  );
  return fatal ? { results, fatal } : { results };
}

/** A blob of the source that is not what its digest says: the source is damaged, stop everything. */
function isDamage(err: unknown): boolean {
  const code = (err as FerryError)?.code;
  return code === 'DIGEST_MISMATCH' || code === 'BUNDLE_FORMAT';
}

/** The expected blobs (differential bundles) the target does not hold, by repository. */
async function missingExpected(client: RegistryClient, target: PushTarget, plans: readonly ImagePlan[]): Promise<{ digest: string; repository: string }[]> {
  const checks = plans.flatMap((p) => (p.expected ?? []).map((digest) => ({ digest, repository: targetRepository(target, p.ref) })));
  const limit = pLimit(8);
  const found = await Promise.all(checks.map((c) => limit(() => blobExists(client, c.repository, c.digest, `checking that ${client.host}/${c.repository} has ${c.digest}`))));
  return checks.filter((_, i) => !found[i]);
}
