/**
 * Judging one image against a policy (policy-file.ts): the first rule whose pattern matches the
 * image's source reference decides; with none, the policy's default. A rule that requires
 * `signedBy` accepts the image when at least one cosign signature published for its digest
 * (`sha256-<hex>.sig`, carried in the bundle as a referrer) verifies with one of the named keys
 * and its payload names that same digest. A key's signature counts with its transparency-log
 * evidence checked when the trust entry names the log's key (and required with `tlog:
 * required`); a keyless signature counts when its certificate, SET and identity check out
 * (keyless.ts). cosign v3's sigstore bundles (OCI 1.1 referrers, sigstore-bundle.ts) count the
 * same way. Required attestations are checked by attested.ts; a rule asking for Notation
 * signatures rejects (notation.ts: ferry does not verify them). Pure: no network, no clock
 * (certificates are checked at the log's time).
 */
import type { ImagePlan } from '../content/plan.js';
import { checkAttestations, describeAttestation, type AttestationCheck } from './attested.js';
import { attestationsOf, signatureValid, signaturesOf, signedDigest, type Attestation, type SimpleSignature } from './cosign-signature.js';
import { checkKeyless } from './keyless.js';
import { isNotationSignature, notationReason } from './notation.js';
import { bundlesOf, checkBundleKey, checkBundleKeyless, type BundleCheck, type BundleSignature } from './sigstore-bundle.js';
import type { Policy, PolicyRule } from './policy-file.js';
import { checkBody, checkSet, parseRekorBundle } from './rekor-set.js';

export interface Verdict {
  image: string;
  verdict: 'accepted' | 'rejected';
  /** The rule's pattern, or "default". */
  rule: string;
  /** The trust name whose key verified, when accepted by a signature. */
  signedBy?: string;
  /** What was checked: signature layers by digest. */
  evidence: string[];
  /** Keyless: the certificate's identity (SAN and issuer) that was accepted. */
  identity?: string;
  /** The evidence that was checked for the accepting signature: signature, certificate chain, SET. */
  checked?: string[];
  /** The attestations the rule required, each with the trust name (and identity) it verified with. */
  attestations?: AttestationCheck[];
  /** How many Notation signatures the image carries, when the rule asked for them (never verified). */
  notation?: number;
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
  /** cosign v3's sigstore bundles (OCI 1.1 referrers). */
  bundles?: BundleSignature[];
  /** How many Notation signatures (referrers) it carries; they are not verified. */
  notation?: number;
}

/** The cosign signatures a plan carries; `blob` returns a verified blob's bytes (from the bundle or the cache). */
export async function evidenceOf(plan: ImagePlan, blob: (digest: string) => Promise<Buffer | undefined>): Promise<ImageEvidence> {
  const digests = [...new Set([plan.root.digest, plan.upstreamDigest])];
  const signatures: SimpleSignature[] = [];
  const attestations: Attestation[] = [];
  const bundles: BundleSignature[] = [];
  let notation = 0;
  for (const r of plan.referrers ?? []) {
    if (!digests.includes(r.subject)) continue;
    const raw = plan.manifests.find((m) => m.digest === r.digest)?.raw;
    if (isNotationSignature(r.artifactType, raw)) notation++;
    if (!raw) continue;
    if (r.tag?.endsWith('.sig')) signatures.push(...(await signaturesOf(raw, blob)));
    else if (r.tag?.endsWith('.att')) attestations.push(...(await attestationsOf(raw, blob)));
    else bundles.push(...(await bundlesOf(raw, blob)));
  }
  return { reference: plan.name ?? plan.request, digests, signatures, attestations, bundles, notation };
}

