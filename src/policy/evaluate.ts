/**
 * Judging one image against a policy (policy-file.ts): the first rule whose pattern matches the
 * image's source reference decides; with none, the policy's default. A rule that requires
 * `signedBy` accepts the image when at least one cosign signature published for its digest
 * (`sha256-<hex>.sig`, carried in the bundle as a referrer) verifies with one of the named keys
 * and its payload names that same digest. Pure: no network, no clock.
 */
import type { ImagePlan } from '../content/plan.js';
import { signatureValid, signaturesOf, signedDigest, type SimpleSignature } from './cosign-signature.js';
import type { Policy } from './policy-file.js';

export interface Verdict {
  image: string;
  verdict: 'accepted' | 'rejected';
  /** The rule's pattern, or "default". */
  rule: string;
  /** The trust name whose key verified, when accepted by a signature. */
  signedBy?: string;
  /** What was checked: signature layers by digest. */
  evidence: string[];
  /** Why, in words. */
  reason: string;
}

export interface ImageEvidence {
  /** The source reference rules match against (docker.io/library/nginx:1.27). */
  reference: string;
  /** The digests a signature may name: the image's root and its upstream digest. */
  digests: string[];
  signatures: SimpleSignature[];
}

/** The cosign signatures a plan carries; `blob` returns a verified blob's bytes (from the bundle or the cache). */
export async function evidenceOf(plan: ImagePlan, blob: (digest: string) => Promise<Buffer | undefined>): Promise<ImageEvidence> {
  const digests = [...new Set([plan.root.digest, plan.upstreamDigest])];
  const signatures: SimpleSignature[] = [];
  for (const r of plan.referrers ?? []) {
    if (!r.tag?.endsWith('.sig') || !digests.includes(r.subject)) continue;
    const raw = plan.manifests.find((m) => m.digest === r.digest)?.raw;
    if (raw) signatures.push(...(await signaturesOf(raw, blob)));
  }
  return { reference: plan.name ?? plan.request, digests, signatures };
}

export function evaluate(policy: Policy, ev: ImageEvidence): Verdict {
  const rule = policy.rules.find((r) => r.matches(ev.reference));
  const base = { image: ev.reference, evidence: ev.signatures.map((s) => s.digest) };
  if (!rule) {
    return policy.defaultVerdict === 'allow'
      ? { ...base, verdict: 'accepted', rule: 'default', reason: 'no rule matches it; the default is allow' }
      : { ...base, verdict: 'rejected', rule: 'default', reason: 'no rule matches it and the default is reject' };
  }
  if (rule.allow) return { ...base, verdict: 'accepted', rule: rule.pattern, reason: 'the rule allows it without signatures' };
  if (ev.signatures.length === 0) return { ...base, verdict: 'rejected', rule: rule.pattern, reason: `it has no signature (needs one by ${rule.signedBy.join(' or ')})` };
  const why: string[] = [];
  for (const sig of ev.signatures) {
    const named = signedDigest(sig.payload);
    if (!named) {
      why.push(`${sig.digest.slice(0, 19)}: not a simple-signing payload`);
      continue;
    }
    if (!ev.digests.includes(named)) {
      why.push(`${sig.digest.slice(0, 19)}: signs ${named}, not this image`);
      continue;
    }
    const by = rule.signedBy.find((name) => signatureValid(sig, policy.keys.get(name)!));
    if (by) return { ...base, verdict: 'accepted', rule: rule.pattern, signedBy: by, reason: `signed by ${by} (signature ${sig.digest.slice(0, 19)})` };
    why.push(`${sig.digest.slice(0, 19)}: does not verify with ${rule.signedBy.join(' or ')}`);
  }
  return { ...base, verdict: 'rejected', rule: rule.pattern, reason: `no signature verifies: ${why.join('; ')}` };
}
