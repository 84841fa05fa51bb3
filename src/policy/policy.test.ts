import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dssePae, signatureValid, signedDigest } from './cosign-signature.js';
import { evaluate, type ImageEvidence } from './evaluate.js';
import { loadPolicy, patternRegExp, policyJsonSchema } from './policy-file.js';

const D = `sha256:${'a'.repeat(64)}`;
const OTHER = `sha256:${'b'.repeat(64)}`;
const payload = (digest: string): Buffer => Buffer.from(JSON.stringify({ critical: { image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' } }));

describe('policy patterns', () => {
  it.each([
    ['docker.io/library/**', 'docker.io/library/nginx:1.27', true],
    ['docker.io/library/*', 'docker.io/library/nginx:1.27', true],
    ['docker.io/*', 'docker.io/library/nginx:1.27', false],
    ['ghcr.io/acme/**', 'ghcr.io/acme/team/api:1', true],
    ['ghcr.io/acme/api:1.?', 'ghcr.io/acme/api:1.2', false],
  ])('%s against %s: %s', (pattern, ref, want) => {
    expect(patternRegExp(pattern).test(ref)).toBe(want);
  });
});

describe('cosign simple signing', () => {
  it('reads the signed digest with keys compared case-insensitively, as Go does', () => {
    expect(signedDigest(payload(D))).toBe(D);
    expect(signedDigest(Buffer.from(JSON.stringify({ Critical: { Image: { 'Docker-Manifest-Digest': D } } })))).toBe(D);
    expect(signedDigest(Buffer.from('not json'))).toBeUndefined();
  });

  it('verifies ECDSA P-256 (SHA-256, DER), P-384, RSA and ed25519 signatures, and rejects a flipped byte', () => {
    for (const [type, opts] of [['ec', { namedCurve: 'P-256' }], ['ec', { namedCurve: 'P-384' }], ['rsa', { modulusLength: 2048 }], ['ed25519', {}]] as const) {
      const { privateKey, publicKey } = generateKeyPairSync(type as 'ec', opts as { namedCurve: string });
      const p = payload(D);
      const signature = sign(type === 'ed25519' ? null : 'sha256', p, privateKey);
      expect(signatureValid({ digest: D, payload: p, signature }, publicKey), `${type} ${JSON.stringify(opts)}`).toBe(true);
      const flipped = Buffer.from(p);
      flipped[5] = flipped[5]! ^ 1;
      expect(signatureValid({ digest: D, payload: flipped, signature }, publicKey)).toBe(false);
    }
  });
});

describe('evaluate', () => {
  const setup = async (yaml: string): Promise<{ policy: Awaited<ReturnType<typeof loadPolicy>>; key: ReturnType<typeof generateKeyPairSync> }> => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-policy-'));
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'k.pub'), key.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'p.yaml'), yaml);
    return { policy: await loadPolicy(join(dir, 'p.yaml')), key };
  };
  const yaml = ['trust:', '  release: { key: k.pub }', 'rules:', '  - images: "r.example/allowed/**"', '    allow: true', '  - images: "r.example/**"', '    require: { signedBy: [release] }', ''].join('\n');
  const ev = (signatures: ImageEvidence['signatures'], reference = 'r.example/app:1', attestations: ImageEvidence['attestations'] = []): ImageEvidence => ({ reference, digests: [D], signatures, attestations });

  it('first matching rule decides; the default rejects what no rule matches', async () => {
    const { policy, key } = await setup(yaml);
    const good = { digest: 'sha256:l1', payload: payload(D), signature: sign('sha256', payload(D), key.privateKey) };
    expect(evaluate(policy, ev([good]))).toMatchObject({ verdict: 'accepted', rule: 'r.example/**', signedBy: 'release' });
    expect(evaluate(policy, ev([], 'r.example/allowed/x:1'))).toMatchObject({ verdict: 'accepted', rule: 'r.example/allowed/**' });
    expect(evaluate(policy, ev([], 'elsewhere.example/x:1'))).toMatchObject({ verdict: 'rejected', rule: 'default' });
    expect(evaluate(policy, ev([]))).toMatchObject({ verdict: 'rejected', reason: 'it has no signature (needs one by release)' });
  });

  it('a valid signature of another digest does not count', async () => {
    const { policy, key } = await setup(yaml);
    const other = { digest: 'sha256:l2', payload: payload(OTHER), signature: sign('sha256', payload(OTHER), key.privateKey) };
    expect(evaluate(policy, ev([other]))).toMatchObject({ verdict: 'rejected' });
    expect(evaluate(policy, ev([other])).reason).toContain(`signs ${OTHER}, not this image`);
  });

  it('refuses what it cannot check, naming the field: keyless trust without identities, tlog required without a log key', async () => {
    await expect(setup(['trust:', '  ci: { trustedRoot: r.json }', ''].join('\n'))).rejects.toMatchObject({ code: 'MANIFEST_FILE', message: expect.stringContaining('trust.ci: a trustedRoot needs identities') });
    await expect(setup(['trust:', '  ci: { trustedRoot: r.json, identities: [{ issuer: "https://i" }] }', ''].join('\n'))).rejects.toMatchObject({ message: expect.stringContaining('trust.ci.identities[0]: give one of subject or subjectRegExp') });
    await expect(setup(['trust:', '  ci: { trustedRoot: missing.json, identities: [{ issuer: "https://i", subject: "s" }] }', ''].join('\n'))).rejects.toMatchObject({ message: expect.stringMatching(/trust\.ci\.trustedRoot: .*missing\.json/) });
    await expect(setup(['trust:', '  ci: { trustedRoot: k.pub, identities: [{ issuer: "https://i", subjectRegExp: "(" }] }', ''].join('\n'))).rejects.toMatchObject({ message: expect.stringContaining('trust.ci.identities[0].subjectRegExp: not a valid RegExp') });
    const dir = await mkdtemp(join(tmpdir(), 'ferry-root-'));
    await writeFile(join(dir, 'root.json'), JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [] }));
    await writeFile(join(dir, 'p.yaml'), ['trust:', '  ci: { trustedRoot: root.json, identities: [{ issuer: "https://i", subject: "s" }] }', ''].join('\n'));
    await expect(loadPolicy(join(dir, 'p.yaml'))).rejects.toMatchObject({ code: 'MANIFEST_FILE', message: expect.stringContaining('it names no certificateAuthorities') });
    await expect(setup(['trust:', '  release: { key: k.pub }', 'rules:', '  - images: "**"', '    require: { signedBy: [release], tlog: required }', ''].join('\n'))).rejects.toMatchObject({ message: expect.stringContaining('trust.release names no log key') });
    await expect(setup(['rules:', '  - images: "**"', '    require: { signedBy: [nobody] }', ''].join('\n'))).rejects.toMatchObject({ message: expect.stringContaining('"nobody" is not a name under trust') });
  });

  it('an attestation requirement: a DSSE envelope of an in-toto statement for the digest, of that predicate type, signed by the key', async () => {
    const { policy, key } = await setup(['trust:', '  release: { key: k.pub }', 'rules:', '  - images: "r.example/**"', '    require: { signedBy: [release], attestations: ["https://slsa.dev/provenance/v1"] }', ''].join('\n'));
    const good = { digest: 'sha256:l1', payload: payload(D), signature: sign('sha256', payload(D), key.privateKey) };
    const statement = (type: string, digest: string): Buffer => Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: digest.slice(7) } }], predicateType: type, predicate: {} }));
    const att = (type: string, digest: string, signer = key.privateKey): ImageEvidence['attestations'][number] => {
      const body = statement(type, digest);
      const signed = dssePae('application/vnd.in-toto+json', body);
      return { digest: 'sha256:a1', signed, signatures: [sign('sha256', signed, signer)], predicateType: type, subjects: [digest], envelope: Buffer.from('{}'), payloadType: 'application/vnd.in-toto+json', payload: body };
    };
    expect(evaluate(policy, ev([good], undefined, [att('https://slsa.dev/provenance/v1', D)]))).toMatchObject({ verdict: 'accepted' });
    expect(evaluate(policy, ev([good], undefined, [])).reason).toContain('no attestation of https://slsa.dev/provenance/v1');
    expect(evaluate(policy, ev([good], undefined, [att('https://spdx.dev/Document', D)]))).toMatchObject({ verdict: 'rejected' });
    expect(evaluate(policy, ev([good], undefined, [att('https://slsa.dev/provenance/v1', OTHER)]))).toMatchObject({ verdict: 'rejected' });
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(evaluate(policy, ev([good], undefined, [att('https://slsa.dev/provenance/v1', D, stranger.privateKey)]))).toMatchObject({ verdict: 'rejected' });
  });

  it('a key attestation under tlog: required counts only with a SET from the named log whose intoto 0.0.1 body records this envelope and key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-policy-'));
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const log = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'k.pub'), key.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'log.pub'), log.publicKey.export({ type: 'spki', format: 'pem' }));
    await writeFile(join(dir, 'p.yaml'), ['trust:', '  release: { key: k.pub, tlog: { key: log.pub } }', 'rules:', '  - images: "**"', '    require: { signedBy: [release], attestations: ["https://slsa.dev/provenance/v1"], tlog: required }', ''].join('\n'));
    const policy = await loadPolicy(join(dir, 'p.yaml'));
    const good = { digest: 'sha256:l1', payload: payload(D), signature: sign('sha256', payload(D), key.privateKey) };
    const body = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'x', digest: { sha256: D.slice(7) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }));
    const signed = dssePae('application/vnd.in-toto+json', body);
    const envelope = Buffer.from(JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: body.toString('base64'), signatures: [{ sig: sign('sha256', signed, key.privateKey).toString('base64') }] }));
    const hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    const logID = hex(log.publicKey.export({ type: 'spki', format: 'der' }));
    const keyPem = Buffer.from(key.publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
    const rekor = (entry: object): string => {
      const p = { body: Buffer.from(JSON.stringify(entry)).toString('base64'), integratedTime: 1735689900, logIndex: 3, logID };
      const canonical = `{"body":${JSON.stringify(p.body)},"integratedTime":${p.integratedTime},"logID":"${logID}","logIndex":3}`;
      return JSON.stringify({ SignedEntryTimestamp: sign('sha256', Buffer.from(canonical), log.privateKey).toString('base64'), Payload: p });
    };
    const intoto = (env: Buffer) => rekor({ apiVersion: '0.0.1', kind: 'intoto', spec: { content: { hash: { algorithm: 'sha256', value: hex(env) }, payloadHash: { algorithm: 'sha256', value: hex(body) } }, publicKey: keyPem } });
    const sig = { ...good, rekorBundle: rekor({ apiVersion: '0.0.1', kind: 'hashedrekord', spec: { data: { hash: { algorithm: 'sha256', value: hex(good.payload) } }, signature: { content: good.signature.toString('base64'), publicKey: { content: keyPem } } } }) };
    const att = (rekorBundle?: string): ImageEvidence['attestations'][number] => ({ digest: 'sha256:a1', signed, signatures: [sign('sha256', signed, key.privateKey)], predicateType: 'https://slsa.dev/provenance/v1', subjects: [D], envelope, payloadType: 'application/vnd.in-toto+json', payload: body, ...(rekorBundle ? { rekorBundle } : {}) });
    expect(evaluate(policy, ev([sig], undefined, [att(intoto(envelope))]))).toMatchObject({ verdict: 'accepted', attestations: [{ by: 'release', checked: ['attestation signature (DSSE, key release)', 'SET (log index 3, 2025-01-01T00:05:00.000Z)'] }] });
    expect(evaluate(policy, ev([sig], undefined, [att()])).reason).toContain('release: it has no transparency-log entry (SET), which the rule requires');
    expect(evaluate(policy, ev([sig], undefined, [att(intoto(Buffer.from('another envelope')))])).reason).toContain('release: its log entry records another envelope');
  });

  it('a rule asking for Notation signatures rejects, with or without them, saying how many are present (never a silent pass)', async () => {
    const { policy, key } = await setup(['trust:', '  release: { key: k.pub }', 'rules:', '  - images: "r.example/notary/**"', '    require: { notation: true }', '  - images: "r.example/both/**"', '    require: { signedBy: [release], notation: true }', 'default: allow', ''].join('\n'));
    const good = { digest: 'sha256:l1', payload: payload(D), signature: sign('sha256', payload(D), key.privateKey) };
    expect(evaluate(policy, { ...ev([], 'r.example/notary/app:1'), notation: 2 })).toMatchObject({ verdict: 'rejected', rule: 'r.example/notary/**', notation: 2, reason: 'Notation signatures are not verified by ferry (2 present)' });
    expect(evaluate(policy, ev([], 'r.example/notary/app:1'))).toMatchObject({ verdict: 'rejected', reason: 'Notation signatures are not verified by ferry (0 present)' });
    expect(evaluate(policy, { ...ev([good], 'r.example/both/app:1'), notation: 1 })).toMatchObject({ verdict: 'rejected', reason: 'Notation signatures are not verified by ferry (1 present)' });
    await expect(setup(['rules:', '  - images: "**"', '    require: { notation: true }', '    allow: true', ''].join('\n'))).rejects.toMatchObject({ code: 'MANIFEST_FILE', message: expect.stringContaining('allow: true and require.notation contradict') });
  });

  it('DSSE pre-authentication encoding is byte-exact (secure-systems-lab/dsse)', () => {
    expect(dssePae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
  });

  it('docs/policy.schema.json is generated from the zod schema (run `npm run schema` after changing it)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../docs/policy.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(policyJsonSchema())));
  });
});
