/**
 * Transparency-log evidence as cosign stores it beside a signature: the Rekor bundle in the
 * layer annotation `dev.sigstore.cosign/bundle` (cosign pkg/cosign/bundle/rekor.go):
 * `{"SignedEntryTimestamp": base64, "Payload": {"body": base64, "integratedTime": n,
 * "logIndex": n, "logID": hex}}`. The SET is the log's signature (ECDSA, SHA-256) over the
 * canonical JSON (RFC 8785) of the payload (cosign pkg/cosign/verify.go VerifySET); the body is
 * the log entry, which must name this signature and the digest of its payload. Pure: no network.
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { SimpleSignature } from './cosign-signature.js';

/** A Rekor bundle read from the annotation. */
export interface RekorEntry {
  set: Buffer;
  /** The entry body (decoded) and as stored (base64). */
  body: Buffer;
  bodyBase64: string;
  integratedTime: number;
  logIndex: number;
  /** The log's id: hex sha256 of its public key's DER SubjectPublicKeyInfo. */
  logID: string;
}

/** A transparency log the policy trusts: its key and id. */
export interface LogKey {
  id: string;
  key: KeyObject;
}

/** The log id of a public key: hex sha256 of its DER SubjectPublicKeyInfo (as Rekor names itself). */
export function logIdOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** Parses the annotation's JSON; undefined when it is not a Rekor bundle. */
export function parseRekorBundle(text: string): RekorEntry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as { SignedEntryTimestamp?: unknown; Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } };
  const p = o?.Payload;
  if (typeof o?.SignedEntryTimestamp !== 'string' || typeof p?.body !== 'string' || !Number.isSafeInteger(p.integratedTime) || !Number.isSafeInteger(p.logIndex) || typeof p.logID !== 'string') return undefined;
  return { set: Buffer.from(o.SignedEntryTimestamp, 'base64'), body: Buffer.from(p.body, 'base64'), bodyBase64: p.body, integratedTime: p.integratedTime as number, logIndex: p.logIndex as number, logID: p.logID.toLowerCase() };
}

/**
 * JSON with object keys sorted (by UTF-16 code units) and no whitespace: RFC 8785 for the
 * values a SET payload holds (strings and safe integers).
 */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The bytes the SET signs. */
export function setPayload(e: RekorEntry): Buffer {
  return Buffer.from(canonicalJson({ body: e.bodyBase64, integratedTime: e.integratedTime, logIndex: e.logIndex, logID: e.logID }));
}

/** Why the SET does not verify with one of `logs` (the one its logID names), or undefined when it does. */
export function checkSet(e: RekorEntry, logs: readonly LogKey[]): string | undefined {
  const log = logs.find((l) => l.id === e.logID);
  if (!log) return `its log entry is from log ${e.logID.slice(0, 12)}…, not a log the policy trusts`;
  let ok = false;
  try {
    ok = cryptoVerify('sha256', setPayload(e), log.key, e.set);
  } catch {
    ok = false;
  }
  return ok ? undefined : 'its SET does not verify with the log key';
}

/** A value at a path of plain objects. */
const at = (o: unknown, ...path: string[]): unknown => path.reduce<unknown>((x, k) => (x !== null && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined), o);

/**
 * Why the entry body does not record `sig` (a hashedrekord 0.0.1 whose signature is this
 * signature, whose hash is the sha256 of the payload and, given `key`, whose public key is that
 * key), or undefined when it does.
 */
export function checkBody(e: RekorEntry, sig: SimpleSignature, key?: KeyObject): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(e.body.toString('utf8'));
  } catch {
    return 'its log entry body is not JSON';
  }
  if (at(body, 'kind') !== 'hashedrekord' || at(body, 'apiVersion') !== '0.0.1') return `its log entry is a ${String(at(body, 'kind'))} ${String(at(body, 'apiVersion'))}, not a hashedrekord 0.0.1`;
  const content = at(body, 'spec', 'signature', 'content');
  if (typeof content !== 'string' || !Buffer.from(content, 'base64').equals(sig.signature)) return 'its log entry records another signature';
  const hash = createHash('sha256').update(sig.payload).digest('hex');
  if (at(body, 'spec', 'data', 'hash', 'algorithm') !== 'sha256' || at(body, 'spec', 'data', 'hash', 'value') !== hash) return 'its log entry records another payload digest';
  if (key) {
    const pem = at(body, 'spec', 'signature', 'publicKey', 'content');
    try {
      const logged = createPublicKey(Buffer.from(String(pem), 'base64').toString('utf8'));
      if (!logged.equals(key)) return 'its log entry records another public key';
    } catch {
      return 'its log entry records no readable public key';
    }
  }
  return undefined;
}
