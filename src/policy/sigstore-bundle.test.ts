import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { dssePae } from './cosign-signature.js';
import { COSIGN_SIGN_PREDICATE, checkBundleKey, type BundleSignature } from './sigstore-bundle.js';

const D = `sha256:${'c'.repeat(64)}`;
const TYPE = 'application/vnd.in-toto+json';

/** A cosign v3 bundle signed with a key (publicKey hint, no log entry). */
function keyBundle(privateKey: ReturnType<typeof generateKeyPairSync>['privateKey'], o: { digest?: string; predicateType?: string } = {}): BundleSignature {
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: (o.digest ?? D).slice(7) } }], predicateType: o.predicateType ?? COSIGN_SIGN_PREDICATE, predicate: {} }));
  const sig = sign('sha256', dssePae(TYPE, statement), privateKey).toString('base64');
  return {
    digest: 'sha256:b1',
    json: {
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: 'release' }, tlogEntries: [], timestampVerificationData: {} },
      dsseEnvelope: { payload: statement.toString('base64'), payloadType: TYPE, signatures: [{ sig, keyid: '' }] },
    },
  };
}

describe('cosign v3 sigstore bundles with key trust', () => {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });

  it('a DSSE signature by the key over a statement naming the digest is accepted', () => {
    expect(checkBundleKey(keyBundle(key.privateKey), key.publicKey, undefined, false, [D])).toEqual({ ok: true, checked: ['signature (sigstore bundle)'] });
  });

  it('another key, another digest, an attestation instead of a signature, and a missing log entry under tlog: required are rejected', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkBundleKey(keyBundle(other.privateKey), key.publicKey, undefined, false, [D])).toMatchObject({ ok: false, reason: expect.stringContaining('signature does not verify') });
    expect(checkBundleKey(keyBundle(key.privateKey, { digest: `sha256:${'d'.repeat(64)}` }), key.publicKey, undefined, false, [D])).toMatchObject({ ok: false, reason: expect.stringContaining('not this image') });
    expect(checkBundleKey(keyBundle(key.privateKey, { predicateType: 'https://slsa.dev/provenance/v1' }), key.publicKey, undefined, false, [D])).toMatchObject({ ok: false, reason: expect.stringContaining('an attestation of https://slsa.dev/provenance/v1') });
    expect(checkBundleKey(keyBundle(key.privateKey), key.publicKey, [], true, [D])).toMatchObject({ ok: false, reason: expect.stringContaining('no transparency-log entry') });
    expect(checkBundleKey({ digest: 'sha256:b2', json: { mediaType: 'nope' } }, key.publicKey, undefined, false, [D])).toMatchObject({ ok: false, reason: expect.stringContaining('not a valid sigstore bundle') });
  });
});
