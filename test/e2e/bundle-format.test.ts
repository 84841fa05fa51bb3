/**
 * Bundle format 2 (docs/bundle-format.md): one gzip member per blob and a table of contents,
 * checked with tools ferry did not write — gzip -t, GNU tar, podman load, skopeo on the plain
 * variant — and what it buys: `push` reads the bundle in place (the cache gets no copy of its
 * layers), a damaged bundle pushes no manifest, and an older single-member gzip bundle still
 * pushes (read through the cache once). The image is made with tar, gzip and skopeo.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { randomFile } from './helpers/layout-image.js';
import { pushLayersImage, type LayersImage } from './helpers/layout-image-layers.js';
import { run, runOk } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { registryDigest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const tmp = suiteTempDir('bundle-format');
let source: Registry;
let img: LayersImage;
let bundle: string;
let plain: string;
let env: NodeJS.ProcessEnv;

/** Files under `dir` of at least `min` bytes, recursively. */
function bigFiles(dir: string, min: number): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...bigFiles(p, min));
    else if (e.isFile() && statSync(p).size >= min) out.push(p);
  }
  return out;
}

beforeAll(async () => {
  source = await startRegistry();
  img = await pushLayersImage(`${source.host}/lab/app:1`, [
    { compression: 'gzip', files: { 'big.bin': randomFile(4 * MiB) } },
    { compression: 'gzip', files: { 'hello.txt': 'hello from format 2\n' } },
  ], tmp.join('img'));
  env = ferryEnv(tmp.join('home'));
  bundle = tmp.join('app.tar.gz');
  plain = tmp.join('app.tar');
  for (const [out, extra] of [[bundle, []], [plain, ['--compression', 'none']]] as const) {
    const s = await runFerry(['save', img.ref, '-o', out, ...extra], { env });
    expect(s.code, describeRun(s)).toBe(0);
  }
});

afterAll(async () => {
  await source?.stop();
});

describe('format 2 read by other tools', () => {
  it('is valid gzip (gzip -t) and one tar whose last entry is the table of contents', async () => {
    await runOk('gzip', ['-t', bundle]);
    const names = (await runOk('tar', ['-tzf', bundle])).trim().split('\n');
    expect(names.slice(0, 5)).toEqual(['oci-layout', 'ferry.json', 'index.json', 'manifest.json', 'repositories']);
    expect(names[names.length - 1]).toBe('ferry-toc.json');
    const file = readFileSync(bundle);
    expect(file.subarray(file.length - 50, file.length - 50 + 4).equals(Buffer.from([0x1f, 0x8b, 0x08, 0x04]))).toBe(true);
    expect(file.subarray(file.length - 50).toString('latin1')).toContain('FERRYTOC');
    const meta = JSON.parse(await runOk('tar', ['-xzOf', bundle, 'ferry.json'])) as { ferryBundleVersion: number };
    expect(meta.ferryBundleVersion).toBe(2);
  });

  it('podman load takes the gzip bundle and gets the image with its config digest', async () => {
    const root = tmp.join('podman');
    const podman = ['--root', join(root, 'root'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
    const load = await run('podman', [...podman, 'load', '-i', bundle]);
    expect(load.code, `podman load:\n${load.stdout}\n${load.stderr}`).toBe(0);
    const config = JSON.parse(await runOk('tar', ['-xzOf', bundle, 'manifest.json'])) as { Config: string }[];
    const id = config[0]!.Config.split('/').pop()!;
    const images = await runOk('podman', [...podman, 'images', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']);
    expect(images).toContain(`sha256:${id} ${source.host}/lab/app:1`);
  });

  it('skopeo reads the plain variant as an OCI archive with the upstream manifest bytes', async () => {
    const raw = await runOk('skopeo', ['inspect', '--raw', `oci-archive:${plain}:1`]);
    expect(`sha256:${createHash('sha256').update(raw).digest('hex')}`).toBe(img.digest);
  });
});

describe('push reads a format-2 bundle in place', () => {
  it('keeps every digest and leaves no copy of the layers in the cache', async () => {
    const target = await startRegistry();
    try {
      const home = tmp.join('push-home');
      const p = await runFerry(['push', bundle, '--to', `${target.host}/mirror`], { env: ferryEnv(home), cwd: tmp.path });
      expect(p.code, describeRun(p)).toBe(0);
      expect(await registryDigest(`${target.host}/mirror/lab/app:1`)).toBe(img.digest);
      expect(p.stderr).not.toMatch(/into the cache/);
      expect(bigFiles(home, MiB), 'the cache holds no layer of the bundle').toEqual([]);
    } finally {
      await target.stop();
    }
  });

  it('a damaged layer pushes no manifest, and the failure names the blob', async () => {
    const target = await startRegistry();
    try {
      const damaged = tmp.join('damaged.tar.gz');
      const file = Buffer.from(readFileSync(bundle));
      // The big layer is a stored member: its bytes are in the file as they are. Flip one.
      const res = await fetch(`http://${source.host}/v2/lab/app/blobs/${img.layers[0]!.digest}`);
      const layer = Buffer.from(await res.arrayBuffer());
      const probe = layer.subarray(2 * MiB, 2 * MiB + 64);
      const at = file.indexOf(probe);
      expect(at, 'the layer bytes are stored in the bundle').toBeGreaterThan(0);
      file[at + 10] = file[at + 10]! ^ 0xff;
      writeFileSync(damaged, file);
      const p = await runFerry(['push', damaged, '--to', `${target.host}/mirror`, '--json'], { env: ferryEnv(tmp.join('damaged-home')), cwd: tmp.path });
      expect(p.code, describeRun(p)).toBe(1);
      expect(p.stderr).toMatch(new RegExp(`${img.layers[0]!.digest.slice(7, 19)}|ferry-toc|truncated or corrupted|calculated`));
      const tags = await fetch(`http://${target.host}/v2/mirror/lab/app/tags/list`);
      expect(tags.status, 'no manifest (so no tag) reached the target').toBe(404);
      const head = await fetch(`http://${target.host}/v2/mirror/lab/app/manifests/${img.digest}`, { method: 'HEAD' });
      expect(head.status).toBe(404);
      const bad = await fetch(`http://${target.host}/v2/mirror/lab/app/blobs/${img.layers[0]!.digest}`, { method: 'HEAD' });
      expect(bad.status, 'the damaged layer is not in the target').toBe(404);
      const report = JSON.parse(p.stdout) as { status: string; images: { status: string; blobs: { uploaded: number } }[] };
      expect(report.status).toBe('failed');
      expect(report.images[0]!.status).toBe('failed');
    } finally {
      await target.stop();
    }
  });

  it('an older gzip bundle (one member, no table of contents) still pushes, through the cache', async () => {
    const target = await startRegistry();
    try {
      const old = tmp.join('old.tar.gz');
      await runOk('sh', ['-c', `gzip -dc '${bundle}' | gzip -n > '${old}'`]);
      const p = await runFerry(['push', old, '--to', `${target.host}/mirror`], { env: ferryEnv(tmp.join('old-home')), cwd: tmp.path });
      expect(p.code, describeRun(p)).toBe(0);
      expect(await registryDigest(`${target.host}/mirror/lab/app:1`)).toBe(img.digest);
    } finally {
      await target.stop();
    }
  });
});
