/**
 * A registry as an ImageSink (content/image-sink.ts), for `ferry copy` and `ferry push`: each
 * image goes to the repository and tag its Placement gives, its referrers under their own tags
 * or by digest, with the bytes unchanged, so every digest stays.
 * - prepare: the registry is pinged once (`/v2/`): one that cannot be reached fails the copy
 *   once, not once per image; a differential bundle's expected blobs must all be there.
 * - blobs: keyed by repository, so each repository gets each blob it needs; a blob one image
 *   already pushed is mounted into the next repository instead of uploaded again (an upload of
 *   the same blob still running is waited for first).
 * - a connection failure after the retries (refused, unknown host, TLS, timeouts, resets) stops
 *   every image (isFatal).
 */
import pLimit from 'p-limit';
import { FerryError, wrap } from '../errors.js';
import type { Descriptor } from '../oci/manifest.js';
import type { BlobContent, BlobOutcome, ImageSink } from '../content/image-sink.js';
import type { ImagePlan, PlannedManifest } from '../content/plan.js';
import { blobExists } from './blobs.js';
import type { RegistryClient } from './client.js';
import { putManifest } from './manifests.js';
import { publishReferrers } from './referrers-publish.js';
import { isConnectionFailure } from './retry.js';
import { uploadBlob } from './upload.js';

/** Where an image goes in the registry. */
export interface Placement {
  repository(plan: ImagePlan): string;
  /** The tag the root manifest gets; undefined pushes it by digest. */
  tag(plan: ImagePlan): string | undefined;
}

export interface RegistrySinkOptions {
  concurrency?: number;
  /** For messages (default: "registry HOST"). */
  description?: string;
  /** Largest blob sent in one PUT; larger ones go in PATCH chunks (upload.ts). */
  chunkSize?: number;
}

export class RegistryImageSink implements ImageSink {
  readonly description: string;
  readonly concurrency: number;
  /** digest -> a repository that holds it (for mounts), and uploads in flight to wait for. */
  private readonly holders = new Map<string, string>();
  private readonly inflight = new Map<string, Promise<unknown>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly placement: Placement,
    private readonly opts: RegistrySinkOptions = {},
  ) {
    this.description = opts.description ?? `registry ${client.host}`;
    this.concurrency = opts.concurrency ?? 4;
  }

  /** One repository and tag for every image (`ferry copy SRC HOST/REPO[:TAG]`); no tag keeps the source's. */
  static single(client: RegistryClient, repository: string, tag: string | undefined, concurrency = 4): RegistryImageSink {
    return new RegistryImageSink(client, { repository: () => repository, tag: (p) => tag ?? p.ref.tag }, { concurrency, chunkSize: Number.MAX_SAFE_INTEGER, description: `${client.host}/${repository}` });
  }

  private where(plan: ImagePlan): string {
    return `${this.client.host}/${this.placement.repository(plan)}`;
  }

  async prepare(plans: readonly ImagePlan[]): Promise<void> {
    try {
      await this.client.baseUrl();
    } catch (err) {
      // The ping's error already names the registry: "connecting to registry HOST: ...".
      throw err instanceof FerryError ? err : wrap(`connecting to registry ${this.client.host}`, err, 'NETWORK');
    }
    // A differential bundle: the layers it expects on the target must be there before any
    // manifest is pushed (no manifest may name a blob the target lacks).
    const checks = plans.flatMap((p) => (p.expected ?? []).map((digest) => ({ digest, repository: this.placement.repository(p) })));
    const limit = pLimit(8);
    const found = await Promise.all(checks.map((c) => limit(() => blobExists(this.client, c.repository, c.digest, `checking that ${this.client.host}/${c.repository} has ${c.digest}`))));
    const missing = checks.filter((_, i) => !found[i]);
    if (missing.length) {
      throw new FerryError('NOT_FOUND', `${this.client.host} lacks ${missing.length} blob${missing.length === 1 ? '' : 's'} this differential bundle expects there, so nothing was pushed:\n  - ${missing.map((m) => `${m.digest} (${m.repository})`).join('\n  - ')}`, {
        hint: 'push the full bundle (or an earlier one that carries them) first, or export again with a have.json made from this registry (`ferry inventory --registry`)',
      });
    }
  }

  blobKey(plan: ImagePlan, blob: Descriptor): string {
    return `${this.placement.repository(plan)}@${blob.digest}`;
  }

  async putBlob(plan: ImagePlan, blob: Descriptor, content: BlobContent, onBytes: (n: number) => void): Promise<BlobOutcome> {
    const repository = this.placement.repository(plan);
    const other = this.inflight.get(blob.digest);
    if (other) await other.catch(() => undefined);
    const from = this.holders.get(blob.digest);
    const p = uploadBlob(this.client, repository, blob, {
      ...(from ? { mountFrom: from } : {}),
      ...(this.opts.chunkSize !== undefined ? { chunkSize: this.opts.chunkSize } : {}),
      open: (start, end) => content.open(start, end),
      onBytes,
    });
    this.inflight.set(blob.digest, p);
    const outcome = await p;
    this.holders.set(blob.digest, repository);
    return outcome;
  }

  async putManifest(plan: ImagePlan, m: PlannedManifest, tag: string | undefined): Promise<void> {
    const ref = m.digest === plan.root.digest ? this.placement.tag(plan) : tag;
    const where = this.where(plan);
    const got = await putManifest(this.client, this.placement.repository(plan), ref ?? m.digest, m.raw, m.mediaType, `pushing manifest ${m.digest} to ${where}`);
    if (got && got !== m.digest) {
      throw new FerryError('DIGEST_MISMATCH', `pushing ${where}: the registry stored manifest ${m.digest} as ${got}`, { hint: 'the registry rewrote the manifest; it does not preserve digests' });
    }
  }

  async finishImage(plan: ImagePlan): Promise<void> {
    if (plan.referrers?.length) await publishReferrers(this.client, this.placement.repository(plan), plan, `pushing the referrers of ${this.where(plan)}`);
  }

  isFatal(err: unknown): boolean {
    return isConnectionFailure(err);
  }

  async commit(): Promise<void> {}

  async abort(): Promise<void> {}
}
