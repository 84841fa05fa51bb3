/**
 * Volumes (`save`/`export --split SIZE`, docs/bundle-format.md "Volumes"): a bundle of ~3 MiB
 * of random layers split into 1 MB volumes. Checked with tools ferry did not write: the
 * volumes' concatenation (`cat NAME.0*`) is one bundle for gzip -t, GNU tar and `docker load`
 * (a private dockerd); `sha256sum -c` reads the set's checksum file; skopeo gives the registry
 * digests after `ferry push` of the set. Each volume verifies alone and a damaged one is named;
 * `ferry serve` of the set answers a blob that spans volumes; an unchanged re-export leaves the
 * volumes as they were. The image is made with tar, gzip and skopeo.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { randomFile } from './helpers/layout-image.js';
import { pushLayersImage, type LayersImage } from './helpers/layout-image-layers.js';
import { run, runOk } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { startServe, type Served } from './helpers/serve.js';
import { registryDigest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const MiB = 1024 * 1024;
const tmp = suiteTempDir('volumes');
let source: Registry;
let img: LayersImage;
let env: NodeJS.ProcessEnv;
/** The set's name (`app.tar.gz`), in its own directory. */
let set: string;
let dir: string;

const volumes = (d: string, name = 'app.tar.gz'): string[] => readdirSync(d).filter((n) => /^app\.tar\.gz\.\d{3}$/.test(n) && n.startsWith(name)).sort().map((n) => join(d, n));
const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

