/**
 * Judging one image against a policy (policy-file.ts): the first rule whose pattern matches the
 * image's source reference decides; with none, the policy's default. A rule that requires
 * `signedBy` accepts the image when at least one cosign signature published for its digest
 * (`sha256-<hex>.sig`, carried in the bundle as a referrer) verifies with one of the named keys
 * and its payload names that same digest. Pure: no network, no clock.
 */
import type { ImagePlan } from '../content/plan.js';
import { attestationValid, attestationsOf, signatureValid, signaturesOf, signedDigest, type Attestation, type SimpleSignature } from './cosign-signature.js';
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
  attestations: Attestation[];
}

/** The cosign signatures a plan carries; `blob` returns a verified blob's bytes (from the bundle or the cache). */
export async function evidenceOf(plan: ImagePlan, blob: (digest: string) => Promise<Buffer | undefined>): Promise<ImageEvidence> {
  const digests = [...new Set([plan.root.digest, plan.upstreamDigest])];
  const signatures: SimpleSignature[] = [];
  const attestations: Attestation[] = [];
  for (const r of plan.referrers ?? []) {
    if (!digests.includes(r.subject)) continue;
    const raw = plan.manifests.find((m) => m.digest === r.digest)?.raw;
    if (!raw) continue;
    if (r.tag?.endsWith('.sig')) signatures.push(...(await signaturesOf(raw, blob)));
    else if (r.tag?.endsWith('.att')) attestations.push(...(await attestationsOf(raw, blob)));
  }
  return { reference: plan.name ?? plan.request, digests, signatures, attestations };
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
    if (by) {
      const missing = rule.attestations.filter((type) => !attested(policy, rule.signedBy, ev, type));
      if (missing.length) {
        return { ...base, verdict: 'rejected', rule: rule.pattern, signedBy: by, reason: `signed by ${by}, but it has no attestation of ${missing.join(', ')} signed by ${rule.signedBy.join(' or ')} for its digest` };
      }
      const att = rule.attestations.length ? `; attested: ${rule.attestations.join(', ')}` : '';
      return { ...base, verdict: 'accepted', rule: rule.pattern, signedBy: by, reason: `signed by ${by} (signature ${sig.digest.slice(0, 19)})${att}` };
    }
    why.push(`${sig.digest.slice(0, 19)}: does not verify with ${rule.signedBy.join(' or ')}`);
  }
  return { ...base, verdict: 'rejected', rule: rule.pattern, reason: `no signature verifies: ${why.join('; ')}` };
}

/** Whether an attestation of `type` for the image's digest verifies with one of `keys`. */
function attested(policy: Policy, keys: readonly string[], ev: ImageEvidence, type: string): boolean {
  return ev.attestations.some((a) => a.predicateType === type && a.subjects.some((d) => ev.digests.includes(d)) && keys.some((k) => attestationValid(a, policy.keys.get(k)!)));
}
