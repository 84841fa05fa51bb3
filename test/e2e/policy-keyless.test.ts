/**
 * Keyless signatures and transparency-log evidence, offline: a test CA and a test log made with
 * openssl (helpers/test-sigstore.ts), leaves with the Fulcio extensions signing cosign's
 * simple-signing payloads, SETs over the canonical JSON signed by the log key, and a
 * trusted_root.json naming them. The signature manifests are PUT by hand as cosign stores keyless
 * signatures (SIGNATURE_SPEC: the certificate, chain and bundle annotations), saved with ferry,
 * and judged by `verify --policy` inside a network namespace with nothing but loopback.
 * Keyless attestations are cosign's `.att` layers (DSSE envelopes of in-toto statements, signed
 * by a leaf over the PAE, logged as intoto 0.0.1 entries) and cosign v3 bundles; a Notation
 * signature is a hand-written OCI referrer of artifactType application/vnd.cncf.notary.signature.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, FERRY_BIN, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, type LayoutImage } from './helpers/layout-image.js';
import { createNetns, type Netns } from './helpers/netns.js';
import { runOk } from './helpers/processes.js';
import { EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, getManifestRaw, putBlob, putManifest, sha256 } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { GITHUB_ISSUER, keylessAttestation, makeTestCa, makeTestLog, opensslSign, rekorBundle, sigstoreBundleV03, writeTrustedRoot, type TestLog } from './helpers/test-sigstore.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('policy-keyless');
let reg: Registry;
let netns: Netns;
let bundle: string;
const images: Record<string, LayoutImage> = {};

const hex = (d: string): string => d.slice('sha256:'.length);
const SUBJECT = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main';
/** The log's time of the good entries: 2025-01-01T00:05:00Z, inside the leaves' ten minutes (long over now). */
const T0 = Date.parse('2025-01-01T00:05:00Z') / 1000;
const LEAF = { start: '2025-01-01T00:00:00Z', end: '2025-01-01T00:10:00Z' };

const payloadFor = (repo: string, digest: string): string =>
  JSON.stringify({ critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null });

/** Publishes `sha256-<hex>.sig` with one simple-signing layer carrying the given annotations. */
async function publish(name: string, payload: string, annotations: Record<string, string>): Promise<void> {
  const repo = `src/${name}`;
  const cfg = await putBlob(reg.host, repo, 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
  const layer = await putBlob(reg.host, repo, 'application/vnd.dev.cosign.simplesigning.v1+json', payload);
  await putManifest(reg.host, repo, `sha256-${hex(images[name]!.digest)}.sig`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, annotations }] });
}

interface Signing {
  leaf: { key: string; pem: string };
  chainPem: string;
  log: TestLog;
  integratedTime?: number;
  flipPayload?: boolean;
  corruptSet?: boolean;
  noSet?: boolean;
}

/** Signs image `name` keylessly as cosign does: signature by the leaf, certificate, chain and SET annotations. */
async function signKeyless(name: string, s: Signing): Promise<void> {
  const payload = payloadFor(`${reg.host}/src/${name}`, images[name]!.digest);
  const signature = await opensslSign(s.leaf.key, payload, tmp.path);
  const annotations: Record<string, string> = { 'dev.cosignproject.cosign/signature': signature, 'dev.sigstore.cosign/certificate': s.leaf.pem, 'dev.sigstore.cosign/chain': s.chainPem };
  if (!s.noSet) annotations['dev.sigstore.cosign/bundle'] = await rekorBundle(s.log, { payload, signature, publicKeyPem: s.leaf.pem, integratedTime: s.integratedTime ?? T0, logIndex: 7, work: tmp.path, corruptSet: s.corruptSet });
  // A flipped byte in the stored payload, after signing and logging.
  await publish(name, s.flipPayload ? payload.replace('cosign container image signature', 'cosign container image signaturE') : payload, annotations);
}

