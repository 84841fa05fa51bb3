/**
 * `--policy FILE` for verify, push and load: the policy is loaded (and every key read) before
 * any work; each image is judged from the signatures the bundle carries; one line per image
 * says the verdict, the rule and why. Offline by construction: nothing is fetched.
 * For save and export the same judgement runs on the internet side, on the images and
 * referrers just fetched into the cache, before the bundle is written.
 */
import { readFile } from 'node:fs/promises';
import { FerryError, UsageError } from '../errors.js';
import type { BlobStore } from '../store/blob-store.js';
import type { ImagePlan } from '../content/plan.js';
// The evaluator (and the sigstore libraries under it) loads only when a policy is given: every
// save, export and push would otherwise pay ~0.1 s to load it.
import type { Verdict } from '../policy/evaluate.js';
import { loadPolicy, type Policy } from '../policy/policy-file.js';
import type { Output } from './output.js';

export { loadPolicy, type Policy, type Verdict };

/** Judges every plan; prints a line per image (accepted: info; rejected: warning). */
export async function judge(policy: Policy, plans: readonly ImagePlan[], blob: (digest: string) => Promise<Buffer | undefined>, out: Output): Promise<Verdict[]> {
  const verdicts: Verdict[] = [];
  const { evaluate, evidenceOf } = await import('../policy/evaluate.js');
  for (const p of plans) {
    const v = evaluate(policy, await evidenceOf(p, blob));
    verdicts.push(v);
    if (v.verdict === 'accepted') out.info(`policy: accepted ${v.image} (rule ${JSON.stringify(v.rule)}): ${v.reason}`);
    else out.warn(`policy: rejected ${v.image} (rule ${JSON.stringify(v.rule)}): ${v.reason}`);
  }
  return verdicts;
}

/** The error for rejected images: exit 1, naming them. */
export function rejectedError(verdicts: readonly Verdict[], policy: Policy, what: string): FerryError {
  const rejected = verdicts.filter((v) => v.verdict === 'rejected');
  return new FerryError('POLICY', `${rejected.length} of ${verdicts.length} image${verdicts.length === 1 ? '' : 's'} rejected by the policy ${policy.path}${what}:\n  - ${rejected.map((v) => `${v.image}: ${v.reason}`).join('\n  - ')}`, {
    hint: 'sign the images with a trusted key or identity (cosign sign), or change the policy',
  });
}

/** save/export: the policy loaded before any work (exit 2 when invalid), or undefined without --policy. Throws a UsageError with --no-referrers, which would leave the signatures behind. */
export async function policyForBundling(file: string | undefined, referrers: boolean): Promise<Policy | undefined> {
  if (file === undefined) return undefined;
  if (!referrers) throw new UsageError('--policy judges images by their signatures, which --no-referrers leaves behind', 'drop --no-referrers, or --policy');
  return loadPolicy(file);
}

/**
 * save/export: judges the fetched images (their signatures read from the cache) before the
 * bundle is written. Throws a POLICY error (exit 1) naming each rejected image and why; then
 * nothing is written.
 */
export async function judgeBeforeBundle(policy: Policy, plans: readonly ImagePlan[], store: BlobStore, out: Output): Promise<void> {
  const verdicts = await judge(policy, plans, (d) => readFile(store.path(d)).catch(() => undefined), out);
  if (verdicts.some((v) => v.verdict === 'rejected')) throw rejectedError(verdicts, policy, '; no bundle was written');
}
