/**
 * Content that is not a plain image, shaped the way public registries serve it, made without
 * ferry (hand-written manifests PUT with fetch, layers made by GNU tar and gzip, images by
 * skopeo from an OCI layout): a Helm chart, an artifact with `artifactType` and the empty
 * config, cosign-style `.sig`/`.att` tags, an OCI 1.1 referrer published through the referrers
 * tag schema (`sha256-<hex>`: distribution 2.8 has no referrers API), a nested index, and an
 * image with a non-distributable (foreign) layer.
 *
 * For each: `save`, `verify --deep`, `ls`, `push` (the target's bytes, hashed, equal the
 * source's), `docker load` of the same bundle for the images in it, `ctr images import`.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, type LayoutImage } from './helpers/layout-image.js';
import { runOk } from './helpers/processes.js';
import { EMPTY_CONFIG, OCI_INDEX, OCI_MANIFEST, getManifestRaw, putBlob, putManifest, sha256, type Desc } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('artifacts');
let reg: Registry;
let dockerd: Dockerd;
let img: LayoutImage;
const fx: Record<string, { ref: string; digest: string }> = {};
let sigTag: string;
let attTag: string;
let fallback: string;
let referrer: Desc;

const hex = (d: string): string => d.slice('sha256:'.length);

beforeAll(async () => {
  [reg, dockerd] = await Promise.all([startRegistry({ allowForeignUrls: '^http://127\\.0\\.0\\.1:9/' }), startDockerd()]);
  const h = reg.host;
  img = await pushLayoutImage(`${h}/test/img:1`, { hello: 'hello from img\n' }, tmp.join('img'));

  // A Helm chart as `helm push` stores it.
  const chartTgz = await runOk('sh', ['-c', `mkdir -p ${tmp.join('chart/demo')} && printf 'apiVersion: v2\\nname: demo\\nversion: 0.1.0\\n' > ${tmp.join('chart/demo/Chart.yaml')} && tar -C ${tmp.join('chart')} -czf ${tmp.join('chart.tgz')} demo && echo ok`]);
  void chartTgz;
  const chartLayer = await putBlob(h, 'test/chart', 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', readFileSync(tmp.join('chart.tgz')));
  const chartConfig = await putBlob(h, 'test/chart', 'application/vnd.cncf.helm.config.v1+json', '{"apiVersion":"v2","name":"demo","version":"0.1.0"}');
  const chart = await putManifest(h, 'test/chart', '0.1.0', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: chartConfig, layers: [chartLayer] });
  fx.chart = { ref: `${h}/test/chart:0.1.0`, digest: chart.digest };

  // artifactType with the empty config (OCI 1.1 guidance for artifacts).
  const empty = await putBlob(h, 'test/sbom', EMPTY_CONFIG, '{}');
  const spdx = await putBlob(h, 'test/sbom', 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}');
  const sbom = await putManifest(h, 'test/sbom', '1', { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/spdx+json', config: empty, layers: [spdx] });
  fx.sbom = { ref: `${h}/test/sbom:1`, digest: sbom.digest };

  // cosign's tags on test/img:1.
  const cosignCfg = await putBlob(h, 'test/img', 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}');
  const payload = await putBlob(h, 'test/img', 'application/vnd.dev.cosign.simplesigning.v1+json', JSON.stringify({ critical: { image: { 'docker-manifest-digest': img.digest } } }));
  sigTag = `sha256-${hex(img.digest)}.sig`;
  const sig = await putManifest(h, 'test/img', sigTag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cosignCfg, layers: [{ ...payload, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ-fake' } }] });
  const envelope = await putBlob(h, 'test/img', 'application/vnd.dsse.envelope.v1+json', '{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}');
  attTag = `sha256-${hex(img.digest)}.att`;
  const att = await putManifest(h, 'test/img', attTag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: cosignCfg, layers: [envelope] });
  fx.sig = { ref: `${h}/test/img:${sigTag}`, digest: sig.digest };
  fx.att = { ref: `${h}/test/img:${attTag}`, digest: att.digest };

  // An OCI 1.1 referrer (subject = the image), and the referrers tag schema's index for it.
  const vuln = await putBlob(h, 'test/img', 'application/vnd.example.vuln+json', '{"vulnerabilities":[]}');
  const emptyImg = await putBlob(h, 'test/img', EMPTY_CONFIG, '{}');
  const imgDesc = { mediaType: OCI_MANIFEST, digest: img.digest, size: (await getManifestRaw(h, 'test/img', '1')).length };
  const refDoc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.vuln+json', config: emptyImg, layers: [vuln], subject: imgDesc };
  referrer = await putManifest(h, 'test/img', sha256(JSON.stringify(refDoc)), refDoc, { artifactType: 'application/vnd.example.vuln+json' });
  fallback = `sha256-${hex(img.digest)}`;
  const fb = await putManifest(h, 'test/img', fallback, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.size, artifactType: 'application/vnd.example.vuln+json' }] });
  fx.fallback = { ref: `${h}/test/img:${fallback}`, digest: fb.digest };

  // A nested index: outer -> inner -> the linux/amd64 image.
  const leaf = await pushLayoutImage(`${h}/test/nested:leaf`, { hello: 'hello from nested\n' }, tmp.join('nested-leaf'));
  const leafSize = (await getManifestRaw(h, 'test/nested', 'leaf')).length;
  const inner = await putManifest(h, 'test/nested', 'inner', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: leaf.digest, size: leafSize, platform: { os: 'linux', architecture: 'amd64' } }] });
  const outer = await putManifest(h, 'test/nested', '1', { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_INDEX, digest: inner.digest, size: inner.size }] });
  fx.nested = { ref: `${h}/test/nested:1`, digest: outer.digest };
  fx.nestedLeaf = { ref: `${h}/test/nested:leaf`, digest: leaf.digest };

  // An image with a foreign layer (Docker schema2, as Windows base images have), whose blob the registry lacks.
  const real = await putBlob(h, 'test/foreign', 'application/vnd.docker.image.rootfs.diff.tar.gzip', readFileSync(tmp.join('chart.tgz')));
  const foreignBytes = Buffer.from('a foreign layer the registry never saw');
  const realDiffId = sha256(gunzipSync(readFileSync(tmp.join('chart.tgz'))));
  const cfg = await putBlob(h, 'test/foreign', 'application/vnd.docker.container.image.v1+json', JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(foreignBytes), realDiffId] } }));
  const foreign = await putManifest(h, 'test/foreign', '1', {
    schemaVersion: 2,
    mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: cfg,
    layers: [{ mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', digest: sha256(foreignBytes), size: foreignBytes.length, urls: ['http://127.0.0.1:9/foreign.tar.gz'] }, real],
  });
  fx.foreign = { ref: `${h}/test/foreign:1`, digest: foreign.digest };
});

afterAll(async () => {
  await Promise.all([reg?.stop(), dockerd?.stop()]);
});

const digestAt = async (host: string, repo: string, ref: string): Promise<string> => sha256(await getManifestRaw(host, repo, ref));

describe('artifacts and referrers travel with the images', () => {
  let bundle: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    env = ferryEnv(tmp.join('home'));
    bundle = tmp.join('all.tar.gz');
    const r = await runFerry(['save', `${reg.host}/test/img:1`, fx.chart!.ref, fx.sbom!.ref, fx.nested!.ref, fx.foreign!.ref, '-o', bundle], { env });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toMatch(/layer sha256:[a-f0-9]+ is non-distributable \(foreign, from http:\/\/127\.0\.0\.1:9\/foreign\.tar\.gz\); not carried/);
  });

  it('verify --deep passes: artifacts are checked by digest, images by diff_id', async () => {
    const r = await runFerry(['verify', bundle, '--deep'], { env });
    expect(r.code, describeRun(r)).toBe(0);
  });

  it('ls shows the chart and the SBOM as artifacts with their types, and the image\'s signature, attestation and referrer', async () => {
    const r = await runFerry(['ls', bundle], { env });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toMatch(/test\/chart:0\.1\.0 .*artifact application\/vnd\.cncf\.helm\.config\.v1\+json/);
    expect(r.stdout).toMatch(/test\/sbom:1 .*artifact application\/spdx\+json/);
    expect(r.stdout).toContain(`  ${sigTag}`);
    expect(r.stdout).toContain(`  ${attTag}`);
    expect(r.stdout).toContain(`  ${fallback} `);
    expect(r.stdout).toMatch(/referrer application\/vnd\.example\.vuln\+json/);
    const json = JSON.parse((await runFerry(['ls', bundle, '--json'], { env })).stdout) as { images: { name: string; referrers: { digest: string }[] }[] };
    const imgEntry = json.images.find((i) => i.name?.endsWith('test/img:1'))!;
    expect(imgEntry.referrers.map((x) => x.digest).sort()).toEqual([fx.sig!.digest, fx.att!.digest, referrer.digest, fx.fallback!.digest].sort());
  });

  it('manifest.json (the docker load view) lists only the images; docker load takes the bundle as is', async () => {
    const manifestJson = JSON.parse(await runOk('tar', ['-xzOf', bundle, 'manifest.json'])) as { RepoTags: string[] }[];
    const tags = manifestJson.flatMap((e) => e.RepoTags).sort();
    expect(tags).toEqual([`${reg.host}/test/img:1`, `${reg.host}/test/nested:1`].sort());
    const load = await dockerd.docker(['load', '-i', bundle]);
    expect(load.code, `${load.stdout}${load.stderr}`).toBe(0);
    expect(await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', `${reg.host}/test/img:1`])).toMatch(/^sha256:/);
  });

  it('push keeps every digest: images, artifacts, the nested image, signatures under their tags, the referrer and its tag index', async () => {
    const r = await runFerry(['push', bundle, '--to', `${reg.host}/mirror`], { env, cwd: tmp.path });
    expect(r.code, describeRun(r)).toBe(0);
    const h = reg.host;
    expect(await digestAt(h, 'mirror/test/img', '1')).toBe(img.digest);
    expect(await digestAt(h, 'mirror/test/chart', '0.1.0')).toBe(fx.chart!.digest);
    expect(await digestAt(h, 'mirror/test/sbom', '1')).toBe(fx.sbom!.digest);
    expect(await digestAt(h, 'mirror/test/foreign', '1')).toBe(fx.foreign!.digest);
    expect(await digestAt(h, 'mirror/test/img', sigTag)).toBe(fx.sig!.digest);
    expect(await digestAt(h, 'mirror/test/img', attTag)).toBe(fx.att!.digest);
    expect(await digestAt(h, 'mirror/test/img', fallback)).toBe(fx.fallback!.digest);
    expect(await digestAt(h, 'mirror/test/img', referrer.digest)).toBe(referrer.digest);
    // The oracle: skopeo reads the pushed image and its signature tag.
    const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${h}/mirror/test/img:${sigTag}`]);
    expect(sha256(raw)).toBe(fx.sig!.digest);
  });

  it('--no-referrers leaves signatures and attestations behind', async () => {
    const out = tmp.join('plain.tar.gz');
    const r = await runFerry(['save', `${reg.host}/test/img:1`, '--no-referrers', '-o', out], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const meta = JSON.parse(await runOk('tar', ['-xzOf', out, 'ferry.json'])) as { images: { referrers?: unknown[] }[] };
    expect(meta.images[0]!.referrers).toBeUndefined();
  });
});

describe('export settings are part of "unchanged"', () => {
  it('an export with --no-referrers (or --compression none) after a normal one rewrites the bundle; the same options again are unchanged', async () => {
    const env = ferryEnv(tmp.join('home-settings'));
    const dir = tmp.join('settings');
    await runOk('mkdir', ['-p', dir]);
    const m = `${dir}/m.yaml`;
    await runOk('sh', ['-c', `printf 'bundle: m\nimages:\n  - ${reg.host}/test/img:1\n' > ${m}`]);
    const meta = async (): Promise<{ images: { referrers?: unknown[] }[] }> => JSON.parse(await runOk('tar', ['-xzOf', `${dir}/bundles/m.tar.gz`, 'ferry.json'])) as never;
    const first = await runFerry(['export', m], { env, cwd: dir });
    expect(first.code, describeRun(first)).toBe(0);
    expect((await meta()).images[0]!.referrers?.length).toBe(4);
    const plain = await runFerry(['export', m, '--no-referrers'], { env, cwd: dir });
    expect(plain.code, describeRun(plain)).toBe(0);
    expect(plain.stderr).not.toMatch(/unchanged/);
    expect((await meta()).images[0]!.referrers).toBeUndefined();
    const again = await runFerry(['export', m, '--no-referrers'], { env, cwd: dir });
    expect(again.stderr).toMatch(/unchanged/);
    const back = await runFerry(['export', m], { env, cwd: dir });
    expect(back.stderr).not.toMatch(/unchanged/);
    expect((await meta()).images[0]!.referrers?.length).toBe(4);
  });
});

describe('indexes of any depth', () => {
  it('--platform all keeps a nested index whole, digests unchanged, through save and push', async () => {
    const env = ferryEnv(tmp.join('home-nested'));
    const out = tmp.join('nested.tar.gz');
    const r = await runFerry(['save', fx.nested!.ref, '--platform', 'all', '-o', out], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const index = JSON.parse(await runOk('tar', ['-xzOf', out, 'index.json'])) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest)).toEqual([fx.nested!.digest]);
    expect((await runFerry(['verify', out, '--deep'], { env })).code).toBe(0);
    const p = await runFerry(['push', out, '--to', `${reg.host}/nested-all`], { env, cwd: tmp.path });
    expect(p.code, describeRun(p)).toBe(0);
    expect(await digestAt(reg.host, 'nested-all/test/nested', '1')).toBe(fx.nested!.digest);
  });

  it('platform selection descends the nested index: the default keeps it whole (its only platform), docker load gets the leaf; a missing platform names what the inner index has', async () => {
    const env = ferryEnv(tmp.join('home-nested2'));
    const out = tmp.join('nested-amd64.tar.gz');
    const r = await runFerry(['save', fx.nested!.ref, '-o', out, '--json'], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const report = JSON.parse(r.stdout) as { images: { digest: string; platforms: { platform: string; manifest: string }[] }[] };
    expect(report.images[0]!.digest).toBe(fx.nested!.digest);
    expect(report.images[0]!.platforms).toEqual([expect.objectContaining({ platform: 'linux/amd64', manifest: fx.nestedLeaf!.digest })]);
    const meta = JSON.parse(await runOk('tar', ['-xzOf', out, 'ferry.json'])) as { images: { dockerLoad: string }[] };
    expect(meta.images[0]!.dockerLoad).toBe(fx.nestedLeaf!.digest);
    const arm = await runFerry(['save', fx.nested!.ref, '--platform', 'linux/arm64', '-o', tmp.join('nested-arm.tar.gz')], { env });
    expect(arm.code, describeRun(arm)).toBe(1);
    expect(arm.stderr).toContain('no manifest for platform linux/arm64 (the index has: linux/amd64)');
  });
});

describe('ctr imports the bundle', () => {
  it('ctr images import of a plain-tar bundle of the image with its signatures', async () => {
    const env = ferryEnv(tmp.join('home-ctr'));
    const out = tmp.join('ctr.tar');
    const r = await runFerry(['save', `${reg.host}/test/img:1`, '--compression', 'none', '-o', out], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const imp = await dockerd.ctr(['-n', 'ferry-artifacts', 'images', 'import', out]);
    expect(imp.code, `${imp.stdout}${imp.stderr}`).toBe(0);
    const ls = await dockerd.ctr(['-n', 'ferry-artifacts', 'images', 'ls', '-q']);
    expect(ls.stdout).toContain(`${reg.host}/test/img:1`);
  });
});