beforeAll(async () => {
  source = await startRegistry();
  img = await pushLayersImage(`${source.host}/lab/app:1`, [
    { compression: 'gzip', files: { 'big.bin': randomFile(1.7 * MiB) } },
    { compression: 'gzip', files: { 'more.bin': randomFile(1.3 * MiB) } },
    { compression: 'gzip', files: { 'hello.txt': 'hello from a volume\n' } },
  ], tmp.join('img'));
  env = ferryEnv(tmp.join('home'));
  dir = tmp.join('set');
  mkdirSync(dir);
  set = join(dir, 'app.tar.gz');
  const s = await runFerry(['save', img.ref, '-o', set, '--split', '1M'], { env });
  expect(s.code, describeRun(s)).toBe(0);
  expect(s.stderr).toMatch(/wrote .*app\.tar\.gz\.001 \.\. app\.tar\.gz\.00\d: \d volumes \(/);
}, 300_000);

afterAll(async () => {
  await source?.stop();
});

describe('save --split', () => {
  it('writes at least 3 volumes of at most 1 MB each, and one checksum file that sha256sum -c reads', async () => {
    const v = volumes(dir);
    expect(v.length).toBeGreaterThanOrEqual(3);
    for (const p of v) expect(statSync(p).size).toBeLessThanOrEqual(1_000_000);
    expect(readdirSync(dir).filter((n) => n.endsWith('.partial'))).toEqual([]);
    const check = await runOk('sha256sum', ['-c', 'app.tar.gz.sha256'], { cwd: dir });
    expect(check.trim().split('\n')).toEqual(v.map((p) => `${p.slice(dir.length + 1)}: OK`));
  });

  it('concatenates (cat NAME.0*) to one bundle: gzip -t and tar -tz read it', async () => {
    await runOk('sh', ['-c', 'cat app.tar.gz.0* | gzip -t'], { cwd: dir });
    const names = (await runOk('sh', ['-c', 'cat app.tar.gz.0* | tar -tz'], { cwd: dir })).trim().split('\n');
    expect(names.slice(0, 5)).toEqual(['oci-layout', 'ferry.json', 'index.json', 'manifest.json', 'repositories']);
    for (const l of img.layers) expect(names).toContain(`blobs/sha256/${l.digest.slice(7)}`);
    expect(names[names.length - 1]).toBe('ferry-toc.json');
  });

  it('refuses a SIZE below 1M and --split with --compression none (exit 2)', async () => {
    for (const extra of [['--split', '999K'], ['--split', 'lots'], ['--split', '1M', '--compression', 'none']]) {
      const r = await runFerry(['save', img.ref, '-o', tmp.join('x.tar.gz'), ...extra], { env });
      expect(r.code, describeRun(r)).toBe(2);
      expect(r.stderr).toMatch(/^error: --split/m);
    }
  });
});

describe('verify of volumes', () => {
  it('each volume verifies alone; the set verifies as one bundle through its name', async () => {
    for (const [i, p] of volumes(dir).entries()) {
      const r = await runFerry(['verify', p], { env });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).toContain(`ok (volume ${i + 1} of set`);
      expect(r.stderr).toContain('sidecar ok');
    }
    const whole = await runFerry(['verify', set], { env });
    expect(whole.code, describeRun(whole)).toBe(0);
    expect(whole.stderr).toMatch(/ok \(ferry, \d volumes, 1 image/);
    expect(whole.stderr).toContain('sidecar ok');
  });

  it('a byte changed in volume 2: verify of volume 2 fails naming it, volumes 1 and 3 pass, the set fails', async () => {
    const bad = tmp.join('bad');
    mkdirSync(bad);
    for (const p of [...volumes(dir), `${set}.sha256`]) copyFileSync(p, join(bad, p.slice(dir.length + 1)));
    const v = volumes(bad);
    const b = readFileSync(v[1]!);
    b[Math.floor(b.length / 2)]! ^= 0x55;
    writeFileSync(v[1]!, b);
    const two = await runFerry(['verify', v[1]!], { env });
    expect(two.code, describeRun(two)).toBe(1);
    expect(two.stderr).toMatch(/^error: volume 2 \(.*app\.tar\.gz\.002\) failed verification/m);
    expect(two.stderr).toContain('app.tar.gz.sha256 says');
    expect(two.stderr).toMatch(/hint: copy app\.tar\.gz\.002 again/);
    for (const p of [v[0]!, v[2]!]) {
      const r = await runFerry(['verify', p], { env });
      expect(r.code, `${p}: ${describeRun(r)}`).toBe(0);
    }
    const whole = await runFerry(['verify', join(bad, 'app.tar.gz')], { env });
    expect(whole.code, describeRun(whole)).toBe(1);
    expect(whole.stderr).toMatch(/volume 2 \(app\.tar\.gz\.002\) does not match app\.tar\.gz\.sha256/);
  });

  it('a set with a missing volume is refused, naming it; a later volume names the first', async () => {
    const gap = tmp.join('gap');
    mkdirSync(gap);
    const v = volumes(dir);
    for (const p of v.filter((_, i) => i !== 1)) copyFileSync(p, join(gap, p.slice(dir.length + 1)));
    const r = await runFerry(['ls', join(gap, 'app.tar.gz.001')], { env });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain('app.tar.gz.002 is missing');
    const later = await runFerry(['push', v[1]!, '--to', `${source.host}/x`], { env });
    expect(later.code, describeRun(later)).toBe(2);
    expect(later.stderr).toMatch(/is volume 2 of the set app\.tar\.gz: a set is read from its first volume/);
  });
});

describe('other tools and commands read the set', () => {
  let dockerd: Dockerd;
  beforeAll(async () => {
    dockerd = await startDockerd();
  }, 120_000);
  afterAll(async () => {
    await dockerd?.stop();
  });

  it('cat NAME.0* | docker load loads the image', async () => {
    const r = await run('sh', ['-c', 'cat app.tar.gz.0* | docker load'], { cwd: dir, env: dockerd.env });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain(`Loaded image: ${source.host}/lab/app:1`);
    await dockerd.dockerOk(['rmi', `${source.host}/lab/app:1`]);
  });

  it('ferry load of the first volume loads the image', async () => {
    const r = await runFerry(['load', join(dir, 'app.tar.gz.001')], { env: { ...env, DOCKER_HOST: dockerd.env.DOCKER_HOST } });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`loaded ${source.host}/lab/app:1`);
  });

  it('ferry ls of the first volume and of the set\'s name list the image; inspect of the first volume shows it', async () => {
    for (const p of [join(dir, 'app.tar.gz.001'), set]) {
      const r = await runFerry(['ls', p], { env });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stdout).toContain(`${source.host}/lab/app:1`);
    }
    const i = await runFerry(['inspect', join(dir, 'app.tar.gz.001'), '--json'], { env });
    expect(i.code, describeRun(i)).toBe(0);
    expect(i.stdout).toContain(img.digest);
  });

  it('ferry push of the set keeps the registry digests, read in place', async () => {
    const target = await startRegistry();
    try {
      const r = await runFerry(['push', join(dir, 'app.tar.gz.001'), '--to', `${target.host}/mirror`, '--mapping-file', tmp.join('mapping.json')], { env: ferryEnv(tmp.join('push-home')) });
      expect(r.code, describeRun(r)).toBe(0);
      expect(r.stderr).not.toContain('into the cache');
      expect(await registryDigest(`${target.host}/mirror/lab/app:1`)).toBe(img.digest);
    } finally {
      await target.stop();
    }
  });

  it('ferry serve of the set answers a blob that spans volumes with its bytes, and ranges of it', async () => {
    let served: Served | undefined;
    try {
      served = await startServe([set], ferryEnv(tmp.join('serve-home')), tmp.join('serve.log'));
      expect(served.log()).not.toContain('into the cache');
      const big = img.layers.reduce((a, b) => (a.size >= b.size ? a : b));
      expect(big.size).toBeGreaterThan(1_000_000); // larger than a volume: it spans two at least
      const res = await fetch(`${served.url}/v2/lab/app/blobs/${big.digest}`);
      expect(res.status).toBe(200);
      const whole = Buffer.from(await res.arrayBuffer());
      expect(sha(whole)).toBe(big.digest);
      const part = await fetch(`${served.url}/v2/lab/app/blobs/${big.digest}`, { headers: { range: 'bytes=900000-1100000' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(900_000, 1_100_001))).toBe(true);
    } finally {
      await served?.daemon.stop();
    }
  });
});

