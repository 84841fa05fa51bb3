/**
 * Differential bundles: the receiving side's inventory (`ferry inventory --registry`, or of the
 * bundles it imported) travels back; `export --have` / `save --have` then carry only the layers
 * it lacks. Checked against real registries: the new image's digests in the target equal the
 * source's (skopeo inspect --raw), a push to a registry that lacks the expected blobs stops
 * before any manifest; load refuses unless the engine or a --base bundle holds the layers it
 * builds on (a real dockerd); serve needs the full bundle beside it (skopeo pulls). Images made with tar, gzip and skopeo, two of them
 * sharing their first (big) layer byte for byte.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { randomFile } from './helpers/layout-image.js';
import { pushLayersImage, type LayersImage } from './helpers/layout-image-layers.js';
import { runOk } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { rawManifest, registryDigest, sha256 } from './helpers/skopeo.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { startServe } from './helpers/serve.js';
import { suiteTempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const tmp = suiteTempDir('differential');
let source: Registry;
let target: Registry;
let empty: Registry;
let v1: LayersImage;
let v2: LayersImage;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  [source, target, empty] = await Promise.all([startRegistry(), startRegistry(), startRegistry()]);
  const base = { compression: 'gzip' as const, files: { 'base.bin': randomFile(6 * MiB) } };
  v1 = await pushLayersImage(`${source.host}/team/app:1`, [base, { compression: 'gzip', files: { 'v.txt': 'one\n' } }], tmp.join('v1'));
  v2 = await pushLayersImage(`${source.host}/team/app:2`, [base, { compression: 'gzip', files: { 'v.txt': 'two\n' } }], tmp.join('v2'));
  expect(v2.layers[0]!.digest, 'the fixture images share their base layer').toBe(v1.layers[0]!.digest);
  env = ferryEnv(tmp.join('home'));
  // The receiving side already has v1: a full bundle, pushed.
  const full = tmp.join('v1.tar.gz');
  const s = await runFerry(['save', v1.ref, '-o', full], { env });
  expect(s.code, describeRun(s)).toBe(0);
  const p = await runFerry(['push', full, '--to', `${target.host}/mirror`], { env, cwd: tmp.path });
  expect(p.code, describeRun(p)).toBe(0);
});

afterAll(async () => {
  await Promise.all([source?.stop(), target?.stop(), empty?.stop()]);
});

const entries = async (bundle: string): Promise<string[]> => (await runOk('tar', ['-tzf', bundle])).split('\n').filter(Boolean);

describe('differential bundles from a receiving side inventory', () => {
  let have: string;
  let bundle: string;

  beforeAll(async () => {
    have = tmp.join('have.json');
    const inv = await runFerry(['inventory', '--registry', `${target.host}/mirror`, '-o', have], { env });
    expect(inv.code, describeRun(inv)).toBe(0);
    const m = tmp.join('app.yaml');
    writeFileSync(m, ['bundle: app', 'images:', `  - ${v2.ref}`, ''].join('\n'));
    const e = await runFerry(['export', m, '--have', have, '-o', tmp.join('app-2-diff.tar.gz')], { env, cwd: tmp.path });
    expect(e.code, describeRun(e)).toBe(0);
    expect(e.stderr).toMatch(/differential: 1 layer \(\d+ bytes\) expected on the receiving side/);
    bundle = tmp.join('app-2-diff.tar.gz');
  });

  it('the inventory lists the pushed image\'s manifest and blobs, sorted, with its format version', () => {
    const doc = JSON.parse(readFileSync(have, 'utf8')) as { ferryInventoryVersion: number; manifests: string[]; blobs: string[] };
    expect(doc.ferryInventoryVersion).toBe(1);
    expect(doc.manifests).toContain(v1.digest);
    expect(doc.blobs).toEqual(expect.arrayContaining(v1.layers.map((l) => l.digest)));
    expect([...doc.blobs].sort()).toEqual(doc.blobs);
  });

  it('the differential bundle holds the new layer, the config and the manifest, not the base layer; it is much smaller', async () => {
    const names = await entries(bundle);
    expect(names).not.toContain(`blobs/sha256/${v2.layers[0]!.digest.slice(7)}`);
    expect(names).toContain(`blobs/sha256/${v2.layers[1]!.digest.slice(7)}`);
    expect(names).toContain(`blobs/sha256/${v2.digest.slice(7)}`);
    expect(statSync(bundle).size).toBeLessThan(v2.layers[0]!.size / 4);
    const meta = JSON.parse(await runOk('tar', ['-xzOf', bundle, 'ferry.json'])) as { images: { expectedLayers?: string[] }[] };
    expect(meta.images[0]!.expectedLayers).toEqual([v2.layers[0]!.digest]);
  });

  it('verify passes and says what it expects on the target', async () => {
    const r = await runFerry(['verify', bundle], { env });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain('differential: 1 blob expected on the target');
  });

  it('push into the registry it was made for: exit 0, the digest equals upstream', async () => {
    const r = await runFerry(['push', bundle, '--to', `${target.host}/mirror`], { env, cwd: tmp.path });
    expect(r.code, describeRun(r)).toBe(0);
    expect(await registryDigest(`${target.host}/mirror/team/app:2`)).toBe(v2.digest);
  });

  it('push into a registry that lacks the expected blob: exit 1 naming it, before any manifest', async () => {
    const r = await runFerry(['push', bundle, '--to', `${empty.host}/mirror`, '--json'], { env, cwd: tmp.path });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(v2.layers[0]!.digest);
    expect(r.stderr).toMatch(/lacks 1 blob this differential bundle expects there, so nothing was pushed/);
    const catalog = (await (await fetch(`http://${empty.host}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories).toEqual([]);
  });

  describe('load into a Docker engine', () => {
    let dockerd: Dockerd;
    let load: (args: string[]) => ReturnType<typeof runFerry>;
    let configDigest: string;
    const tag = (): string => v2.ref;
    const images = async (): Promise<string[]> => (await dockerd.dockerOk(['images', '-q', '--no-trunc'])).split('\n').filter(Boolean);

    beforeAll(async () => {
      dockerd = await startDockerd();
      load = (args) => runFerry(['load', ...args], { env: { ...env, DOCKER_HOST: dockerd.env.DOCKER_HOST } });
      configDigest = (JSON.parse(await rawManifest(v2.ref)) as { config: { digest: string } }).config.digest;
    });
    afterAll(async () => {
      await dockerd?.stop();
    });

    it('into an engine without the base layer: exit 1 naming the layer, nothing loaded', async () => {
      const r = await load([bundle]);
      expect(r.code, describeRun(r)).toBe(1);
      expect(r.stderr).toMatch(/is a differential bundle, and 1 layer it builds on is not in the Docker engine at unix:\/\/\S+, so nothing was loaded/);
      expect(r.stderr).toContain(`${v2.layers[0]!.digest} (layer 1 of ${tag()})`);
      expect(r.stderr).toContain('--base');
      expect(await images()).toEqual([]);
    });

    it('--base naming a bundle without the layer: exit 1 naming it, nothing loaded', async () => {
      const r = await load([bundle, '--base', bundle]);
      expect(r.code, describeRun(r)).toBe(1);
      expect(r.stderr).toMatch(/neither in the Docker engine at .* nor in the --base bundles/);
      expect(r.stderr).toContain(v2.layers[0]!.digest);
      expect(await images()).toEqual([]);
    });

    it('--base naming a damaged copy of the full bundle: exit 1 naming it, the engine loads nothing', async () => {
      const damaged = tmp.join('v1-damaged.tar.gz');
      const bytes = readFileSync(tmp.join('v1.tar.gz'));
      bytes[Math.floor(bytes.length / 2)]! ^= 0xff; // inside the 6 MiB base layer
      writeFileSync(damaged, bytes);
      const r = await load([bundle, '--base', damaged]);
      expect(r.code, describeRun(r)).toBe(1);
      expect(r.stderr).toContain('v1-damaged.tar.gz');
      expect(await images()).toEqual([]);
    });

    it('--base FULL into an empty engine: the image loads whole, its ID is the config digest', async () => {
      const r = await load([bundle, '--base', tmp.join('v1.tar.gz')]);
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).toContain('1 layer it builds on comes from --base');
      expect((await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', tag()])).trim()).toBe(configDigest);
      const layers = JSON.parse(await dockerd.dockerOk(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', tag()])) as string[];
      expect(layers).toEqual(v2.layers.map((l) => l.diffId));
      // Back to an empty engine for the next test.
      await dockerd.dockerOk(['rmi', tag()]);
      expect(await images()).toEqual([]);
    });

    it('into an engine that has the base image (the full v1 bundle loaded first): loads without --base, right ID', async () => {
      const full = await load([tmp.join('v1.tar.gz')]);
      expect(full.code, describeRun(full)).toBe(0);
      const r = await load([bundle, '--json']);
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).toContain('the engine already holds the other 1 layer it builds on');
      expect((JSON.parse(r.stdout) as { images: { status: string; id: string }[] }).images).toEqual([expect.objectContaining({ status: 'loaded', id: configDigest })]);
      expect((await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', tag()])).trim()).toBe(configDigest);
      const layers = JSON.parse(await dockerd.dockerOk(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', tag()])) as string[];
      expect(layers).toEqual(v2.layers.map((l) => l.diffId));
      // v1 is still there, with its own top layer.
      expect(await images()).toHaveLength(2);
      // What docs/bundle-format.md says of a plain `docker load`: the engine reuses the layer it holds.
      expect(await dockerd.dockerOk(['load', '-i', bundle])).toContain(`Loaded image: ${tag()}`);
    });
  });

  describe('serve', () => {
    it('the differential bundle alone: exit 1 naming the layer it lacks, nothing served', async () => {
      const r = await runFerry(['serve', '--listen', '127.0.0.1:0', bundle], { env });
      expect(r.code, describeRun(r)).toBe(1);
      expect(r.stderr).toMatch(/app-2-diff\.tar\.gz is a differential bundle, and 1 layer it builds on is in none of the bundles served/);
      expect(r.stderr).toContain(v2.layers[0]!.digest);
      expect(r.stderr).toMatch(/hint: serve it together with the full bundle/);
      expect(r.stderr).not.toMatch(/serving \d+ image/);
    });

    it('with the full bundle it builds on: skopeo copies v2 with upstream\'s digests, the base layer from the full bundle', async () => {
      const served = await startServe([bundle, tmp.join('v1.tar.gz')], ferryEnv(tmp.join('serve-home')), tmp.join('serve.log'));
      try {
        const ref = `docker://${served.host}/team/app:2`;
        expect(await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', ref])).toBe(await rawManifest(v2.ref));
        const dir = tmp.join('skopeo-v2');
        await runOk('skopeo', ['copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', ref, `oci:${dir}:x`]);
        const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
        expect(index.manifests[0]!.digest).toBe(v2.digest);
        for (const l of v2.layers) expect(sha256(readFileSync(join(dir, 'blobs', 'sha256', l.digest.slice(7))))).toBe(l.digest);
        expect(served.log()).toMatch(new RegExp(`GET /v2/team/app/blobs/${v2.layers[0]!.digest} 200`));
      } finally {
        await served.daemon.stop();
      }
    });
  });

  it('an inventory of bundles works the same: save --have with the imported bundle\'s inventory', async () => {
    const bundleHave = tmp.join('have-bundles.json');
    const inv = await runFerry(['inventory', tmp.join('v1.tar.gz'), '-o', bundleHave], { env });
    expect(inv.code, describeRun(inv)).toBe(0);
    const out = tmp.join('saved-diff.tar.gz');
    const s = await runFerry(['save', v2.ref, '--have', bundleHave, '-o', out], { env });
    expect(s.code, describeRun(s)).toBe(0);
    expect(await entries(out)).not.toContain(`blobs/sha256/${v2.layers[0]!.digest.slice(7)}`);
  });

  it('a have.json that is not an inventory is exit 2 naming the file', async () => {
    const bad = tmp.join('bad-have.json');
    writeFileSync(bad, '{"blobs": []}');
    const r = await runFerry(['save', v2.ref, '--have', bad, '-o', join(tmp.path, 'x.tar.gz')], { env });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toMatch(/--have .*bad-have\.json: not an inventory ferry can read/);
  });
});
