/**
 * zstd layers end to end: images made without docker and without ferry (GNU tar, the `zstd`
 * binary, a script for config and OCI manifest, skopeo into a real registry) are saved, checked
 * with `verify --deep` (which decompresses every layer, zstd included, and checks its diff_id)
 * and pushed to a second registry, where skopeo must see the source's manifest digest.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayersImage, type LayersImage } from './helpers/layout-image-layers.js';
import { randomFile } from './helpers/layout-image.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { registryDigest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('zstd');
let source: Registry;
let target: Registry;
let zstdOnly: LayersImage;
let mixed: LayersImage;
let wrongDiffId: LayersImage;
let truncated: LayersImage;

let n = 0;
const fresh = (label: string): string => {
  const d = tmp.join(`${label}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

beforeAll(async () => {
  source = await startRegistry();
  target = await startRegistry();
  zstdOnly = await pushLayersImage(`${source.host}/test/zstd:1`, [{ compression: 'zstd', files: { 'big.bin': randomFile(3 * 1024 * 1024), hello: 'zstd\n' } }], fresh('img'));
  mixed = await pushLayersImage(
    `${source.host}/test/mixed:1`,
    [
      { compression: 'gzip', files: { base: 'gzip layer\n'.repeat(1000) } },
      { compression: 'zstd', files: { app: randomFile(200 * 1024), conf: 'zstd layer\n' } },
    ],
    fresh('img'),
  );
  wrongDiffId = await pushLayersImage(
    `${source.host}/test/wrong-diffid:1`,
    [{ compression: 'zstd', files: { hello: 'valid zstd, wrong diff_id\n' }, diffId: `sha256:${'ab'.repeat(32)}` }],
    fresh('img'),
  );
  truncated = await pushLayersImage(`${source.host}/test/truncated:1`, [{ compression: 'zstd', files: { data: randomFile(100 * 1024) }, truncate: 50 * 1024 }], fresh('img'));
});

afterAll(async () => {
  await source?.stop();
  await target?.stop();
});

let lastSaveStderr = '';

async function save(refs: string[]): Promise<string> {
  const dir = fresh('save');
  const out = `${dir}/bundle.tar.gz`;
  const r = await runFerry(['save', ...refs, '-o', out], { env: ferryEnv(dir) });
  expect(r.code, describeRun(r)).toBe(0);
  lastSaveStderr = r.stderr;
  return out;
}

describe('zstd layers', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = await save([zstdOnly.ref, mixed.ref]);
  });

  it('save warns that docker load of the bundle needs Docker Engine 23 or later', () => {
    expect(lastSaveStderr).toMatch(/warning: 2 images have zstd-compressed layers .*needs Docker Engine 23\.0 or later/);
  });

  it('verify --deep accepts a bundle of zstd and mixed gzip+zstd images and counts every layer', async () => {
    const r = await runFerry(['verify', '--deep', bundle], { env: ferryEnv(fresh('verify')) });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout + r.stderr).toContain(', 3 layers decompressed,');
    const j = await runFerry(['verify', '--deep', '--json', bundle], { env: ferryEnv(fresh('verify')) });
    expect(j.code, describeRun(j)).toBe(0);
    const report = JSON.parse(j.stdout) as { status: string; checked: { layersDeep: number }; problems: string[] };
    expect(report).toMatchObject({ status: 'ok', checked: { layersDeep: 3 }, problems: [] });
  });

  it('push carries zstd layers unchanged: the target serves the source manifest digest', async () => {
    const dir = fresh('push');
    const r = await runFerry(['push', bundle, '--to', `${target.host}/mirror`, '--mapping-file', `${dir}/map.json`], { env: ferryEnv(dir) });
    expect(r.code, describeRun(r)).toBe(0);
    expect(await registryDigest(`${target.host}/mirror/test/zstd:1`)).toBe(zstdOnly.digest);
    expect(await registryDigest(`${target.host}/mirror/test/mixed:1`)).toBe(mixed.digest);
  });

  it('verify --deep reports a valid zstd layer whose config diff_id is wrong; plain verify does not look', async () => {
    const b = await save([wrongDiffId.ref]);
    const layer = wrongDiffId.layers[0]!;
    const shallow = await runFerry(['verify', b], { env: ferryEnv(fresh('verify')) });
    expect(shallow.code, describeRun(shallow)).toBe(0);
    const r = await runFerry(['verify', '--deep', b], { env: ferryEnv(fresh('verify')) });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(`layer ${layer.digest} decompresses to `);
    expect(r.stderr).toContain(`the config's diff_id is ${layer.diffId} (--deep)`);
    // The decompressed digest is the real tar's, not the compressed blob's own digest.
    expect(r.stderr).not.toContain(`decompresses to ${layer.digest}`);
  });

  it('verify --deep reports a zstd layer that ends early, naming the layer', async () => {
    const b = await save([truncated.ref]);
    const layer = truncated.layers[0]!;
    const r = await runFerry(['verify', '--deep', b], { env: ferryEnv(fresh('verify')) });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(`layer ${layer.digest} (blobs/sha256/${layer.digest.slice(7)}): the layer does not decompress: the zstd data ends early (truncated) (--deep)`);
  });
});
