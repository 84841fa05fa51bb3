/**
 * cosign's simple-signing signatures (sigstore/cosign specs/SIGNATURE_SPEC.md): a manifest
 * published under the tag `sha256-<hex>.sig` whose layers are
 * `application/vnd.dev.cosign.simplesigning.v1+json` payloads; each layer's annotation
 * `dev.cosignproject.cosign/signature` holds the base64 signature over the payload bytes, and
 * the payload's `critical.image.docker-manifest-digest` names the signed manifest. Keys are
 * compared case-insensitively, as Go's encoding/json (and so cosign) reads them.
 */
import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { parseManifest, type Descriptor } from '../oci/manifest.js';

export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
/** Keyless signatures: the Fulcio leaf (PEM) and its chain (PEM, leaf's issuer first). */
export const CERTIFICATE_ANNOTATION = 'dev.sigstore.cosign/certificate';
export const CHAIN_ANNOTATION = 'dev.sigstore.cosign/chain';
/** The Rekor bundle (SET): `{"SignedEntryTimestamp", "Payload": {body, integratedTime, logIndex, logID}}` (cosign pkg/cosign/bundle/rekor.go). */
export const REKOR_BUNDLE_ANNOTATION = 'dev.sigstore.cosign/bundle';

/** One signature: the payload bytes and the decoded signature. */
export interface SimpleSignature {
  /** The layer's digest, for messages. */
  digest: string;
  payload: Buffer;
  signature: Buffer;
  /** The signing certificate (PEM) of a keyless signature. */
  certificate?: string;
  /** Its chain (PEM), as cosign stores it; the trust root decides, not this. */
  chain?: string;
  /** The Rekor bundle annotation as stored (JSON text), when the signature was logged. */
  rekorBundle?: string;
}

/** The layers of `mediaType` in a signature or attestation manifest, each with its (verified) blob bytes; layers without bytes are skipped. */
async function layersOf(raw: Buffer, mediaType: string, what: string, blob: (digest: string) => Promise<Buffer | undefined>): Promise<{ layer: Descriptor; bytes: Buffer }[]> {
  const m = parseManifest(raw, undefined, what);
  if (m.kind !== 'manifest') return [];
  const out: { layer: Descriptor; bytes: Buffer }[] = [];
  for (const layer of m.layers) {
    if (layer.mediaType !== mediaType) continue;
    const bytes = await blob(layer.digest);
    if (bytes) out.push({ layer, bytes });
  }
  return out;
}

