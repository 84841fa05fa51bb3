import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, type ImageEvidence } from './evaluate.js';
import { loadPolicy } from './policy-file.js';
import { canonicalJson, checkBody, logIdOf, parseRekorBundle, setPayload } from './rekor-set.js';

const D = `sha256:${'a'.repeat(64)}`;
const payload = Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': D }, type: 'cosign container image signature' } }));

/** A hashedrekord 0.0.1 body (Rekor's schema) and the cosign bundle annotation with a SET by `log`. */
function rekorBundle(signature: Buffer, signer: KeyObject, log: { privateKey: KeyObject; publicKey: KeyObject }, over: { body?: object; set?: Buffer } = {}): string {
  const body = over.body ?? {
    apiVersion: '0.0.1',
    kind: 'hashedrekord',
    spec: {
      data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
      signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(signer.export({ type: 'spki', format: 'pem' }) as string).toString('base64') } },
    },
  };
  const p = { body: Buffer.from(JSON.stringify(body)).toString('base64'), integratedTime: 1767225600, logIndex: 42, logID: logIdOf(log.publicKey) };
  const set = over.set ?? sign('sha256', Buffer.from(canonicalJson(p)), log.privateKey);
  return JSON.stringify({ SignedEntryTimestamp: set.toString('base64'), Payload: p });
}

describe('Rekor SET (cosign dev.sigstore.cosign/bundle)', () => {
  it('canonical JSON sorts keys and drops whitespace (RFC 8785 for strings and integers)', () => {
    expect(canonicalJson({ logIndex: 1, body: 'b', logID: 'x', integratedTime: 2, nested: { b: [1, 'é'], a: null } })).toBe('{"body":"b","integratedTime":2,"logID":"x","logIndex":1,"nested":{"a":null,"b":[1,"é"]}}');
  });

  it('the signed bytes are the canonical payload of body, integratedTime, logIndex, logID', () => {
    const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const e = parseRekorBundle(rekorBundle(sign('sha256', payload, key.privateKey), key.publicKey, log))!;
    expect(setPayload(e).toString()).toMatch(/^\{"body":"[A-Za-z0-9+/=]+","integratedTime":1767225600,"logID":"[0-9a-f]{64}","logIndex":42\}$/);
    expect(parseRekorBundle('{"Payload":{}}')).toBeUndefined();
  });

  it('a body recording another signature or payload is named', () => {
    const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sig = { digest: 'sha256:l', payload, signature: sign('sha256', payload, key.privateKey) };
    const e = parseRekorBundle(rekorBundle(sign('sha256', Buffer.from('other'), key.privateKey), key.publicKey, log))!;
    expect(checkBody(e, sig, key.publicKey)).toBe('its log entry records another signature');
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(checkBody(parseRekorBundle(rekorBundle(sig.signature, other.publicKey, log))!, sig, key.publicKey)).toBe('its log entry records another public key');
  });
});

describe('policies with transparency-log evidence for key trust', () => {
  const setup = async (tlog: 'required' | 'optional') => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-tlog-'));
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'k.pub'), key.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'rekor.pub'), log.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'p.yaml'), ['trust:', '  release: { key: k.pub, tlog: { key: rekor.pub } }', 'rules:', '  - images: "**"', `    require: { signedBy: [release], tlog: ${tlog} }`, ''].join('\n'));
    return { policy: await loadPolicy(join(dir, 'p.yaml')), key, log };
  };
  const ev = (signatures: ImageEvidence['signatures']): ImageEvidence => ({ reference: 'r.example/app:1', digests: [D], signatures, attestations: [] });

  it('a signature with a valid SET is accepted, the SET named as checked', async () => {
    const { policy, key, log } = await setup('required');
    const signature = sign('sha256', payload, key.privateKey);
    const v = evaluate(policy, ev([{ digest: 'sha256:l', payload, signature, rekorBundle: rekorBundle(signature, key.publicKey, log) }]));
    expect(v).toMatchObject({ verdict: 'accepted', signedBy: 'release', checked: ['signature (key release)', 'SET (log index 42, 2026-01-01T00:00:00.000Z)'] });
  });

  it('a bad SET, a SET by another log, and a missing SET under tlog: required are each rejected, saying why', async () => {
    const { policy, key, log } = await setup('required');
    const signature = sign('sha256', payload, key.privateKey);
    const bad = rekorBundle(signature, key.publicKey, log, { set: sign('sha256', Buffer.from('x'), log.privateKey) });
    expect(evaluate(policy, ev([{ digest: 'sha256:l', payload, signature, rekorBundle: bad }])).reason).toContain('release: its SET does not verify with the log key');
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(evaluate(policy, ev([{ digest: 'sha256:l', payload, signature, rekorBundle: rekorBundle(signature, key.publicKey, stranger) }])).reason).toMatch(/its log entry is from log [0-9a-f]{12}…, not a log the policy trusts/);
    expect(evaluate(policy, ev([{ digest: 'sha256:l', payload, signature }]))).toMatchObject({ verdict: 'rejected', reason: expect.stringContaining('it has no transparency-log entry (SET), which the rule requires') });
  });

  it('tlog: optional accepts a signature without a SET, but never one with a bad SET', async () => {
    const { policy, key, log } = await setup('optional');
    const signature = sign('sha256', payload, key.privateKey);
    expect(evaluate(policy, ev([{ digest: 'sha256:l', payload, signature }]))).toMatchObject({ verdict: 'accepted', checked: ['signature (key release)'] });
    const bad = rekorBundle(signature, key.publicKey, log, { set: Buffer.from('nope') });
    expect(evaluate(policy, ev([{ digest: 'sha256:l', payload, signature, rekorBundle: bad }]))).toMatchObject({ verdict: 'rejected' });
  });
});
