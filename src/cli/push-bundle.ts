/**
 * Pushing one bundle for `ferry import`: the same steps as `ferry push` (opened in place, or
 * read into the cache for older formats, every blob verified as it goes; manifests synthesized
 * for legacy archives; pushPlans), but all or nothing: any image not pushed fails the bundle,
 * and nothing is written beside it. Damage found in the bundle while it is pushed rejects it
 * (BUNDLE_FORMAT); the registry's failures leave it for the next run.
 */
import { bundleSize } from '../bundle/volume-set.js';
import { basename } from 'node:path';
import { FerryError, UsageError } from '../errors.js';
import { synthesizeManifest } from '../bundle/synthesize.js';
import type { Descriptor } from '../oci/manifest.js';
import { planSize } from '../content/plan.js';
import type { PushTarget } from '../registry/push-target.js';
import { pushPlans } from '../transfer/push.js';
import type { Registries } from '../registry/registries.js';
import type { BlobStore } from '../store/blob-store.js';
import type { JournalImage } from '../import/journal.js';
import { openBundle } from './open-bundle.js';
import type { Output } from './output.js';
import { judge, rejectedError, type Policy } from './policy-check.js';

/**
 * Pushes the bundle at `path`; resolves with its images in the target. Throws BUNDLE_FORMAT
 * (it failed its checks), USAGE (no named image), or the registry's failure (NETWORK, AUTH, REGISTRY...)
 * when an image was not pushed.
 */
export async function pushBundle(path: string, store: BlobStore, registries: Registries, target: PushTarget, concurrency: number, out: Output, policy?: Policy): Promise<JournalImage[]> {
  const name = basename(path);
  const size = (await bundleSize(path)) ?? 0;
  let reading = false;
  const opened = await openBundle(path, store, () => {
    reading = true;
    out.start(`read:${name}`, `reading ${name} into the cache`, size);
    return (n) => out.progress(`read:${name}`, n);
  });
  if (reading) out.done(`read:${name}`);
  const it = opened.interpretation;
  const named = it.images.filter((i) => i.name || i.plan.ref.registry !== 'unnamed');
  if (named.length === 0) throw new UsageError(`${name} holds no named images to push`);
  const compressed = new Map<string, Promise<Descriptor>>();
  for (const img of named) if (img.synthesized) await synthesizeManifest(img.plan, store, compressed);
  const plans = named.map((i) => i.plan);
  if (policy) {
    // All or nothing, as the rest of the bundle: one rejected image rejects the bundle before any upload.
    const verdicts = await judge(policy, plans, (d) => opened.readSmall(d), out);
    if (verdicts.some((v) => v.verdict === 'rejected')) throw rejectedError(verdicts, policy, `; nothing of ${name} was pushed`);
  }
  for (const p of plans) for (const n of p.notes) out.warn(n);
  for (const p of plans) out.start(`${name}:${p.request}`, p.request, planSize(p));
  const { results, fatal } = await pushPlans(plans, opened.source, registries, target, { concurrency, onBytes: (p, n) => out.progress(`${name}:${p.request}`, n) });
  results.forEach((r, i) => out.done(`${name}:${plans[i]!.request}`, r.error ? { failed: true } : r.blobs.uploaded ? {} : { label: r.blobs.mounted ? 'mounted' : 'present' }));
  out.stop();
  const failed = results.filter((r) => r.error);
  if (fatal && (fatal.code === 'DIGEST_MISMATCH' || fatal.code === 'BUNDLE_FORMAT')) {
    // Damage found while the bundle was read in place (it matched its checksum file, so it was
    // written so): the bundle's fault, which no rerun mends. Rejected, not tried again.
    const uploaded = results.reduce((n, r) => n + r.blobs.uploaded, 0);
    throw new FerryError('BUNDLE_FORMAT', `${name} is damaged, so no image of it was pushed: ${fatal.message}${uploaded ? ` (${uploaded} blob${uploaded === 1 ? '' : 's'} uploaded before the damage was found stay in the registry, referenced by no manifest)` : ''}`, {
      cause: fatal,
      hint: '`ferry verify` on it says what is wrong; export or save the bundle again',
    });
  }
  if (fatal || failed.length) {
    const first = fatal ?? failed[0]!.error!;
    // The registry's failure, not the bundle's: its own code (AUTH, NETWORK, ...), never one that
    // would mark the bundle as damaged.
    const code = ['BUNDLE_FORMAT', 'DIGEST_MISMATCH', 'UNSUPPORTED', 'USAGE', 'NOT_FOUND'].includes(first.code) ? 'REGISTRY' : first.code;
    throw new FerryError(code, `${failed.length} of ${results.length} images of ${name} were not pushed: ${first.message}`, { cause: first, hint: first.hint ?? 'fix the cause; the next run pushes the bundle again (present blobs are skipped)' });
  }
  return results.map((r) => ({ source: r.source, target: r.target, digest: r.digest }));
}
