/**
 * Signature policies, offline: images signed by tools ferry did not write (openssl makes the
 * keys and signs cosign's simple-signing payloads; the signature manifests are PUT by hand,
 * following cosign's SIGNATURE_SPEC), saved with ferry, then judged by `verify --policy`
 * inside a network namespace with nothing but loopback, and by `push --policy` and
 * `load --policy` before anything reaches the target (the registry's catalog is the oracle).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, FERRY_BIN, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, type LayoutImage } from './helpers/layout-image.js';
import { createNetns, type Netns } from './helpers/netns.js';
import { runOk } from './helpers/processes.js';
import { OCI_INDEX, OCI_MANIFEST, getManifestRaw, putBlob, putManifest } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('policy');
let reg: Registry;
let netns: Netns;
let bundle: string;
let multiBundle: string;
let multiIndex: string;
const images: Record<string, LayoutImage> = {};

const hex = (d: string): string => d.slice('sha256:'.length);
const SIG_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';

/** cosign's payload for `digest` (SIGNATURE_SPEC: critical.identity, critical.image, critical.type). */
const payloadFor = (repo: string, digest: string): string =>
  JSON.stringify({ critical: { identity: { 'docker-reference': repo }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' }, optional: null });

/** Signs `payload` with an openssl key: ECDSA over SHA-256 (DER), or ed25519 (raw). */
async function sign(key: string, payload: string, ed25519: boolean): Promise<string> {
  const input = tmp.join(`payload-${Math.random().toString(36).slice(2)}`);
  writeFileSync(input, payload);
  const out = `${input}.sig`;
  if (ed25519) await runOk('openssl', ['pkeyutl', '-sign', '-inkey', key, '-rawin', '-in', input, '-out', out]);
  else await runOk('openssl', ['dgst', '-sha256', '-sign', key, '-out', out, input]);
  return readFileSync(out).toString('base64');
}

/** Publishes a `.sig` tag for `subject` in `repo`: one simple-signing layer with `payload`, signed as `signature`. */
async function publishSignature(repo: string, subject: string, payload: string, signature: string): Promise<void> {
  const cfg = await putBlob(reg.host, repo, 'application/vnd.oci.image.config.v1+json', '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
  const layer = await putBlob(reg.host, repo, SIG_TYPE, payload);
  await putManifest(reg.host, repo, `sha256-${hex(subject)}.sig`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [{ ...layer, annotations: { 'dev.cosignproject.cosign/signature': signature } }] });
}

beforeAll(async () => {
  [reg, netns] = await Promise.all([startRegistry(), createNetns('policy')]);
  for (const k of ['p256', 'other']) await runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', tmp.join(`${k}.key`)]);
  await runOk('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', tmp.join('ed.key')]);
  for (const k of ['p256', 'other', 'ed']) await runOk('openssl', ['pkey', '-in', tmp.join(`${k}.key`), '-pubout', '-out', tmp.join(`${k}.pub`)]);
  for (const name of ['signed', 'edsigned', 'unsigned', 'wrongdigest', 'tampered']) {
    images[name] = await pushLayoutImage(`${reg.host}/src/${name}:1`, { hello: `${name}\n` }, tmp.join(`img-${name}`));
  }
  const repo = (n: string): string => `src/${n}`;
  const d = (n: string): string => images[n]!.digest;
  let p = payloadFor(`${reg.host}/src/signed`, d('signed'));
  await publishSignature(repo('signed'), d('signed'), p, await sign(tmp.join('p256.key'), p, false));
  p = payloadFor(`${reg.host}/src/edsigned`, d('edsigned'));
  await publishSignature(repo('edsigned'), d('edsigned'), p, await sign(tmp.join('ed.key'), p, true));
  // A valid signature, but of another image's digest, published under this image's tag.
  p = payloadFor(`${reg.host}/src/signed`, d('signed'));
  await publishSignature(repo('wrongdigest'), d('wrongdigest'), p, await sign(tmp.join('p256.key'), p, false));
  // The signature was made over other bytes than the payload stored.
  const signedText = payloadFor(`${reg.host}/src/tampered`, d('tampered'));
  await publishSignature(repo('tampered'), d('tampered'), signedText.replace('cosign container image signature', 'cosign container image signaturE'), await sign(tmp.join('p256.key'), signedText, false));
  // A cosign attestation of src/signed: a DSSE envelope of an in-toto SLSA statement, the PAE
  // bytes signed with openssl (secure-systems-lab/dsse protocol.md).
  const statement = Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: `${reg.host}/src/signed`, digest: { sha256: hex(d('signed')) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: {} } }));
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${'application/vnd.in-toto+json'.length} application/vnd.in-toto+json ${statement.length} `), statement]);
  const paeSig = await sign(tmp.join('p256.key'), pae.toString('latin1'), false);
  const envelope = JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: statement.toString('base64'), signatures: [{ keyid: '', sig: paeSig }] });
  const attCfg = await putBlob(reg.host, 'src/signed', 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]},"config":{}}');
  const attLayer = await putBlob(reg.host, 'src/signed', 'application/vnd.dsse.envelope.v1+json', envelope);
  await putManifest(reg.host, 'src/signed', `sha256-${hex(d('signed'))}.att`, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: attCfg, layers: [{ ...attLayer, annotations: { predicateType: 'https://slsa.dev/provenance/v1' } }] });
  // A two-platform index signed as cosign signs a tag: the signature names the index digest.
  const leaf = await pushLayoutImage(`${reg.host}/src/multi:leaf`, { hello: 'multi\n' }, tmp.join('img-multi'));
  const leafSize = (await getManifestRaw(reg.host, 'src/multi', 'leaf')).length;
  const index = await putManifest(reg.host, 'src/multi', '1', {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: leaf.digest, size: leafSize, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: leaf.digest, size: leafSize, platform: { os: 'linux', architecture: 'arm64' } },
    ],
  });
  multiIndex = index.digest;
  p = payloadFor(`${reg.host}/src/multi`, index.digest);
  await publishSignature('src/multi', index.digest, p, await sign(tmp.join('p256.key'), p, false));
  multiBundle = tmp.join('multi.tar.gz');
  const m = await runFerry(['save', `${reg.host}/src/multi:1`, '-o', multiBundle], { env: ferryEnv(tmp.join('home-save-multi')) });
  expect(m.code, describeRun(m)).toBe(0);
  bundle = tmp.join('all.tar.gz');
  const r = await runFerry(['save', ...Object.values(images).map((i) => i.ref), '-o', bundle], { env: ferryEnv(tmp.join('home-save')) });
  expect(r.code, describeRun(r)).toBe(0);
  writeFileSync(
    tmp.join('policy.yaml'),
    [
      'trust:',
      '  release: { key: p256.pub }',
      '  edkey: { key: ed.pub }',
      'rules:',
      `  - images: "${reg.host}/src/edsigned:*"`,
      '    require: { signedBy: [edkey] }',
      `  - images: "${reg.host}/src/**"`,
      '    require: { signedBy: [release] }',
      'default: reject',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await netns?.remove();
  await reg?.stop();
});

/** ferry inside the loopback-only namespace: proves nothing is fetched. */
const offline = (args: string[]) => netns.exec(process.execPath, [FERRY_BIN, ...args], { env: { ...ferryEnv(tmp.join('home-offline')), PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' } });

describe('verify --policy (offline)', () => {
  it('accepts the images signed by the right keys and rejects the others, naming each and why; exit 1', async () => {
    const r = await offline(['verify', bundle, '--policy', tmp.join('policy.yaml'), '--json']);
    expect(r.code, describeRun(r)).toBe(1);
    const h = reg.host;
    expect(r.stderr).toContain(`policy: accepted ${h}/src/signed:1 (rule "${h}/src/**"): signed by release`);
    expect(r.stderr).toContain(`policy: accepted ${h}/src/edsigned:1 (rule "${h}/src/edsigned:*"): signed by edkey`);
    expect(r.stderr).toMatch(new RegExp(`rejected ${h.replace(/\./g, '\\.')}/src/unsigned:1 .*it has no signature`));
    expect(r.stderr).toMatch(/rejected .*\/src\/wrongdigest:1 .*signs sha256:[a-f0-9]+, not this image/);
    expect(r.stderr).toMatch(/rejected .*\/src\/tampered:1 .*does not verify with release/);
    expect(r.stderr).toMatch(/error: 3 of 5 images rejected by the policy/);
    const report = JSON.parse(r.stdout) as { policy: { image: string; verdict: string }[] };
    expect(report.policy.filter((v) => v.verdict === 'accepted').map((v) => v.image).sort()).toEqual([`${h}/src/edsigned:1`, `${h}/src/signed:1`]);
  });

  it('a multi-platform image saved for one platform: the signature of its index (the upstream digest) counts', async () => {
    const r = await offline(['verify', multiBundle, '--policy', tmp.join('policy.yaml'), '--json']);
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`policy: accepted ${reg.host}/src/multi:1`);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'ok', exitCode: 0 });
    void multiIndex;
  });

  it('attestations: an image with a signed SLSA provenance attestation passes a rule requiring it; one without is rejected', async () => {
    const f = tmp.join('attest.yaml');
    writeFileSync(f, ['trust:', '  release: { key: p256.pub }', '  edkey: { key: ed.pub }', 'rules:', `  - images: "${reg.host}/src/signed:1"`, '    require: { signedBy: [release], attestations: ["https://slsa.dev/provenance/v1"] }', `  - images: "${reg.host}/src/edsigned:1"`, '    require: { signedBy: [edkey], attestations: ["https://slsa.dev/provenance/v1"] }', 'default: allow', ''].join('\n'));
    const r = await offline(['verify', bundle, '--policy', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/accepted .*\/src\/signed:1 .*attested: https:\/\/slsa\.dev\/provenance\/v1/);
    expect(r.stderr).toMatch(/rejected .*\/src\/edsigned:1 .*no attestation of https:\/\/slsa\.dev\/provenance\/v1/);
  });

  it('--json says "rejected" and the exit code when the policy rejects', async () => {
    const r = await offline(['verify', bundle, '--policy', tmp.join('policy.yaml'), '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'rejected', exitCode: 1 });
  });

  it('a signature by another key than the rule names is rejected', async () => {
    const f = tmp.join('other-key.yaml');
    writeFileSync(f, ['trust:', '  release: { key: other.pub }', 'rules:', `  - images: "${reg.host}/src/signed:1"`, '    require: { signedBy: [release] }', 'default: allow', ''].join('\n'));
    const r = await offline(['verify', bundle, '--policy', f]);
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/rejected .*\/src\/signed:1 .*does not verify with release/);
    expect(r.stderr).toMatch(/error: 1 of 5 images rejected/);
  });

  it('a policy that names a missing key, or keyless trust without identities, is exit 2 before any work', async () => {
    const f = tmp.join('bad.yaml');
    writeFileSync(f, ['trust:', '  ci: { trustedRoot: roots/trusted_root.json }', ''].join('\n'));
    const r = await offline(['verify', bundle, '--policy', f]);
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toMatch(/trust\.ci: a trustedRoot needs identities/);
    writeFileSync(f, ['trust:', '  release: { key: missing.pub }', ''].join('\n'));
    const m = await offline(['verify', bundle, '--policy', f]);
    expect(m.code, describeRun(m)).toBe(2);
    expect(m.stderr).toMatch(/trust\.release\.key: .*missing\.pub cannot be read/);
  });
});

describe('save and export --policy refuse to bundle images that fail, on the internet side', () => {
  it('save --policy with an unsigned and a tampered image writes nothing and names each (exit 1)', async () => {
    const out = tmp.join('refused.tar.gz');
    const r = await runFerry(['save', images.signed!.ref, images.unsigned!.ref, images.tampered!.ref, '-o', out, '--policy', tmp.join('policy.yaml')], { env: ferryEnv(tmp.join('home-save-policy')) });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/error: 2 of 3 images rejected by the policy .*; no bundle was written/);
    expect(r.stderr).toMatch(/- .*\/src\/unsigned:1: it has no signature/);
    expect(r.stderr).toMatch(/- .*\/src\/tampered:1: no signature verifies: .*does not verify with release/);
    expect(existsSync(out)).toBe(false);
  });

  it('save --policy with signed images writes the bundle (exit 0); --no-referrers with --policy is exit 2', async () => {
    const out = tmp.join('accepted.tar.gz');
    const r = await runFerry(['save', images.signed!.ref, images.edsigned!.ref, '-o', out, '--policy', tmp.join('policy.yaml')], { env: ferryEnv(tmp.join('home-save-policy')) });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toMatch(/policy: accepted .*\/src\/signed:1/);
    expect(existsSync(out)).toBe(true);
    const n = await runFerry(['save', images.signed!.ref, '-o', tmp.join('noref.tar.gz'), '--policy', tmp.join('policy.yaml'), '--no-referrers'], { env: ferryEnv(tmp.join('home-save-policy')) });
    expect(n.code, describeRun(n)).toBe(2);
    expect(n.stderr).toContain('--no-referrers');
  });

  it('export --policy with a rejected image writes neither bundle nor lock (exit 1), even with --keep-going', async () => {
    const m = tmp.join('exp', 'nightly.yaml');
    mkdirSync(tmp.join('exp'), { recursive: true });
    writeFileSync(m, ['bundle: nightly', 'images:', `  - ${images.signed!.ref}`, `  - ${images.wrongdigest!.ref}`, ''].join('\n'));
    const r = await runFerry(['export', m, '-o', tmp.join('exp', 'nightly.tar.gz'), '--policy', tmp.join('policy.yaml'), '--keep-going'], { env: ferryEnv(tmp.join('home-export-policy')) });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/- .*\/src\/wrongdigest:1: no signature verifies: .*signs sha256:[a-f0-9]+, not this image/);
    expect(readdirSync(tmp.join('exp'))).toEqual(['nightly.yaml']);
    writeFileSync(m, ['bundle: nightly', 'images:', `  - ${images.signed!.ref}`, ''].join('\n'));
    const ok = await runFerry(['export', m, '-o', tmp.join('exp', 'nightly.tar.gz'), '--policy', tmp.join('policy.yaml')], { env: ferryEnv(tmp.join('home-export-policy')) });
    expect(ok.code, describeRun(ok)).toBe(0);
    expect(existsSync(tmp.join('exp', 'nightly.tar.gz'))).toBe(true);
  });
});

describe('push and load --policy judge before anything reaches the target', () => {
  const catalog = async (): Promise<string[]> => ((await (await fetch(`http://${reg.host}/v2/_catalog`)).json()) as { repositories: string[] }).repositories;

  it('push --policy with rejected images pushes nothing (exit 1)', async () => {
    const r = await runFerry(['push', bundle, '--to', `${reg.host}/strict`, '--policy', tmp.join('policy.yaml')], { env: ferryEnv(tmp.join('home-push1')), cwd: tmp.path });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('nothing was pushed');
    expect((await catalog()).filter((x) => x.startsWith('strict/'))).toEqual([]);
  });

  it('push --policy --keep-going pushes exactly the accepted images (exit 3)', async () => {
    const r = await runFerry(['push', bundle, '--to', `${reg.host}/lenient`, '--policy', tmp.join('policy.yaml'), '--keep-going'], { env: ferryEnv(tmp.join('home-push2')), cwd: tmp.path });
    expect(r.code, describeRun(r)).toBe(3);
    expect((await catalog()).filter((x) => x.startsWith('lenient/')).sort()).toEqual(['lenient/src/edsigned', 'lenient/src/signed']);
  });

  it('load --policy with rejected images loads nothing: it stops before contacting the engine (exit 1)', async () => {
    const r = await runFerry(['load', bundle, '--policy', tmp.join('policy.yaml')], { env: { ...ferryEnv(tmp.join('home-load')), DOCKER_HOST: `unix://${tmp.join('no-engine.sock')}` } });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('nothing was loaded');
    expect(r.stderr).not.toContain('no-engine.sock');
  });
});
