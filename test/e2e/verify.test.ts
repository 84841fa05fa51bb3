/**
 * Acceptance checks for `ferry verify` and `ferry ls` on ferry bundles: the built CLI on bundles
 * that `ferry save` made from images built with docker, with independent oracles — the
 * registry's own manifests (skopeo inspect --raw), GNU tar and sha256sum, and `docker load`,
 * which decompresses every layer and checks its diff_id itself.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fixtures } from './helpers/fixtures.js';
import { imageIds, removeAllImages } from './helpers/internal-docker.js';
import { flipFileByteInLayerTar, relabelLayer } from './helpers/internal-relabel.js';
import { ferryIn, saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import { blobEntryName, readTar, truncateFile, writeTar } from './helpers/internal-tar.js';
import { run } from './helpers/processes.js';
import { rawManifest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('verify');
let servers: Servers;
let fx: Fixtures;
/** busybox and app, default platform. */
let two: string;
/** The multi-arch index with --platform all. */
let multi: string;
/** busybox and app, --compression none. */
let plain: string;
/** The one layer of the multi-arch fixture's linux/amd64 image. */
let amd64Layer: string;

beforeAll(async () => {
  servers = await startServers(tmp.path);
  fx = servers.fx;
  two = await saveBundle(tmp.path, 'two.tar.gz', [fx.busybox.ref, fx.app.ref]);
  multi = await saveBundle(tmp.path, 'multi.tar.gz', [fx.multi.ref], ['--platform', 'all']);
  plain = await saveBundle(tmp.path, 'plain.tar', [fx.busybox.ref, fx.app.ref], ['--compression', 'none']);
  const m = JSON.parse(await rawManifest(`${servers.source.host}/${fx.multi.repo}@${fx.multi.amd64}`)) as { layers: { digest: string }[] };
  amd64Layer = m.layers[0]!.digest;
});

afterAll(async () => {
  await servers?.stop();
});

interface VerifyReport {
  command: string;
  kind: string;
  status: string;
  images: { name: string | null; digest: string }[];
  checked: { blobs: number; bytes: number; layersDeep: number; sidecar: string };
  problems: string[];
}

interface LsReport {
  kind: string;
  images: { name: string | null; digest: string; platforms: string[]; size: number; layers: number }[];
}

/** Distinct layer digests of the platform manifests the registry serves for `ref`. */
async function registryLayers(ref: string): Promise<string[]> {
  const root = JSON.parse(await rawManifest(ref)) as { manifests?: { digest: string }[]; layers?: { digest: string }[] };
  const manifests = root.manifests
    ? await Promise.all(root.manifests.map(async (m) => JSON.parse(await rawManifest(`${ref.replace(/:[^:/]+$/, '')}@${m.digest}`)) as { layers: { digest: string }[] }))
    : [root as { layers: { digest: string }[] }];
  return [...new Set(manifests.flatMap((m) => m.layers.map((l) => l.digest)))];
}

