/**
 * Keyless (Fulcio) signatures as cosign stores them in registries: the simple-signing layer's
 * signature, the short-lived signing certificate in `dev.sigstore.cosign/certificate` and the
 * Rekor bundle (SET) in `dev.sigstore.cosign/bundle`. They are checked with @sigstore/verify
 * against a trusted root given as a file (sigstore's trusted_root.json), never fetched: no TUF,
 * no Rekor lookup. The annotations are turned into a sigstore bundle v0.1 (message signature,
 * certificate, one log entry with its inclusion promise), which is what cosign's annotations
 * are, and the Verifier checks, in order: the certificate chains to a certificate authority of
 * the trusted root and every certificate of the path is valid at the log's integrated time
 * (not now); the SET verifies with the key of the log it names and the entry body records this
 * signature and payload digest; the signature verifies over the payload with the leaf's key.
 * The identity (issuer extension 1.3.6.1.4.1.57264.1.8, or the legacy .1.1, and the SAN) is
 * then matched against the policy's identities here, since @sigstore/verify matches exact
 * strings only. Keyless attestations (keyless-attestation.ts) reuse the bundle, the annotations
 * and the identity match with `dsseEnvelope` content.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, toTrustMaterial, Verifier, type Signer, type TrustMaterial } from '@sigstore/verify';
import { z } from 'zod';
import type { SimpleSignature } from './cosign-signature.js';
import { parseRekorBundle, type RekorEntry } from './rekor-set.js';

/** One accepted identity: the OIDC issuer, and the certificate's SAN exactly or by RegExp. */
export interface Identity {
  issuer: string;
  subject?: string;
  subjectRegExp?: RegExp;
}

export interface KeylessTrust {
  /** The trusted root file, for messages. */
  root: string;
  material: TrustMaterial;
  /** How many CT logs the root names: with any, the leaf must carry an SCT from one. */
  ctlogs: number;
  identities: Identity[];
}

export type KeylessResult = { ok: true; identity: string; checked: string[] } | { ok: false; reason: string };

const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const validFor = z.object({ start: z.string().datetime({ offset: true }), end: z.string().datetime({ offset: true }).optional() }).loose();
const publicKey = z.object({ rawBytes: b64, keyDetails: z.string(), validFor: validFor.optional() }).loose();
const tlog = z.object({ baseUrl: z.string().default(''), hashAlgorithm: z.string().optional(), publicKey, logId: z.object({ keyId: b64 }).loose() }).loose();
const ca = z.object({ uri: z.string().optional(), certChain: z.object({ certificates: z.array(z.object({ rawBytes: b64 }).loose()).min(1) }).loose(), validFor: validFor.optional() }).loose();
const trustedRootSchema = z
  .object({
    mediaType: z.string().optional(),
    tlogs: z.array(tlog).default([]),
    certificateAuthorities: z.array(ca).default([]),
    ctlogs: z.array(tlog).default([]),
    timestampAuthorities: z.array(ca).default([]),
  })
  .loose();

type RootInput = Parameters<typeof toTrustMaterial>[0];
const range = (v: z.infer<typeof validFor> | undefined) => (v ? { start: new Date(v.start), ...(v.end ? { end: new Date(v.end) } : {}) } : undefined);
const toLog = (t: z.infer<typeof tlog>) => {
  if (t.publicKey.keyDetails.startsWith('PKCS1_')) throw new Error(`log ${t.baseUrl || t.logId.keyId}: key details ${t.publicKey.keyDetails} (a PKCS#1 key) are not supported; give the key as PKIX (SubjectPublicKeyInfo)`);
  // keyDetails 0 (unspecified): the key is read as DER SubjectPublicKeyInfo, which every PKIX_* key is.
  return { baseUrl: t.baseUrl, hashAlgorithm: 1, publicKey: { rawBytes: Buffer.from(t.publicKey.rawBytes, 'base64'), keyDetails: 0, validFor: range(t.publicKey.validFor) }, logId: { keyId: Buffer.from(t.logId.keyId, 'base64') } };
};
const toCa = (c: z.infer<typeof ca>) => ({ subject: undefined, uri: c.uri ?? '', certChain: { certificates: c.certChain.certificates.map((x) => ({ rawBytes: Buffer.from(x.rawBytes, 'base64') })) }, validFor: range(c.validFor) });

/** Reads a trusted_root.json; throws an Error saying what is wrong with it. */
export async function loadTrustedRoot(file: string): Promise<{ material: TrustMaterial; ctlogs: number }> {
  const doc = JSON.parse(await readFile(file, 'utf8')) as unknown;
  const parsed = trustedRootSchema.safeParse(doc);
  if (!parsed.success) throw new Error(`not a sigstore trusted root: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ')}`);
  const r = parsed.data;
  if (!r.certificateAuthorities.length) throw new Error('it names no certificateAuthorities (the Fulcio CA that issues signing certificates)');
  if (!r.tlogs.length) throw new Error('it names no tlogs (the Rekor log whose SETs date the signatures)');
  const root = { mediaType: r.mediaType ?? '', tlogs: r.tlogs.map(toLog), certificateAuthorities: r.certificateAuthorities.map(toCa), ctlogs: r.ctlogs.map(toLog), timestampAuthorities: r.timestampAuthorities.map(toCa) } as unknown as RootInput;
  try {
    return { material: toTrustMaterial(root), ctlogs: r.ctlogs.length };
  } catch (err) {
    throw new Error(`a key or certificate in it cannot be read: ${(err as Error).message}`);
  }
}

/**
 * The sigstore bundle v0.1 that cosign's annotations amount to (sigstore protobuf-specs Bundle,
 * JSON form): the certificate path, the one log entry with its inclusion promise, and `content`
 * (a `messageSignature` for a signature, a `dsseEnvelope` for an attestation).
 */