const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/**
 * Publishes OCI 1.1 referrers of image `name` (empty config, `subject` the image), listed in the
 * referrers tag schema's index `sha256-<hex>` (distribution 2.8 has no referrers API).
 */
async function publishReferrers(name: string, docs: { artifactType: string; layers: { mediaType: string; data: string }[]; annotations: Record<string, string> }[]): Promise<void> {
  const repo = `src/${name}`;
  const empty = await putBlob(reg.host, repo, EMPTY_CONFIG, '{}');
  const subject = { mediaType: OCI_MANIFEST, digest: images[name]!.digest, size: (await getManifestRaw(reg.host, repo, '1')).length };
  const listed = [];
  for (const d of docs) {
    const layers = [];
    for (const l of d.layers) layers.push(await putBlob(reg.host, repo, l.mediaType, l.data));
    const doc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: d.artifactType, config: empty, layers, subject, annotations: d.annotations };
    const ref = await putManifest(reg.host, repo, sha256(JSON.stringify(doc)), doc, { artifactType: d.artifactType });
    listed.push({ mediaType: OCI_MANIFEST, digest: ref.digest, size: ref.size, artifactType: d.artifactType });
  }
  await putManifest(reg.host, repo, `sha256-${hex(images[name]!.digest)}`, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: listed });
}