describe('ferry verify on sound bundles', () => {
  it.each([
    { label: 'gzip bundle of two images', file: () => two, refs: () => [fx.busybox, fx.app] },
    { label: 'multi-arch index (--platform all)', file: () => multi, refs: () => [fx.multi] },
    { label: 'uncompressed bundle', file: () => plain, refs: () => [fx.busybox, fx.app] },
  ])('accepts a $label, exit 0, and --json names every image with its registry digest', async ({ file, refs }) => {
    const r = await ferryIn(tmp.path, ['verify', file(), '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as VerifyReport;
    expect(report).toMatchObject({ command: 'verify', kind: 'ferry', status: 'ok', problems: [] });
    expect(report.checked.sidecar).toBe('ok');
    const want = refs().map((f) => ({ name: f.ref, digest: f.digest }));
    expect([...report.images].sort((a, b) => a.digest.localeCompare(b.digest))).toEqual(
      want.sort((a, b) => a.digest.localeCompare(b.digest)),
    );
    // The sidecar ferry checked is the one sha256sum accepts.
    const check = await run('sha256sum', ['-c', `${file().split('/').pop()}.sha256`], { cwd: join(tmp.path, 'bundles') });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('says ok on stderr and prints nothing on stdout without --json', async () => {
    const r = await ferryIn(tmp.path, ['verify', two]);
    expect(r.code, r.report).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/ok/);
  });

  it.each([
    { label: 'two images', file: () => two, refs: () => [fx.busybox.ref, fx.app.ref] },
    // The multi-arch fixture's layers are ~120 bytes each: small layers must be checked too.
    { label: 'the multi-arch index with small layers', file: () => multi, refs: () => [fx.multi.ref] },
  ])('--deep decompresses every layer of $label and checks its diff_id', async ({ file, refs }) => {
    const layers = new Set((await Promise.all(refs().map(registryLayers))).flat());
    const r = await ferryIn(tmp.path, ['verify', file(), '--deep', '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as VerifyReport;
    expect(report.status).toBe('ok');
    expect(report.checked.layersDeep, `layers decompressed; the bundle holds ${layers.size} distinct layers`).toBeGreaterThanOrEqual(layers.size);
  });
});

describe('ferry verify finds damage', () => {
  it('a .sha256 sidecar that does not match fails with exit 1 naming the sidecar', async () => {
    const copy = join(tmp.path, 'sidecar-copy.tar.gz');
    copyFileSync(two, copy);
    writeFileSync(`${copy}.sha256`, `${'0'.repeat(64)}  sidecar-copy.tar.gz\n`);
    const r = await ferryIn(tmp.path, ['verify', copy]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain('sidecar-copy.tar.gz.sha256');
  });

  // A bundle whose every blob hashes to its name and every descriptor matches, but one layer
  // decompresses to something else than its config's diff_id (built in relabel.ts).
  it.each([
    { label: 'a 1 MB layer (busybox)', file: () => two, layer: () => fx.busybox.layers[0]! },
    { label: 'a ~120-byte layer (multi, linux/amd64)', file: () => multi, layer: () => amd64Layer },
  ])('--deep rejects $label whose content does not match its diff_id, naming the layer; docker load agrees', async ({ file, layer, label }) => {
    const original = layer();
    const { entries, renamed } = relabelLayer(await readTar(file()), original, flipFileByteInLayerTar);
    const tampered = join(tmp.path, `diffid-${label.replace(/\W+/g, '-')}.tar.gz`);
    await writeTar(tampered, entries);
    const newLayer = renamed.get(original)!;
    expect(newLayer).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The oracle first: docker decompresses the layers the bundle marks for docker load and
    // refuses the tampered one, so the bundle is bad for a tool ferry did not write.
    await removeAllImages(servers.dockerd);
    const load = await servers.dockerd.docker(['load', '-i', tampered]);
    expect(load.code, `docker load of the tampered bundle:\n${load.stdout}${load.stderr}`).not.toBe(0);

    // Everything but the diff_id still checks out: the tampering is only visible by decompressing.
    const shallow = await ferryIn(tmp.path, ['verify', tampered, '--json']);
    expect(JSON.parse(shallow.stdout || '{}'), shallow.report).toMatchObject({ problems: [] });

    const deep = await ferryIn(tmp.path, ['verify', tampered, '--deep']);
    expect(deep.code, deep.report).toBe(1);
    expect(deep.stderr).toContain(newLayer);
    expect(deep.stderr).toMatch(/diff_id/);

    // ferry load hands the layer to the engine, which refuses it: exit 1, nothing loaded.
    await removeAllImages(servers.dockerd);
    const ferryLoad = await ferryIn(tmp.path, ['load', tampered], { env: { DOCKER_HOST: servers.dockerd.env.DOCKER_HOST } });
    expect(ferryLoad.code, ferryLoad.report).toBe(1);
    expect(await imageIds(servers.dockerd)).toEqual([]);
  });
});

describe('ferry ls on a ferry bundle', () => {
  it('--json lists name, digest, platforms and layer count of every image', async () => {
    const r = await ferryIn(tmp.path, ['ls', two, '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as LsReport;
    expect(report.kind).toBe('ferry');
    expect(report.images.map((i) => ({ name: i.name, digest: i.digest, platforms: i.platforms, layers: i.layers }))).toEqual([
      { name: fx.busybox.ref, digest: fx.busybox.digest, platforms: ['linux/amd64'], layers: fx.busybox.layers.length },
      { name: fx.app.ref, digest: fx.app.digest, platforms: ['linux/amd64'], layers: fx.app.layers.length },
    ]);
    for (const i of report.images) expect(i.size).toBeGreaterThan(0);
  });

  it('--json lists both platforms of the multi-arch index under the index digest', async () => {
    const r = await ferryIn(tmp.path, ['ls', multi, '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as LsReport;
    expect(report.images).toHaveLength(1);
    expect(report.images[0]).toMatchObject({ name: fx.multi.ref, digest: fx.multi.digest, layers: 1 });
    expect([...report.images[0]!.platforms].sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('prints a table with each name and a digest prefix', async () => {
    const r = await ferryIn(tmp.path, ['ls', two]);
    expect(r.code, r.report).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+DIGEST\s+PLATFORMS\s+SIZE\s+LAYERS$/);
    expect(lines.find((l) => l.startsWith(fx.app.ref))).toContain(fx.app.digest.slice(0, 19));
    expect(lines.find((l) => l.startsWith(fx.busybox.ref))).toContain(fx.busybox.digest.slice(0, 19));
  });

  it('reads only the JSON documents at the start: a bundle cut in the middle of its layers still lists', async () => {
    const cut = join(tmp.path, 'cut-for-ls.tar.gz');
    truncateFile(two, cut, 0.5);
    const r = await ferryIn(tmp.path, ['ls', cut, '--json']);
    expect(r.code, r.report).toBe(0);
    expect((JSON.parse(r.stdout) as LsReport).images.map((i) => i.digest)).toEqual([fx.busybox.digest, fx.app.digest]);
    // ...while verify, which reads everything, refuses it.
    const v = await ferryIn(tmp.path, ['verify', cut]);
    expect(v.code, v.report).toBe(1);
  });

  it('the bundle holds what ls says: tar lists a blob for every layer', async () => {
    const listing = await run('tar', ['-tzf', two]);
    expect(listing.code).toBe(0);
    for (const l of [...fx.busybox.layers, ...fx.app.layers]) expect(listing.stdout).toContain(blobEntryName(l));
  });
});