describe('export --split', () => {
  it('an unchanged re-export leaves every volume untouched; a damaged volume is rewritten', async () => {
    const m = tmp.join('app.yaml');
    writeFileSync(m, ['bundle: app', 'images:', `  - ${img.ref}`, ''].join('\n'));
    const out = tmp.join('export', 'app.tar.gz');
    const first = await runFerry(['export', m, '-o', out, '--split', '1M'], { env });
    expect(first.code, describeRun(first)).toBe(0);
    const d = tmp.join('export');
    const v = volumes(d);
    expect(v.length).toBeGreaterThanOrEqual(3);
    const before = v.map((p) => ({ mtime: statSync(p).mtimeMs, bytes: readFileSync(p) }));
    const again = await runFerry(['export', m, '-o', out, '--split', '1M'], { env });
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.stderr).toContain('unchanged');
    v.forEach((p, i) => {
      expect(statSync(p).mtimeMs, p).toBe(before[i]!.mtime);
      expect(readFileSync(p).equals(before[i]!.bytes), p).toBe(true);
    });
    // Another SIZE is another set.
    const other = await runFerry(['export', m, '-o', out, '--split', '1.5M'], { env });
    expect(other.code, describeRun(other)).toBe(0);
    expect(other.stderr).not.toContain('unchanged');
    const back = await runFerry(['export', m, '-o', out, '--split', '1M'], { env });
    expect(back.code, describeRun(back)).toBe(0);
    expect(volumes(d).length).toBe(v.length);
    // The same inputs give the same volumes.
    v.forEach((p, i) => expect(readFileSync(p).equals(before[i]!.bytes), p).toBe(true));
    // A damaged volume: the set is written again, the same bytes.
    const b = readFileSync(v[1]!);
    b[Math.floor(b.length / 2)]! ^= 1;
    writeFileSync(v[1]!, b);
    const fix = await runFerry(['export', m, '-o', out, '--split', '1M'], { env });
    expect(fix.code, describeRun(fix)).toBe(0);
    expect(fix.stderr).toMatch(/app\.tar\.gz\.002 \(volume 2\) does not match its line in app\.tar\.gz\.sha256.*rewriting/);
    expect(readFileSync(v[1]!).equals(before[1]!.bytes)).toBe(true);
  });
});
