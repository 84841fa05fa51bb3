/**
 * `ferry copy` through the copy engine: registry -> registry, registry -> oci:DIR -> registry,
 * bundle -> oci:DIR, with every digest kept (referrers included). Oracles: skopeo inspect --raw
 * on both transports, and the registry's own bytes. Fixtures: an OCI image made with tar, gzip
 * and skopeo, and hand-written signatures and referrers (helpers/raw-push.ts).
 * Also the local side of an OCI layout destination: read-only, full, interrupted, two at once,
 * and a damaged source blob.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFerryInBackground, type BackgroundFerry } from './helpers/export-background.js';
import { startSlowProxy, type SlowProxy } from './helpers/export-slow-proxy.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, randomFile, type LayoutImage } from './helpers/layout-image.js';
import { runOk } from './helpers/processes.js';
import { EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, getManifestRaw, putBlob, putManifest, sha256 } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const tmp = suiteTempDir('copy');
let reg: Registry;
let slow: SlowProxy;
let img: LayoutImage;
let big: LayoutImage;
let sigTag: string;
let sigDigest: string;
let fallback: string;
let fallbackDigest: string;
let referrerDigest: string;
const background: BackgroundFerry[] = [];

const hex = (d: string): string => d.slice('sha256:'.length);
const digestAt = async (repo: string, ref: string): Promise<string> => sha256(await getManifestRaw(reg.host, repo, ref));
const skopeoDigest = async (ref: string): Promise<string> => sha256(await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ref]));

beforeAll(async () => {
  reg = await startRegistry();
  slow = await startSlowProxy(reg.host);
  const h = reg.host;
  img = await pushLayoutImage(`${h}/src/img:1`, { hello: 'copy me\n' }, tmp.join('img'));
  big = await pushLayoutImage(`${h}/src/big:1`, { 'big.bin': randomFile(16 * MiB) }, tmp.join('big'));
  // A cosign-style signature and an OCI 1.1 referrer with its referrers-tag-schema index.
  const cfg = await putBlob(h, 'src/img', 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}');
  const payload = await putBlob(h, 'src/img', 'application/vnd.dev.cosign.simplesigning.v1+json', `{"critical":{"image":{"docker-manifest-digest":"${img.digest}"}}}`);
  sigTag = `sha256-${hex(img.digest)}.sig`;
  sigDigest = (await putManifest(h, 'src/img', sigTag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cfg, layers: [payload] })).digest;
  const empty = await putBlob(h, 'src/img', EMPTY_CONFIG, '{}');
  const sbom = await putBlob(h, 'src/img', 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
  const size = (await getManifestRaw(h, 'src/img', '1')).length;
  const refDoc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: empty, layers: [sbom], subject: { mediaType: OCI_MANIFEST, digest: img.digest, size } };
  const ref = await putManifest(h, 'src/img', sha256(JSON.stringify(refDoc)), refDoc);
  referrerDigest = ref.digest;
  fallback = `sha256-${hex(img.digest)}`;
  fallbackDigest = (await putManifest(h, 'src/img', fallback, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: ref.digest, size: ref.size, artifactType: 'application/spdx+json' }] })).digest;
});

afterEach(async () => {
  slow?.release();
  await Promise.all(background.splice(0).map((b) => b.stop()));
});

afterAll(async () => {
  await slow?.stop();
  await reg?.stop();
});

let n = 0;
const home = (): NodeJS.ProcessEnv => ferryEnv(tmp.join(`home-${++n}`));

/** Asserts that `repo` at the registry holds the image and its referrers with the source's digests. */
async function expectImageWithReferrers(repo: string, tag: string): Promise<void> {
  expect(await digestAt(repo, tag)).toBe(img.digest);
  expect(await digestAt(repo, sigTag)).toBe(sigDigest);
  expect(await digestAt(repo, fallback)).toBe(fallbackDigest);
  expect(await digestAt(repo, referrerDigest)).toBe(referrerDigest);
}

