/**
 * Differential bundles: the receiving side's inventory (`ferry inventory --registry`, or of the
 * bundles it imported) travels back; `export --have` / `save --have` then carry only the layers
 * it lacks. Checked against real registries: the new image's digests in the target equal the
 * source's (skopeo inspect --raw), a push to a registry that lacks the expected blobs stops
 * before any manifest, and load refuses. Images made with tar, gzip and skopeo, two of them
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
import { registryDigest } from './helpers/skopeo.js';
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

  it('load refuses a differential bundle before contacting the engine', async () => {
    const r = await runFerry(['load', bundle], { env: { ...env, DOCKER_HOST: `unix://${tmp.join('none.sock')}` } });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toMatch(/is a differential bundle: 1 of its layers are not in it/);
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