/** Publishes sigstore bundles as cosign v3 does: OCI 1.1 referrers of the image. */
async function publishBundle(name: string, ...bundles: string[]): Promise<void> {
  await publishReferrers(
    name,
    bundles.map((b) => ({ artifactType: BUNDLE_TYPE, layers: [{ mediaType: BUNDLE_TYPE, data: b }], annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope', 'dev.sigstore.bundle.predicateType': (JSON.parse(Buffer.from((JSON.parse(b) as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString()) as { predicateType: string }).predicateType } })),
  );
}

const NOTARY = 'application/vnd.cncf.notary.signature';

/** Publishes a Notation-shaped signature: a referrer of artifactType application/vnd.cncf.notary.signature holding a JWS envelope. */
async function publishNotation(name: string): Promise<void> {
  const jws = JSON.stringify({ payload: Buffer.from(JSON.stringify({ targetArtifact: { mediaType: OCI_MANIFEST, digest: images[name]!.digest } })).toString('base64url'), protected: 'e30', header: { x5c: [] }, signature: 'AA' });
  await publishReferrers(name, [{ artifactType: NOTARY, layers: [{ mediaType: 'application/jose+json', data: jws }], annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["00"]' } }]);
}

const SLSA = 'https://slsa.dev/provenance/v1';

/** Publishes cosign's `sha256-<hex>.att` with one DSSE envelope layer and its annotations. */
async function publishAttestation(name: string, a: { envelope: string; annotations: Record<string, string> }): Promise<void> {
  const repo = `src/${name}`;
  const cfg = await putBlob(reg.host, repo, 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
  const layer = await putBlob(reg.host, repo, 'application/vnd.dsse.envelope.v1+json', a.envelope);
  await putManifest(reg.host, repo, `sha256-${hex(images[name]!.digest)}.att`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, annotations: a.annotations }] });
}

const NAMES = ['good', 'othersubject', 'otherissuer', 'expired', 'otherca', 'flipped', 'badset', 'noset', 'keyset', 'keynoset', 'v3good', 'v3evil', 'v3badproof', 'v3attest', 'attgood', 'atttype', 'attevil', 'attdigest', 'attflipped', 'attbody', 'attset', 'v3att', 'notation'];

beforeAll(async () => {
  [reg, netns] = await Promise.all([startRegistry(), createNetns('policykl')]);
  for (const n of NAMES) images[n] = await pushLayoutImage(`${reg.host}/src/${n}:1`, { hello: `${n}\n` }, tmp.join(`img-${n}`));
  const ca = await makeTestCa(tmp.join('ca'), 'test fulcio');
  const stranger = await makeTestCa(tmp.join('other-ca'), 'stranger');
  const log = await makeTestLog(tmp.join('log'));
  await writeTrustedRoot(tmp.join('trusted_root.json'), ca, log);
  const chainPem = ca.intermediatePem + ca.rootPem;
  const leaf = await ca.leaf('good', { subject: SUBJECT, issuer: GITHUB_ISSUER, ...LEAF });
  await signKeyless('good', { leaf, chainPem, log });
  await signKeyless('othersubject', { leaf: await ca.leaf('evil', { subject: 'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main', issuer: GITHUB_ISSUER, ...LEAF }), chainPem, log });
  await signKeyless('otherissuer', { leaf: await ca.leaf('google', { subject: SUBJECT, issuer: 'https://accounts.google.com', ...LEAF }), chainPem, log });
  // Logged at 00:20, ten minutes after the leaf's validity ended.
  await signKeyless('expired', { leaf, chainPem, log, integratedTime: Date.parse('2025-01-01T00:20:00Z') / 1000 });
  await signKeyless('otherca', { leaf: await stranger.leaf('stranger', { subject: SUBJECT, issuer: GITHUB_ISSUER, ...LEAF }), chainPem: stranger.intermediatePem + stranger.rootPem, log });
  await signKeyless('flipped', { leaf, chainPem, log, flipPayload: true });
  await signKeyless('badset', { leaf, chainPem, log, corruptSet: true });
  await signKeyless('noset', { leaf, chainPem, log, noSet: true });
  // cosign v3's sigstore bundles, as OCI referrers.
  const v3bundle = (name: string, extra: { leafPem?: string; leafKey?: string; predicateType?: string; corruptProof?: boolean } = {}) =>
    sigstoreBundleV03(log, { leafPem: leaf.pem, leafKey: leaf.key, digest: images[name]!.digest, integratedTime: T0, work: tmp.path, ...extra });
  const v3 = (name: string, extra: Parameters<typeof v3bundle>[1] = {}) => v3bundle(name, extra).then((b) => publishBundle(name, b));
  await v3('v3good');
  const evil = await ca.leaf('v3evil', { subject: 'https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main', issuer: GITHUB_ISSUER, ...LEAF });
  await v3('v3evil', { leafPem: evil.pem, leafKey: evil.key });
  await v3('v3badproof', { corruptProof: true });
  await v3('v3attest', { predicateType: 'https://slsa.dev/provenance/v1' });
  // Keyless attestations: each image signed by the right identity, then attested (cosign's .att).
  for (const n of ['attgood', 'atttype', 'attevil', 'attdigest', 'attflipped', 'attbody', 'attset']) await signKeyless(n, { leaf, chainPem, log });
  const att = (name: string, extra: { leafPem?: string; leafKey?: string; predicateType?: string; digest?: string; flip?: boolean; otherEnvelope?: boolean; corruptSet?: boolean } = {}) =>
    keylessAttestation(log, { leafPem: leaf.pem, leafKey: leaf.key, chainPem, digest: images[name]!.digest, predicateType: SLSA, integratedTime: T0, logIndex: 11, work: tmp.path, ...extra }).then((a) => publishAttestation(name, a));
  await att('attgood');
  await att('atttype', { predicateType: 'https://spdx.dev/Document' });
  await att('attevil', { leafPem: evil.pem, leafKey: evil.key });
  await att('attdigest', { digest: images.good!.digest });
  await att('attflipped', { flip: true });
  await att('attbody', { otherEnvelope: true });
  await att('attset', { corruptSet: true });
  // cosign v3: a signature bundle and an attestation bundle, both referrers of the image.
  await publishBundle('v3att', await v3bundle('v3att'), await v3bundle('v3att', { predicateType: SLSA }));
  await publishNotation('notation');
  // Key trust with a log key: signed with a P-256 key, logged (or not) in the test log.
  await runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmp.join('release.key')]);
  await runOk('openssl', ['pkey', '-in', tmp.join('release.key'), '-pubout', '-out', tmp.join('release.pub')]);
  const releasePem = (await import('node:fs')).readFileSync(tmp.join('release.pub'), 'utf8');
  for (const n of ['keyset', 'keynoset']) {
    const payload = payloadFor(`${reg.host}/src/${n}`, images[n]!.digest);
    const signature = await opensslSign(tmp.join('release.key'), payload, tmp.path);
    const annotations: Record<string, string> = { 'dev.cosignproject.cosign/signature': signature };
    if (n === 'keyset') annotations['dev.sigstore.cosign/bundle'] = await rekorBundle(log, { payload, signature, publicKeyPem: releasePem, integratedTime: T0, logIndex: 9, work: tmp.path });
    await publish(n, payload, annotations);
  }
  bundle = tmp.join('all.tar.gz');
  const r = await runFerry(['save', ...NAMES.map((n) => images[n]!.ref), '-o', bundle], { env: ferryEnv(tmp.join('home-save')) });
  expect(r.code, describeRun(r)).toBe(0);
  writeFileSync(
    tmp.join('policy.yaml'),
    [
      'trust:',
      '  ci:',
      '    trustedRoot: trusted_root.json',
      `    identities: [{ issuer: "${GITHUB_ISSUER}", subjectRegExp: "^https://github\\\\.com/acme/" }]`,
      '  release: { key: release.pub, tlog: { key: log/log.pub } }',
      'rules:',
      `  - images: "${reg.host}/src/key*:*"`,
      '    require: { signedBy: [release], tlog: required }',
      `  - images: "${reg.host}/src/att*:*"`,
      `    require: { signedBy: [ci], attestations: ["${SLSA}"] }`,
      `  - images: "${reg.host}/src/v3att:*"`,
      `    require: { signedBy: [ci], attestations: ["${SLSA}"] }`,
      `  - images: "${reg.host}/src/notation:*"`,
      '    require: { notation: true }',
      `  - images: "${reg.host}/src/**"`,
      '    require: { signedBy: [ci] }',
      'default: reject',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await netns?.remove();
  await reg?.stop();
});

const offline = (args: string[]) => netns.exec(process.execPath, [FERRY_BIN, ...args], { env: { ...ferryEnv(tmp.join('home-offline')), PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } });

describe('verify --policy with keyless trust and transparency-log evidence (offline)', () => {
  let stderr = '';
  let report: { policy: { image: string; verdict: string; rule: string; signedBy?: string; identity?: string; checked?: string[]; reason: string }[] };
  const line = (name: string): string => stderr.split('\n').find((l) => l.includes(`/src/${name}:1 `)) ?? `(no line for ${name})`;

  beforeAll(async () => {
    const r = await offline(['verify', bundle, '--policy', tmp.join('policy.yaml'), '--json']);
    expect(r.code, describeRun(r)).toBe(1);
    stderr = r.stderr;
    report = JSON.parse(r.stdout) as typeof report;
  });

  it('the right identity from the trusted CA, logged while the leaf was valid, is accepted: rule, identity and evidence named', () => {
    expect(line('good')).toContain(`policy: accepted ${reg.host}/src/good:1 (rule "${reg.host}/src/**"): signed by ci`);
    expect(line('good')).toContain(`identity ${SUBJECT} (issuer ${GITHUB_ISSUER})`);
    expect(line('good')).toMatch(/checked: signature, certificate chain \(trusted_root\.json, at 2025-01-01T00:05:00\.000Z\), SET \(log index 7\), identity/);
    expect(report.policy.find((v) => v.image.endsWith('/src/good:1'))).toMatchObject({ verdict: 'accepted', signedBy: 'ci', identity: `${SUBJECT} (issuer ${GITHUB_ISSUER})`, checked: expect.arrayContaining(['signature', 'SET (log index 7)']) });
  });

  it.each([
    ['othersubject', /rejected .*\/src\/othersubject:1 .*ci: its certificate is for https:\/\/github\.com\/evil\/app\S* from issuer https:\/\/token\.actions\.githubusercontent\.com, not a trusted identity/],
    ['otherissuer', /rejected .*\/src\/otherissuer:1 .*ci: its certificate is for https:\/\/github\.com\/acme\/app\S* from issuer https:\/\/accounts\.google\.com, not a trusted identity/],
    ['expired', /rejected .*\/src\/expired:1 .*ci: its certificate does not chain to a certificate authority of the trusted root valid at the log's time: .*expired at the specified date/],
    ['otherca', /rejected .*\/src\/otherca:1 .*ci: its certificate does not chain to a certificate authority of the trusted root/],
    ['flipped', /rejected .*\/src\/flipped:1 .*ci: its log entry does not record this signature: digest mismatch/],
    ['badset', /rejected .*\/src\/badset:1 .*ci: its SET does not verify with the key of a log of the trusted root/],
    ['noset', /rejected .*\/src\/noset:1 .*ci: it has no transparency-log entry \(SET\)/],
    ['keynoset', /rejected .*\/src\/keynoset:1 .*release: it has no transparency-log entry \(SET\), which the rule requires/],
    ['v3evil', /rejected .*\/src\/v3evil:1 .*\(sigstore bundle\): ci: its certificate is for https:\/\/github\.com\/evil\/\S* from issuer https:\/\/token\.actions\.githubusercontent\.com, not a trusted identity/],
    ['v3badproof', /rejected .*\/src\/v3badproof:1 .*\(sigstore bundle\): ci: its log inclusion proof does not verify: calculated root hash does not match/],
    ['v3attest', /rejected .*\/src\/v3attest:1 .*\(sigstore bundle\): ci: an attestation of https:\/\/slsa\.dev\/provenance\/v1, not a cosign signature/],
    ['atttype', /rejected .*\/src\/atttype:1 .*signed by ci, but it has no attestation of https:\/\/slsa\.dev\/provenance\/v1 signed by ci for its digest: sha256:\S+: an attestation of https:\/\/spdx\.dev\/Document/],
    ['attevil', /rejected .*\/src\/attevil:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1 .*: sha256:\S+: ci: its certificate is for https:\/\/github\.com\/evil\/\S* from issuer https:\/\/token\.actions\.githubusercontent\.com, not a trusted identity/],
    ['attdigest', /rejected .*\/src\/attdigest:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1 .*: sha256:\S+: attests sha256:[0-9a-f]{64}, not this image/],
    ['attflipped', /rejected .*\/src\/attflipped:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1 .*: sha256:\S+: ci: its signature does not verify over the payload with the certificate's key/],
    ['attbody', /rejected .*\/src\/attbody:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1 .*: sha256:\S+: ci: its log entry records another envelope/],
    ['attset', /rejected .*\/src\/attset:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1 .*: sha256:\S+: ci: its SET does not verify with the log key/],
    ['notation', /rejected .*\/src\/notation:1 \(rule "[^"]+\/src\/notation:\*"\): Notation signatures are not verified by ferry \(1 present\)$/],
  ])('%s is rejected, naming the image and why', (name, want) => {
    expect(line(name)).toMatch(want);
    expect(report.policy.find((v) => v.image.endsWith(`/src/${name}:1`))).toMatchObject({ verdict: 'rejected' });
  });

  it('a key signature with a SET from the log the trust entry names is accepted under tlog: required', () => {
    expect(line('keyset')).toMatch(/accepted .*\/src\/keyset:1 .*signed by release .*checked: signature \(key release\), SET \(log index 9, 2025-01-01T00:05:00\.000Z\)/);
  });

  it('a cosign v3 sigstore bundle (OCI 1.1 referrer) by the right identity is accepted, its SET and inclusion proof checked', () => {
    expect(line('v3good')).toContain(`accepted ${reg.host}/src/v3good:1`);
    expect(line('v3good')).toMatch(/signed by ci \(signature sha256:\S+; identity https:\/\/github\.com\/acme\/\S+ \(issuer https:\/\/token\.actions\.githubusercontent\.com\); checked: signature \(sigstore bundle\), certificate chain \(trusted_root\.json, at 2025-01-01T00:05:00\.000Z\), log entry 0 \(SET, inclusion proof\), identity\)/);
  });

  it('a keyless attestation (cosign .att, intoto 0.0.1 log entry) by the right identity, of the required type, for the digest, is accepted: which attestation, with which identity, what was checked', () => {
    expect(line('attgood')).toContain(`accepted ${reg.host}/src/attgood:1`);
    expect(line('attgood')).toMatch(
      /signed by ci \(signature sha256:\S+; identity .*\); attested: https:\/\/slsa\.dev\/provenance\/v1 \(attestation sha256:\S+, by ci, identity https:\/\/github\.com\/acme\/\S+ \(issuer https:\/\/token\.actions\.githubusercontent\.com\); checked: attestation signature \(DSSE\), certificate chain \(trusted_root\.json, at 2025-01-01T00:05:00\.000Z\), SET \(log index 11\), identity\)$/,
    );
    expect(report.policy.find((v) => v.image.endsWith('/src/attgood:1'))).toMatchObject({ verdict: 'accepted', attestations: [{ type: SLSA, by: 'ci', identity: `${SUBJECT} (issuer ${GITHUB_ISSUER})` }] });
  });

  it('a cosign v3 attestation bundle beside the signature bundle satisfies the attestation requirement', () => {
    expect(line('v3att')).toMatch(/accepted .*\/src\/v3att:1 .*attested: https:\/\/slsa\.dev\/provenance\/v1 \(attestation sha256:\S+, by ci, identity https:\/\/github\.com\/acme\/\S+ \(issuer \S+\); checked: signature \(sigstore bundle\), certificate chain \(trusted_root\.json, at 2025-01-01T00:05:00\.000Z\), log entry 0 \(SET, inclusion proof\), identity\)/);
  });

  it('the JSON report counts the Notation signatures of the image a rule asked them of', () => {
    expect(report.policy.find((v) => v.image.endsWith('/src/notation:1'))).toMatchObject({ verdict: 'rejected', notation: 1, reason: 'Notation signatures are not verified by ferry (1 present)' });
  });

  it('exactly good, keyset, v3good, attgood and v3att pass; the error counts the rejected', () => {
    expect(report.policy.filter((v) => v.verdict === 'accepted').map((v) => v.image.replace(/.*\/src\//, '')).sort()).toEqual(['attgood:1', 'good:1', 'keyset:1', 'v3att:1', 'v3good:1']);
    expect(stderr).toMatch(/error: 18 of 23 images rejected by the policy/);
  });
});

describe('ls of a bundle with keyless attestations and a Notation signature (offline)', () => {
  it('lists the Notation referrer and the .att under their images', async () => {
    const r = await offline(['ls', bundle]);
    expect(r.code, describeRun(r)).toBe(0);
    const rows = r.stdout.split('\n');
    const under = (name: string): string[] => {
      const i = rows.findIndex((l) => l.startsWith(`${reg.host}/src/${name}:1 `));
      const next = rows.findIndex((l, j) => j > i && !l.startsWith('  '));
      return rows.slice(i + 1, next === -1 ? undefined : next);
    };
    // The referrer itself (found through the tag schema's index, which is listed under its tag).
    expect(under('notation')).toEqual(expect.arrayContaining([expect.stringMatching(/^  referrer\s+sha256:[0-9a-f]{12}\s+referrer application\/vnd\.cncf\.notary\.signature$/), expect.stringMatching(new RegExp(`^  sha256-${hex(images.notation!.digest)}\\s`))]));
    expect(under('attgood')).toEqual(expect.arrayContaining([expect.stringMatching(new RegExp(`^  sha256-${hex(images.attgood!.digest)}\\.att\\s`)), expect.stringMatching(new RegExp(`^  sha256-${hex(images.attgood!.digest)}\\.sig\\s`))]));
  });
});
