/**
 * A rule's `attestations`: each in-toto predicate type must be attested for the image's digest
 * by one of the rule's `signedBy` trust names. An attestation counts when its statement has that
 * predicateType, one of its subjects is the image's digest, and it verifies with the trust
 * entry: cosign's `.att` DSSE envelopes with a key (cosign-signature.ts) or keyless
 * (keyless-attestation.ts: chain at the log's time, SET, identity), and cosign v3 sigstore
 * bundles holding a DSSE attestation (sigstore-bundle.ts). Pure.
 */
import { attestationValid, type Attestation } from './cosign-signature.js';
import type { ImageEvidence } from './evaluate.js';
import type { KeyObject } from 'node:crypto';
import { checkIntotoBody, checkKeylessAttestation } from './keyless-attestation.js';
import { checkSet, parseRekorBundle, type LogKey } from './rekor-set.js';
import type { Policy, PolicyRule } from './policy-file.js';
import { bundlePredicateType, checkBundleKey, checkBundleKeyless, COSIGN_SIGN_PREDICATE, type BundleSignature } from './sigstore-bundle.js';

/** One required predicate type and the attestation that satisfied it. */
export interface AttestationCheck {
  type: string;
  /** The attestation's layer digest. */
  digest: string;
  /** The trust name it verified with, and for keyless the certificate's identity. */
  by: string;
  identity?: string;
  checked: string[];
}

type One = { ok: true; found: AttestationCheck } | { ok: false; why: string[] };

const short = (d: string): string => d.slice(0, 19);

/**
 * A key attestation's transparency-log evidence, as for a key signature: with the trust entry's
 * log key, its SET and its intoto 0.0.1 body (this envelope, this key) are checked; without a
 * Rekor bundle it counts only when the rule does not require one.
 */
function keyLogEvidence(a: Attestation, name: string, key: KeyObject, logs: readonly LogKey[] | undefined, tlogRequired: boolean): { ok: true; checked: string[] } | { ok: false; why: string } {
  if (!a.rekorBundle) return tlogRequired ? { ok: false, why: 'it has no transparency-log entry (SET), which the rule requires (tlog: required)' } : { ok: true, checked: [] };
  if (!logs) return { ok: true, checked: [`SET not checked (trust.${name} names no log key)`] };
  const e = parseRekorBundle(a.rekorBundle);
  if (!e) return { ok: false, why: 'its transparency-log annotation is not a Rekor bundle' };
  const bad = checkSet(e, logs) ?? checkIntotoBody(e, a, { key });
  return bad ? { ok: false, why: bad } : { ok: true, checked: [`SET (log index ${e.logIndex}, ${new Date(e.integratedTime * 1000).toISOString()})`] };
}

/** One cosign `.att` envelope against each trust name of the rule. */
function checkEnvelope(policy: Policy, rule: PolicyRule, a: Attestation, type: string): One {
  const unverified: string[] = [];
  const why: string[] = [];
  for (const name of rule.signedBy) {
    const keyless = policy.keyless.get(name);
    if (keyless) {
      const r = checkKeylessAttestation(a, keyless);
      if (r.ok) return { ok: true, found: { type, digest: a.digest, by: name, identity: r.identity, checked: r.checked } };
      why.push(`${name}: ${r.reason}`);
      continue;
    }
    const key = policy.keys.get(name)!;
    if (!attestationValid(a, key)) {
      unverified.push(name);
      continue;
    }
    const log = keyLogEvidence(a, name, key, policy.logs.get(name), rule.tlogRequired);
    if (log.ok) return { ok: true, found: { type, digest: a.digest, by: name, checked: [`attestation signature (DSSE, key ${name})`, ...log.checked] } };
    why.push(`${name}: ${log.why}`);
  }
  return { ok: false, why: [...(unverified.length ? [`does not verify with ${unverified.join(' or ')}`] : []), ...why] };
}

/** One cosign v3 bundle against each trust name of the rule, as an attestation of `type`. */
function checkBundle(policy: Policy, rule: PolicyRule, b: BundleSignature, type: string, digests: readonly string[]): One {
  const why: string[] = [];
  for (const name of rule.signedBy) {
    const keyless = policy.keyless.get(name);
    const r = keyless ? checkBundleKeyless(b, keyless, digests, type) : checkBundleKey(b, policy.keys.get(name)!, policy.logs.get(name), rule.tlogRequired, digests, type);
    if (r.ok) return { ok: true, found: { type, digest: b.digest, by: name, ...(r.identity ? { identity: r.identity } : {}), checked: r.checked } };
    why.push(`${name}: ${r.reason}`);
  }
  return { ok: false, why };
}

/** The attestation of `type` that verifies, or why each candidate did not. */
function attestationOf(policy: Policy, rule: PolicyRule, ev: ImageEvidence, type: string): One {
  const why: string[] = [];
  for (const a of ev.attestations) {
    if (a.predicateType !== type) {
      why.push(`${short(a.digest)}: an attestation of ${a.predicateType ?? '(no predicateType)'}`);
      continue;
    }
    if (!a.subjects.some((d) => ev.digests.includes(d))) {
      why.push(`${short(a.digest)}: attests ${a.subjects.join(', ') || 'no digest'}, not this image`);
      continue;
    }
    const r = checkEnvelope(policy, rule, a, type);
    if (r.ok) return r;
    why.push(`${short(a.digest)}: ${r.why.join('; ')}`);
  }
  // cosign v3 signatures are bundles too (predicate type cosign/sign/v1): not candidates.
  for (const b of (ev.bundles ?? []).filter((x) => bundlePredicateType(x) !== COSIGN_SIGN_PREDICATE)) {
    const r = checkBundle(policy, rule, b, type, ev.digests);
    if (r.ok) return r;
    why.push(`${short(b.digest)} (sigstore bundle): ${r.why.join('; ')}`);
  }
  return { ok: false, why };
}

/** Every required type's attestation, or the types missing and why. */
export function checkAttestations(policy: Policy, rule: PolicyRule, ev: ImageEvidence): { ok: true; found: AttestationCheck[] } | { ok: false; missing: string[]; why: string[] } {
  const found: AttestationCheck[] = [];
  const missing: string[] = [];
  const why: string[] = [];
  for (const type of rule.attestations) {
    const r = attestationOf(policy, rule, ev, type);
    if (r.ok) found.push(r.found);
    else {
      missing.push(type);
      why.push(...r.why);
    }
  }
  return missing.length ? { ok: false, missing, why: [...new Set(why)] } : { ok: true, found };
}

/** An accepted attestation in words: `TYPE (attestation sha256:…, by NAME, identity …; checked: …)`. */
export function describeAttestation(a: AttestationCheck): string {
  return `${a.type} (attestation ${short(a.digest)}, by ${a.by}${a.identity ? `, identity ${a.identity}` : ''}; checked: ${a.checked.join(', ')})`;
}
