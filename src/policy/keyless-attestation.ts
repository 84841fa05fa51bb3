/**
 * Keyless attestations as cosign stores them under `sha256-<hex>.att`: each layer a DSSE
 * envelope (application/vnd.dsse.envelope.v1+json) of an in-toto statement, signed by a Fulcio
 * leaf, with the same `dev.sigstore.cosign/certificate`, `/chain` and `/bundle` annotations as a
 * keyless signature (keyless.ts). The annotations are turned into a sigstore bundle v0.1 with
 * `dsseEnvelope` content and checked with @sigstore/verify against the trusted root: the chain
 * at the log's integrated time, the DSSE signature over the pre-authentication encoding with the
 * leaf's key, the SET, then the identity.
 *
 * `cosign attest` logs an `intoto` 0.0.1 entry (cosign pkg/cosign/tlog.go), which records the
 * sha256 of the envelope as uploaded, of its payload, and the certificate, but no signature;
 * @sigstore/verify reads only intoto 0.0.2 and dsse bodies. For those entries the Verifier checks
 * the chain (at the entry's time) and the signature, and the SET and the body are checked here:
 * the SET with the key of a log of the trusted root valid at that time (the same canonical
 * payload, rekor-set.ts), the body against these envelope bytes and this leaf. Other bodies go
 * through the Verifier whole. Pure: no network, no clock.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, type Signer } from '@sigstore/verify';
import type { Attestation } from './cosign-signature.js';
import { because, bundleV01, identityResult, keylessAnnotations, keylessVerifier, type KeylessResult, type KeylessTrust } from './keyless.js';
import { checkSet, type LogKey, type RekorEntry } from './rekor-set.js';

/** A value at a path of plain objects. */
const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((x, k) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);
const sha256hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** The entry body as JSON, or undefined. */
function bodyOf(e: RekorEntry): unknown {
  try {
    return JSON.parse(e.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The trusted root's logs whose key was valid at the entry's time, as rekor-set.ts takes them. */
function logsAt(trust: KeylessTrust, e: RekorEntry): LogKey[] {
  const t = new Date(e.integratedTime * 1000);
  return trust.material.tlogs.filter((l) => l.validFor.start <= t && t <= l.validFor.end).map((l) => ({ id: l.logID.toString('hex'), key: l.publicKey }));
}

/** Whether the entry is an intoto 0.0.1 entry (what cosign logs for attestations). */
export const isIntoto001 = (body: unknown): boolean => at(body, 'kind') === 'intoto' && at(body, 'apiVersion') === '0.0.1';

/**
 * Why an intoto 0.0.1 entry does not record this envelope (the sha256 of its bytes as stored and
 * of its payload) and signer (the leaf certificate, or for key trust the public key), or
 * undefined when it does.
 */
export function checkIntotoBody(e: RekorEntry, att: Attestation, signer: { leaf: Buffer } | { key: KeyObject }): string | undefined {
  const body = bodyOf(e);
  if (!isIntoto001(body)) return `its log entry is a ${String(at(body, 'kind'))} ${String(at(body, 'apiVersion'))}, not an intoto 0.0.1 entry`;
  const hash = at(body, 'spec', 'content', 'hash');
  if (at(hash, 'algorithm') !== 'sha256' || at(hash, 'value') !== sha256hex(att.envelope)) return 'its log entry records another envelope';
  const payloadHash = at(body, 'spec', 'content', 'payloadHash');
  if (payloadHash !== undefined && (at(payloadHash, 'algorithm') !== 'sha256' || at(payloadHash, 'value') !== sha256hex(att.payload))) return 'its log entry records another payload digest';
  const what = 'leaf' in signer ? 'certificate' : 'public key';
  try {
    const pem = Buffer.from(String(at(body, 'spec', 'publicKey')), 'base64').toString('utf8');
    const cert = pem.includes('BEGIN CERTIFICATE') ? new X509Certificate(pem) : undefined;
    const same = 'leaf' in signer ? cert !== undefined && cert.raw.equals(signer.leaf) : (cert ? cert.publicKey : createPublicKey(pem)).equals(signer.key);
    if (!same) return `its log entry records another ${what}`;
  } catch {
    return `its log entry records no readable ${what}`;
  }
  return undefined;
}

/** Checks one keyless attestation (its predicate type and subject already matched) against a trust entry: chain, signature, SET, body, identity. */
export function checkKeylessAttestation(att: Attestation, trust: KeylessTrust): KeylessResult {
  const a = keylessAnnotations(att);
  if (!a.ok) return a;
  if (att.signatures.length !== 1) return { ok: false, reason: `its envelope has ${att.signatures.length} signatures, not one (as cosign writes it)` };
  const json = bundleV01(a.entry, a.certs, {
    dsseEnvelope: { payload: att.payload.toString('base64'), payloadType: att.payloadType, signatures: [{ sig: att.signatures[0]!.toString('base64'), keyid: '' }] },
  });
  const intoto001 = isIntoto001(bodyOf(a.entry));
  let signer: Signer;
  try {
    const entity = toSignedEntity(bundleFromJSON(json));
    // intoto 0.0.1: the entry still dates the certificate (entity.timestamps); its SET and body are checked below.
    signer = intoto001 ? keylessVerifier(trust, 0).verify({ ...entity, tlogEntries: [] }) : keylessVerifier(trust).verify(entity);
  } catch (err) {
    return { ok: false, reason: because(err) };
  }
  if (intoto001) {
    const bad = checkSet(a.entry, logsAt(trust, a.entry)) ?? checkIntotoBody(a.entry, att, { leaf: a.certs[0]! });
    if (bad) return { ok: false, reason: bad };
  }
  return identityResult(signer, trust, a.entry, 'attestation signature (DSSE)');
}