export function bundleV01(e: RekorEntry, certs: readonly Buffer[], content: Record<string, unknown>): unknown {
  let body: { kind?: unknown; apiVersion?: unknown } = {};
  try {
    body = JSON.parse(e.body.toString('utf8')) as typeof body;
  } catch {
    // the Verifier says the body does not match
  }
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      x509CertificateChain: { certificates: certs.map((d) => ({ rawBytes: d.toString('base64') })) },
      tlogEntries: [
        {
          logIndex: String(e.logIndex),
          logId: { keyId: Buffer.from(e.logID, 'hex').toString('base64') },
          kindVersion: { kind: String(body.kind ?? ''), version: String(body.apiVersion ?? '') },
          integratedTime: String(e.integratedTime),
          inclusionPromise: { signedEntryTimestamp: e.set.toString('base64') },
          canonicalizedBody: e.body.toString('base64'),
        },
      ],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    ...content,
  };
}

/** What cosign's keyless annotations hold: the leaf then its chain (DER), and the Rekor entry; or why they cannot be read. */
export function keylessAnnotations(x: { certificate?: string; chain?: string; rekorBundle?: string }): { ok: true; certs: Buffer[]; entry: RekorEntry } | { ok: false; reason: string } {
  if (!x.certificate) return { ok: false, reason: 'it carries no signing certificate (not a keyless signature)' };
  if (!x.rekorBundle) return { ok: false, reason: 'it has no transparency-log entry (SET), so its short-lived certificate cannot be checked at a trusted time' };
  let leaf: Buffer[];
  let chain: Buffer[];
  try {
    leaf = pemCertificates(x.certificate);
    chain = x.chain ? pemCertificates(x.chain) : [];
  } catch (err) {
    return { ok: false, reason: `its certificate cannot be read: ${(err as Error).message}` };
  }
  if (leaf.length !== 1) return { ok: false, reason: 'its certificate annotation does not hold one PEM certificate' };
  const entry = parseRekorBundle(x.rekorBundle);
  if (!entry) return { ok: false, reason: 'its transparency-log annotation is not a Rekor bundle' };
  return { ok: true, certs: [...leaf, ...chain], entry };
}

/** The Verifier for a keyless trust entry: one log entry (or timestamp), and an SCT when the root names CT logs. */
export const keylessVerifier = (trust: KeylessTrust, tlogThreshold = 1): Verifier => new Verifier(trust.material, { tlogThreshold, ctlogThreshold: trust.ctlogs ? 1 : 0, timestampThreshold: 1 });

/** The verified signer's identity matched against the trust entry; the result names what was checked. */
export function identityResult(signer: Signer, trust: KeylessTrust, e: RekorEntry, first: string): KeylessResult {
  const issuer = signer.identity?.extensions?.issuer;
  const subject = signer.identity?.subjectAlternativeName;
  if (!identityMatches(trust.identities, issuer, subject)) return { ok: false, reason: `its certificate is for ${subject ?? '(no SAN)'} from issuer ${issuer ?? '(none)'}, not a trusted identity` };
  return {
    ok: true,
    identity: `${subject} (issuer ${issuer})`,
    checked: [first, `certificate chain (${trust.root}, at ${new Date(e.integratedTime * 1000).toISOString()})`, `SET (log index ${e.logIndex})`, 'identity'],
  };
}

/** PEM text as DER certificates, in order. */
function pemCertificates(pem: string): Buffer[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g)].map((m) => new X509Certificate(m[0]).raw);
}

/** @sigstore/verify's error codes in words. */
export function because(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { message?: string } };
  const detail = `${e.message ?? String(err)}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
  switch (e.code) {
    case 'CERTIFICATE_ERROR':
      if (/\bSCTs?\b/.test(detail)) return `its certificate has no valid SCT from a CT log of the trusted root: ${detail}`;
      return `its certificate does not chain to a certificate authority of the trusted root valid at the log's time: ${detail}`;
    case 'TLOG_INCLUSION_PROMISE_ERROR':
      return 'its SET does not verify with the key of a log of the trusted root';
    case 'TLOG_BODY_ERROR':
      return `its log entry does not record this signature: ${detail}`;
    case 'TLOG_ERROR':
      return `it has no transparency-log entry, which the rule requires (${detail})`;
    case 'TLOG_INCLUSION_PROOF_ERROR':
      return `its log inclusion proof does not verify: ${detail}`;
    case 'SIGNATURE_ERROR':
      return "its signature does not verify over the payload with the certificate's key";
    default:
      return detail;
  }
}

/** Whether the identity is one of the trusted ones. */
export function identityMatches(ids: readonly Identity[], issuer: string | undefined, subject: string | undefined): boolean {
  return ids.some((i) => i.issuer === issuer && subject !== undefined && (i.subject !== undefined ? i.subject === subject : i.subjectRegExp!.test(subject)));
}

/** Checks one keyless signature against a trust entry: chain, SET, signature, then identity. */
export function checkKeyless(sig: SimpleSignature, trust: KeylessTrust): KeylessResult {
  const a = keylessAnnotations(sig);
  if (!a.ok) return a;
  const json = bundleV01(a.entry, a.certs, {
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(sig.payload).digest('base64') }, signature: sig.signature.toString('base64') },
  });
  let signer: Signer;
  try {
    signer = keylessVerifier(trust).verify(toSignedEntity(bundleFromJSON(json), sig.payload));
  } catch (err) {
    return { ok: false, reason: because(err) };
  }
  return identityResult(signer, trust, a.entry, 'signature');
}