export function evaluate(policy: Policy, ev: ImageEvidence): Verdict {
  const rule = policy.rules.find((r) => r.matches(ev.reference));
  const bundles = ev.bundles ?? [];
  const base = { image: ev.reference, evidence: [...ev.signatures, ...bundles].map((s) => s.digest) };
  if (!rule) {
    return policy.defaultVerdict === 'allow'
      ? { ...base, verdict: 'accepted', rule: 'default', reason: 'no rule matches it; the default is allow' }
      : { ...base, verdict: 'rejected', rule: 'default', reason: 'no rule matches it and the default is reject' };
  }
  if (rule.notation) return { ...base, verdict: 'rejected', rule: rule.pattern, notation: ev.notation ?? 0, reason: notationReason(ev.notation ?? 0) };
  if (rule.allow) return { ...base, verdict: 'accepted', rule: rule.pattern, reason: 'the rule allows it without signatures' };
  if (ev.signatures.length === 0 && bundles.length === 0) return { ...base, verdict: 'rejected', rule: rule.pattern, reason: `it has no signature (needs one by ${rule.signedBy.join(' or ')})` };
  const accept = (c: { by: string; identity?: string; checked: string[] }, digest: string): Verdict => {
    const extra = { signedBy: c.by, checked: c.checked, ...(c.identity ? { identity: c.identity } : {}) };
    const atts = checkAttestations(policy, rule, ev);
    if (!atts.ok) {
      const why = atts.why.length ? `: ${atts.why.join('; ')}` : '';
      return { ...base, ...extra, verdict: 'rejected', rule: rule.pattern, reason: `signed by ${c.by}, but it has no attestation of ${atts.missing.join(', ')} signed by ${rule.signedBy.join(' or ')} for its digest${why}` };
    }
    const attested = atts.found.length ? { attestations: atts.found } : {};
    const att = atts.found.length ? `; attested: ${atts.found.map(describeAttestation).join('; ')}` : '';
    const who = c.identity ? `; identity ${c.identity}` : '';
    return { ...base, ...extra, ...attested, verdict: 'accepted', rule: rule.pattern, reason: `signed by ${c.by} (signature ${digest.slice(0, 19)}${who}; checked: ${c.checked.join(', ')})${att}` };
  };
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
    const c = checkSignature(policy, rule, sig);
    if (c.ok) return accept(c, sig.digest);
    why.push(`${sig.digest.slice(0, 19)}: ${c.why}`);
  }
  for (const b of bundles) {
    const c = checkSigstoreBundle(policy, rule, b, ev.digests);
    if (c.ok) return accept(c, b.digest);
    why.push(`${b.digest.slice(0, 19)} (sigstore bundle): ${c.why}`);
  }
  return { ...base, verdict: 'rejected', rule: rule.pattern, reason: `no signature verifies: ${why.join('; ')}` };
}

/** Checks one cosign v3 sigstore bundle against each trust name of the rule; the first that accepts it wins. */
function checkSigstoreBundle(policy: Policy, rule: PolicyRule, b: BundleSignature, digests: readonly string[]): SignatureCheck {
  const why: string[] = [];
  for (const name of rule.signedBy) {
    const keyless = policy.keyless.get(name);
    const r: BundleCheck = keyless ? checkBundleKeyless(b, keyless, digests) : checkBundleKey(b, policy.keys.get(name)!, policy.logs.get(name), rule.tlogRequired, digests);
    if (r.ok) return { ok: true, by: name, checked: r.checked, ...(r.identity ? { identity: r.identity } : {}) };
    why.push(`${name}: ${r.reason}`);
  }
  return { ok: false, why: why.join('; ') };
}

type SignatureCheck = { ok: true; by: string; identity?: string; checked: string[] } | { ok: false; why: string };

/** Checks one signature (its digest already matched) against each trust name of the rule; the first that accepts it wins. */
function checkSignature(policy: Policy, rule: PolicyRule, sig: SimpleSignature): SignatureCheck {
  const unverified: string[] = [];
  const others: string[] = [];
  for (const name of rule.signedBy) {
    const keyless = policy.keyless.get(name);
    if (keyless) {
      const r = checkKeyless(sig, keyless);
      if (r.ok) return { ok: true, by: name, identity: r.identity, checked: r.checked };
      others.push(`${name}: ${r.reason}`);
      continue;
    }
    const key = policy.keys.get(name)!;
    if (!signatureValid(sig, key)) {
      unverified.push(name);
      continue;
    }
    const checked = [`signature (key ${name})`];
    const logs = policy.logs.get(name);
    if (sig.rekorBundle && logs) {
      const e = parseRekorBundle(sig.rekorBundle);
      const bad = e ? (checkSet(e, logs) ?? checkBody(e, sig, key)) : 'its transparency-log annotation is not a Rekor bundle';
      if (bad) {
        others.push(`${name}: ${bad}`);
        continue;
      }
      checked.push(`SET (log index ${e!.logIndex}, ${new Date(e!.integratedTime * 1000).toISOString()})`);
    } else if (rule.tlogRequired) {
      others.push(`${name}: it has no transparency-log entry (SET), which the rule requires (tlog: required)`);
      continue;
    } else if (sig.rekorBundle) checked.push(`SET not checked (trust.${name} names no log key)`);
    return { ok: true, by: name, checked };
  }
  const parts = [...(unverified.length ? [`does not verify with ${unverified.join(' or ')}`] : []), ...others];
  return { ok: false, why: parts.join('; ') };
}