describe('ferry copy keeps every digest', () => {
  it('registry -> registry, with the signature, the referrer and its tag index', async () => {
    const r = await runFerry(['copy', img.ref, `docker://${reg.host}/dst/img:copied`, '--json'], { env: home() });
    expect(r.code, describeRun(r)).toBe(0);
    await expectImageWithReferrers('dst/img', 'copied');
    expect(await skopeoDigest(`docker://${reg.host}/dst/img:copied`)).toBe(img.digest);
    const report = JSON.parse(r.stdout) as { status: string; images: { digest: string; referrers: unknown[] }[] };
    expect(report.status).toBe('ok');
    expect(report.images[0]!.digest).toBe(img.digest);
    expect(report.images[0]!.referrers).toHaveLength(3); // the signature, the referrer, its tag index
  });

  it('registry -> oci:DIR -> registry: skopeo reads the layout, and the round trip keeps the digests', async () => {
    const dir = tmp.join('layout-rt');
    const a = await runFerry(['copy', img.ref, `oci:${dir}:v1`], { env: home() });
    expect(a.code, describeRun(a)).toBe(0);
    expect(await skopeoDigest(`oci:${dir}:v1`)).toBe(img.digest);
    expect(await skopeoDigest(`oci:${dir}:${sigTag}`)).toBe(sigDigest);
    const b = await runFerry(['copy', `oci:${dir}:v1`, `${reg.host}/roundtrip/img:1`], { env: home() });
    expect(b.code, describeRun(b)).toBe(0);
    await expectImageWithReferrers('roundtrip/img', '1');
  });

  it('bundle -> oci:DIR: every image of the bundle under its own tag', async () => {
    const env = home();
    const bundle = tmp.join('two.tar.gz');
    const s = await runFerry(['save', img.ref, big.ref, '-o', bundle], { env });
    expect(s.code, describeRun(s)).toBe(0);
    const dir = tmp.join('layout-bundle');
    const c = await runFerry(['copy', bundle, `oci:${dir}`], { env });
    expect(c.code, describeRun(c)).toBe(0);
    // Two images with the same tag: each is named by repository and tag.
    expect(await skopeoDigest(`oci:${dir}:src/img:1`)).toBe(img.digest);
    expect(await skopeoDigest(`oci:${dir}:src/big:1`)).toBe(big.digest);
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual(expect.arrayContaining([img.digest, big.digest, sigDigest]));
    await runOk('skopeo', ['inspect', '--raw', `oci:${dir}:${sigTag}`]);
  });

  it('--platform that a single-platform image lacks: exit 1 naming its platform, nothing copied', async () => {
    const dir = tmp.join('arm');
    const r = await runFerry(['copy', img.ref, `oci:${dir}:1`, '--platform', 'linux/arm64'], { env: home() });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('the image is linux/amd64 only; asked for linux/arm64');
    expect(existsSync(join(dir, 'index.json'))).toBe(false);
  });

  it('a bundle into a registry is pointed at ferry push (exit 2)', async () => {
    const env = home();
    const bundle = tmp.join('one.tar.gz');
    expect((await runFerry(['save', img.ref, '-o', bundle], { env })).code).toBe(0);
    const r = await runFerry(['copy', bundle, `${reg.host}/x/y:1`], { env });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toContain('ferry push');
  });
});

describe('ferry copy to an OCI layout on the local side', () => {
  it('a read-only file system: exit 2 before anything is read', async () => {
    const dir = tmp.join('ro');
    await runOk('mkdir', ['-p', dir]);
    await runOk('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'tmpfs', dir]);
    const r = await runFerry(['copy', img.ref, `oci:${dir}/layout:1`], { env: home() });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toMatch(/read-only file system/);
  });

  it('a full file system: exit 1, "no space left on device", no partial blob, no index.json', async () => {
    const dir = tmp.join('full');
    await runOk('mkdir', ['-p', dir]);
    await runOk('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    const r = await runFerry(['copy', big.ref, `oci:${dir}/layout:1`, '--json'], { env: home() });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/no space left on device/);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'failed', error: { code: 'IO' } });
    expect(existsSync(join(dir, 'layout', 'index.json'))).toBe(false);
    expect(readdirSync(join(dir, 'layout', 'blobs', 'sha256')).filter((f) => f.includes('partial'))).toEqual([]);
    expect(readdirSync(join(dir, 'layout')).filter((f) => f.endsWith('.lock'))).toEqual([]);
  });

  it('SIGINT in a held download: exit 130, index.json unchanged, lock released; two copies at once: the second is refused', async () => {
    const dir = tmp.join('int');
    const first = await runFerry(['copy', img.ref, `oci:${dir}:keep`], { env: home() });
    expect(first.code, describeRun(first)).toBe(0);
    const before = readFileSync(join(dir, 'index.json'), 'utf8');
    slow.pauseBlobOnce(big.layer.digest, 4 * MiB);
    const env = home();
    const bg = startFerryInBackground(['copy', big.ref.replace(reg.host, slow.host), `oci:${dir}:big`], { env, cwd: tmp.path, logFile: tmp.join(`bg-${++n}.log`) });
    background.push(bg);
    await slow.paused(big.layer.digest);
    const second = await runFerry(['copy', img.ref, `oci:${dir}:other`], { env: home() });
    expect(second.code, describeRun(second)).toBe(1);
    expect(second.stderr).toContain(`locked by process ${bg.pid}`);
    process.kill(bg.pid, 'SIGINT');
    expect(await bg.exited, bg.output()).toBe(130);
    expect(bg.output()).toContain(`interrupted: oci:${dir} was not changed`);
    expect(readFileSync(join(dir, 'index.json'), 'utf8')).toBe(before);
    expect(readdirSync(dir).filter((f) => f.endsWith('.lock'))).toEqual([]);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it('a source blob that does not match its digest: exit 1 naming it, and no manifest reaches the target', async () => {
    const dir = tmp.join('damaged');
    expect((await runFerry(['copy', img.ref, `oci:${dir}:1`, '--no-referrers'], { env: home() })).code).toBe(0);
    const layer = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', hex(img.digest)), 'utf8')) as { layers: { digest: string }[] };
    const file = join(dir, 'blobs', 'sha256', hex(layer.layers[0]!.digest));
    const bytes = readFileSync(file);
    const mid = bytes.length >> 1;
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(file, bytes);
    const r = await runFerry(['copy', `oci:${dir}:1`, `${reg.host}/damaged/img:1`], { env: home() });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(layer.layers[0]!.digest);
    expect(r.stderr).toMatch(/expected sha256:[a-f0-9]+, calculated sha256:/);
    const res = await fetch(`http://${reg.host}/v2/damaged/img/manifests/1`);
    expect(res.status).toBe(404);
  });
});