/** JSON bytes as a value, or undefined when they are not JSON. */
function jsonOf(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Reads the signatures of a `.sig` manifest; `blob` returns a verified blob's bytes. */
export async function signaturesOf(raw: Buffer, blob: (digest: string) => Promise<Buffer | undefined>): Promise<SimpleSignature[]> {
  const out: SimpleSignature[] = [];
  for (const { layer, bytes } of await layersOf(raw, SIMPLE_SIGNING, 'signature manifest', blob)) {
    const b64 = layer.annotations?.[SIGNATURE_ANNOTATION];
    if (!b64) continue;
    const a = layer.annotations ?? {};
    out.push({
      digest: layer.digest,
      payload: bytes,
      signature: Buffer.from(b64, 'base64'),
      ...(a[CERTIFICATE_ANNOTATION] ? { certificate: a[CERTIFICATE_ANNOTATION] } : {}),
      ...(a[CHAIN_ANNOTATION] ? { chain: a[CHAIN_ANNOTATION] } : {}),
      ...(a[REKOR_BUNDLE_ANNOTATION] ? { rekorBundle: a[REKOR_BUNDLE_ANNOTATION] } : {}),
    });
  }
  return out;
}

/** A value of `o` by key, compared case-insensitively. */
function field(o: unknown, key: string): unknown {
  if (typeof o !== 'object' || o === null) return undefined;
  const k = Object.keys(o).find((x) => x.toLowerCase() === key.toLowerCase());
  return k === undefined ? undefined : (o as Record<string, unknown>)[k];
}

/** The manifest digest a simple-signing payload names, or undefined when it is no such payload. */
export function signedDigest(payload: Buffer): string | undefined {
  const d = field(field(field(jsonOf(payload), 'critical'), 'image'), 'docker-manifest-digest');
  return typeof d === 'string' ? d : undefined;
}

/** Whether `sig` is a valid signature by `key` over its payload (ECDSA and RSA with SHA-256, ed25519). */
export function signatureValid(sig: SimpleSignature, key: KeyObject): boolean {
  const algorithm = key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
  try {
    return cryptoVerify(algorithm, sig.payload, key, sig.signature);
  } catch {
    return false;
  }
}

/** cosign's attestations (`sha256-<hex>.att`): DSSE envelopes of in-toto statements, one per layer. */
export const DSSE_ENVELOPE = 'application/vnd.dsse.envelope.v1+json';

export interface Attestation {
  /** The layer's digest, for messages. */
  digest: string;
  /** The PAE bytes the signatures are over (DSSE "Pre-Authentication Encoding"). */
  signed: Buffer;
  signatures: Buffer[];
  /** The in-toto statement's predicateType and subject digests (sha256:…). */
  predicateType: string | undefined;
  subjects: string[];
  /** The envelope as stored (the layer's bytes: what cosign logs in Rekor), its payload type and decoded payload. */
  envelope: Buffer;
  payloadType: string;
  payload: Buffer;
  /** Keyless: the certificate, chain and Rekor bundle annotations, as on signatures. */
  certificate?: string;
  chain?: string;
  rekorBundle?: string;
}

/** DSSE's Pre-Authentication Encoding: "DSSEv1 <len(type)> <type> <len(body)> <body>" (secure-systems-lab/dsse protocol.md). */
export function dssePae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

/** Reads the attestations of a `.att` manifest; `blob` returns a verified blob's bytes. Malformed envelopes are skipped. */
export async function attestationsOf(raw: Buffer, blob: (digest: string) => Promise<Buffer | undefined>): Promise<Attestation[]> {
  const out: Attestation[] = [];
  for (const { layer, bytes } of await layersOf(raw, DSSE_ENVELOPE, 'attestation manifest', blob)) {
    const env = jsonOf(bytes);
    const payloadType = field(env, 'payloadType');
    const payload = field(env, 'payload');
    const sigs = field(env, 'signatures');
    if (typeof payloadType !== 'string' || typeof payload !== 'string' || !Array.isArray(sigs)) continue;
    const body = Buffer.from(payload, 'base64');
    const statement = jsonOf(body);
    const subjects = (Array.isArray(field(statement, 'subject')) ? (field(statement, 'subject') as unknown[]) : [])
      .map((x) => field(field(x, 'digest'), 'sha256'))
      .filter((h): h is string => typeof h === 'string')
      .map((h) => `sha256:${h}`);
    const predicateType = field(statement, 'predicateType');
    const a = layer.annotations ?? {};
    out.push({
      digest: layer.digest,
      signed: dssePae(payloadType, body),
      signatures: sigs.map((x) => field(x, 'sig')).filter((x): x is string => typeof x === 'string').map((x) => Buffer.from(x, 'base64')),
      predicateType: typeof predicateType === 'string' ? predicateType : undefined,
      subjects,
      envelope: bytes,
      payloadType,
      payload: body,
      ...(a[CERTIFICATE_ANNOTATION] ? { certificate: a[CERTIFICATE_ANNOTATION] } : {}),
      ...(a[CHAIN_ANNOTATION] ? { chain: a[CHAIN_ANNOTATION] } : {}),
      ...(a[REKOR_BUNDLE_ANNOTATION] ? { rekorBundle: a[REKOR_BUNDLE_ANNOTATION] } : {}),
    });
  }
  return out;
}

/** Whether one of an attestation's signatures verifies with `key` over its PAE bytes. */
export function attestationValid(att: Attestation, key: KeyObject): boolean {
  return att.signatures.some((signature) => signatureValid({ digest: att.digest, payload: att.signed, signature }, key));
}
