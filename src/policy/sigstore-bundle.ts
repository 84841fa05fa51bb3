/**
 * cosign v3's default signatures: an OCI 1.1 referrer of artifactType
 * `application/vnd.dev.sigstore.bundle.v0.3+json` whose one layer is a sigstore bundle
 * (sigstore protobuf-specs Bundle; cosign specs/BUNDLE_SPEC.md). `cosign sign` puts in it a DSSE
 * envelope of an in-toto statement whose subject is the image's digest and whose predicateType
 * is `https://sigstore.dev/cosign/sign/v1`, with the signing certificate (keyless) or a key hint,
 * and the Rekor entry with its inclusion promise (SET) and inclusion proof (a checkpoint signed
 * by the log and a Merkle path). Checked with @sigstore/verify against the policy's trust
 * material only: nothing is fetched.
 */
import { bundleFromJSON } from '@sigstore/bundle';
import { toSignedEntity, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify';
import type { KeyObject } from 'node:crypto';
import { parseManifest } from '../oci/manifest.js';
import { because, identityMatches, type KeylessTrust } from './keyless.js';
import type { LogKey } from './rekor-set.js';

export const SIGSTORE_BUNDLE_TYPES = ['application/vnd.dev.sigstore.bundle.v0.3+json', 'application/vnd.dev.sigstore.bundle+json;version=0.3'];
/** The predicate type of a cosign v3 image signature (as opposed to an attestation). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** One sigstore bundle layer: its digest (for messages) and its parsed JSON. */
export interface BundleSignature {
  digest: string;
  json: unknown;
}

/** The sigstore bundles of a referrer manifest; other manifests have none. `blob` returns a verified blob's bytes. */
export async function bundlesOf(raw: Buffer, blob: (digest: string) => Promise<Buffer | undefined>): Promise<BundleSignature[]> {
  const m = parseManifest(raw, undefined, 'referrer manifest');
  if (m.kind !== 'manifest') return [];
  const out: BundleSignature[] = [];
  for (const layer of m.layers) {
    if (!SIGSTORE_BUNDLE_TYPES.includes(layer.mediaType)) continue;
    const bytes = await blob(layer.digest);
    if (!bytes) continue;
    try {
      out.push({ digest: layer.digest, json: JSON.parse(bytes.toString('utf8')) as unknown });
    } catch {
      out.push({ digest: layer.digest, json: undefined });
    }
  }
  return out;
}

/** The predicate type of a bundle's DSSE statement, read without verifying anything (to sort signatures from attestations); undefined when there is none. */
export function bundlePredicateType(b: BundleSignature): string | undefined {
  const payload = (b.json as { dsseEnvelope?: { payload?: unknown } } | undefined)?.dsseEnvelope?.payload;
  if (typeof payload !== 'string') return undefined;
  try {
    const t = (JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as { predicateType?: unknown }).predicateType;
    return typeof t === 'string' ? t : undefined;
  } catch {
    return undefined;
  }
}

export type BundleCheck = { ok: true; identity?: string; checked: string[] } | { ok: false; reason: string };

type Parsed = { ok: true; entity: SignedEntity; keyless: boolean } | { ok: false; reason: string };

/**
 * Parses the bundle and checks its statement names one of `digests` with the predicate type
 * `want`: a cosign signature by default, or the attestation a rule requires.
 */
function parse(b: BundleSignature, digests: readonly string[], want = COSIGN_SIGN_PREDICATE): Parsed {
  let bundle;
  try {
    bundle = bundleFromJSON(b.json);
  } catch (err) {
    return { ok: false, reason: `not a valid sigstore bundle (${(err as Error).message})` };
  }
  if (bundle.content.$case !== 'dsseEnvelope') return { ok: false, reason: 'a sigstore bundle without a DSSE envelope (not a cosign image signature)' };
  const env = bundle.content.dsseEnvelope;
  let statement: { subject?: { digest?: { sha256?: string } }[]; predicateType?: string };
  try {
    statement = JSON.parse(env.payload.toString('utf8')) as typeof statement;
  } catch {
    return { ok: false, reason: 'its DSSE payload is not an in-toto statement' };
  }
  if (env.payloadType !== 'application/vnd.in-toto+json') return { ok: false, reason: `its DSSE payload is ${env.payloadType}, not an in-toto statement` };
  const subjects = (Array.isArray(statement.subject) ? statement.subject : []).map((s) => `sha256:${s?.digest?.sha256 ?? ''}`);
  if (!subjects.some((d) => digests.includes(d))) return { ok: false, reason: `signs ${subjects.join(', ') || 'no digest'}, not this image` };
  if (statement.predicateType !== want) {
    return { ok: false, reason: want === COSIGN_SIGN_PREDICATE ? `an attestation of ${String(statement.predicateType)}, not a cosign signature (${COSIGN_SIGN_PREDICATE})` : `an attestation of ${String(statement.predicateType)}, not ${want}` };
  }
  const keyless = bundle.verificationMaterial.content.$case !== 'publicKey';
  return { ok: true, entity: toSignedEntity(bundle), keyless };
}

/** What the entity's log entries amount to, for the verdict. */
function logEvidence(entity: SignedEntity): string[] {
  return entity.tlogEntries.map((e) => `log entry ${e.logIndex} (${[e.inclusionPromise ? 'SET' : '', e.inclusionProof ? 'inclusion proof' : ''].filter(Boolean).join(', ')})`);
}

const timeOf = (entity: SignedEntity): string => {
  const t = entity.tlogEntries.find((e) => e.inclusionPromise)?.integratedTime;
  return t ? `at ${new Date(Number(t) * 1000).toISOString()}` : 'at the timestamp';
};

/** A cosign v3 bundle against a keyless trust entry: chain at the log's time, log entry, signature, identity. `want`: the predicate type (default: a cosign signature). */
export function checkBundleKeyless(b: BundleSignature, trust: KeylessTrust, digests: readonly string[], want?: string): BundleCheck {
  const p = parse(b, digests, want);
  if (!p.ok) return p;
  if (!p.keyless) return { ok: false, reason: 'a bundle signed with a key, not a keyless certificate' };
  let signer;
  try {
    signer = new Verifier(trust.material, { tlogThreshold: 1, ctlogThreshold: trust.ctlogs ? 1 : 0, timestampThreshold: 1 }).verify(p.entity);
  } catch (err) {
    return { ok: false, reason: because(err) };
  }
  const issuer = signer.identity?.extensions?.issuer;
  const subject = signer.identity?.subjectAlternativeName;
  if (!identityMatches(trust.identities, issuer, subject)) return { ok: false, reason: `its certificate is for ${subject ?? '(no SAN)'} from issuer ${issuer ?? '(none)'}, not a trusted identity` };
  return { ok: true, identity: `${subject} (issuer ${issuer})`, checked: ['signature (sigstore bundle)', `certificate chain (${trust.root}, ${timeOf(p.entity)})`, ...logEvidence(p.entity), 'identity'] };
}

/**
 * A cosign v3 bundle against a key trust entry: the DSSE signature with the key; with the
 * entry's log key, every log entry (SET, inclusion proof, body); without one, the log entries
 * are not checked (and `tlogRequired` cannot be set: the policy refuses it at load).
 */
export function checkBundleKey(b: BundleSignature, key: KeyObject, logs: readonly LogKey[] | undefined, tlogRequired: boolean, digests: readonly string[], want?: string): BundleCheck {
  const p = parse(b, digests, want);
  if (!p.ok) return p;
  if (p.keyless) return { ok: false, reason: 'a keyless bundle (a certificate), not signed with a key' };
  // The log's checkpoint names its origin, which a bare log key does not give: for key trust the
  // SET stands for the entry, and an inclusion proof beside it is not checked.
  const entity: SignedEntity = logs
    ? { ...p.entity, tlogEntries: p.entity.tlogEntries.map((e) => (e.inclusionPromise ? { ...e, inclusionProof: undefined } : e)) }
    : { ...p.entity, tlogEntries: [], timestamps: [] };
  try {
    new Verifier(keyMaterial(key, logs ?? []), { tlogThreshold: tlogRequired ? 1 : 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
  } catch (err) {
    return { ok: false, reason: because(err) };
  }
  const log = logs ? logEvidence(entity) : p.entity.tlogEntries.length ? ['log entries not checked (no log key)'] : [];
  return { ok: true, checked: ['signature (sigstore bundle)', ...log] };
}

/** A trust material of one key and its logs, for bundles with a public-key hint. */
export function keyMaterial(key: KeyObject, logs: readonly LogKey[]): TrustMaterial {
  const always = { start: new Date(0), end: new Date(8640000000000000) };
  return {
    certificateAuthorities: [],
    timestampAuthorities: [],
    ctlogs: [],
    tlogs: logs.map((l) => ({ logID: Buffer.from(l.id, 'hex'), publicKey: l.key, validFor: always, baseURL: '' })),
    publicKey: () => ({ publicKey: key, validFor: () => true }),
  } as unknown as TrustMaterial;
}
