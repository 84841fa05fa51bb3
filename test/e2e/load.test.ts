/**
 * Acceptance checks for `ferry load` (Engine API over DOCKER_HOST) and for every internal-side
 * command on `docker save` archives: the built CLI against a private dockerd 20.10, with
 * bundles that `ferry save` made from images built with docker. Oracles: `docker image
 * inspect` (IDs are config digests, as the registry's manifests say), `docker run`,
 * `docker events` (whether the engine really loaded or only re-tagged), and for pushed
 * archives `skopeo inspect` and `docker pull` from the target registry.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { APP_TEXT, BUSYBOX_OUTPUT, type Fixtures } from './helpers/fixtures.js';
import { imageEvents, imageIds, inspectImage, removeAllImages } from './helpers/internal-docker.js';
import { accessLog, catalog, logMark, showLines, writes } from './helpers/internal-registry-log.js';
import { ferryIn, saveBundle, startServers, type HomeRun, type Servers } from './helpers/internal-suite.js';
import { readTar, writeTar } from './helpers/internal-tar.js';
import { freePort } from './helpers/ports.js';
import { run } from './helpers/processes.js';
import type { Registry } from './helpers/registry.js';
import { rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('load');
let servers: Servers;
let fx: Fixtures;
let target: Registry;
/** busybox and app, default platform. */
let two: string;
/** The multi-arch index, --platform all. */
let multi: string;
/** `docker save` of busybox and app, plain and gzip. */
let dockerSave: string;
let dockerSaveGz: string;
/** Config digests (= Docker image IDs), from the registry's manifests. */
const config: Record<'busybox' | 'app' | 'amd64' | 'arm64', string> = { busybox: '', app: '', amd64: '', arm64: '' };

async function configOf(ref: string): Promise<string> {
  return (JSON.parse(await rawManifest(ref)) as { config: { digest: string } }).config.digest;
}

beforeAll(async () => {
  servers = await startServers(tmp.path, [{}]);
  fx = servers.fx;
  target = servers.targets[0]!;
  two = await saveBundle(tmp.path, 'two.tar.gz', [fx.busybox.ref, fx.app.ref]);
  multi = await saveBundle(tmp.path, 'multi.tar.gz', [fx.multi.ref], ['--platform', 'all']);
  config.busybox = await configOf(fx.busybox.ref);
  config.app = await configOf(fx.app.ref);
  config.amd64 = await configOf(`${servers.source.host}/${fx.multi.repo}@${fx.multi.amd64}`);
  config.arm64 = await configOf(`${servers.source.host}/${fx.multi.repo}@${fx.multi.arm64}`);
  // The fixtures were built in this dockerd, so it can save them as Docker 20.10 does.
  dockerSave = tmp.join('docker-save.tar');
  await servers.dockerd.dockerOk(['save', '-o', dockerSave, fx.busybox.ref, fx.app.ref]);
  dockerSaveGz = tmp.join('docker-save.tar.gz');
  writeFileSync(dockerSaveGz, gzipSync(readFileSync(dockerSave)));
  await removeAllImages(servers.dockerd);
});

afterAll(async () => {
  await servers?.stop();
});

interface LoadReport {
  command: string;
  status: string;
  engine: string;
  loaded: string[];
  skipped: string[];
  images: { name: string | null; tags: string[]; id: string | null; status: 'loaded' | 'tagged' | 'present' }[];
}

/** name -> status from a load report. */
const statuses = (r: HomeRun): Record<string, string> =>
  Object.fromEntries((JSON.parse(r.stdout) as LoadReport).images.map((i) => [i.name ?? i.id, i.status]));

/** `ferry load args` against the test dockerd. */
function load(args: string[], env: NodeJS.ProcessEnv = {}): Promise<HomeRun> {
  return ferryIn(tmp.path, ['load', ...args], { env: { DOCKER_HOST: servers.dockerd.env.DOCKER_HOST, ...env } });
}

describe('ferry load of a ferry bundle', () => {
  it('loads both images (exit 0): the engine reports the config digests as IDs, with the tags; --json lists them as loaded', async () => {
    const r = await load([two, '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as LoadReport;
    expect(report).toMatchObject({ command: 'load', status: 'ok', engine: servers.dockerd.env.DOCKER_HOST, skipped: [] });
    expect([...report.loaded].sort()).toEqual([fx.app.ref, fx.busybox.ref].sort());
    for (const [ref, id] of [[fx.busybox.ref, config.busybox], [fx.app.ref, config.app]] as const) {
      const img = await inspectImage(servers.dockerd, ref);
      expect(img?.Id, `image ID of ${ref}`).toBe(id);
      expect(img?.RepoTags).toContain(ref);
    }
  });

  it('the loaded images run', async () => {
    const hello = await servers.dockerd.docker(['run', '--rm', '--network', 'none', fx.busybox.ref]);
    expect(hello.code, hello.stderr).toBe(0);
    expect(hello.stdout.trim()).toBe(BUSYBOX_OUTPUT);
    const app = await servers.dockerd.docker(['run', '--rm', '--network', 'none', fx.app.ref]);
    expect(app.code, app.stderr).toBe(0);
    expect(app.stdout).toContain(APP_TEXT);
    expect(app.stdout).toContain(`${fx.app.randomSha256}  /app/random.bin`);
  });

  it('a second load skips both: says "already present", exit 0, --json lists them as present, and the engine loads nothing', async () => {
    const before = await Promise.all([fx.busybox.ref, fx.app.ref].map((r) => inspectImage(servers.dockerd, r)));
    const since = Date.now();
    const r = await load([two, '--json']);
    expect(r.code, r.report).toBe(0);
    expect(r.stderr).toContain(`already present: ${fx.busybox.ref}`);
    expect(r.stderr).toContain(`already present: ${fx.app.ref}`);
    expect(r.stderr).not.toMatch(/^loaded /m);
    const report = JSON.parse(r.stdout) as LoadReport;
    expect(report.loaded).toEqual([]);
    expect([...report.skipped].sort()).toEqual([fx.app.ref, fx.busybox.ref].sort());
    expect(statuses(r)).toEqual({ [fx.busybox.ref]: 'present', [fx.app.ref]: 'present' });
    const events = await imageEvents(servers.dockerd, since);
    expect(events.filter((e) => e.action === 'load'), JSON.stringify(events)).toEqual([]);
    const after = await Promise.all([fx.busybox.ref, fx.app.ref].map((r) => inspectImage(servers.dockerd, r)));
    expect(after.map((i) => [i?.Id, i?.Created])).toEqual(before.map((i) => [i?.Id, i?.Created]));
  });

  it('an image the engine has without its tag gets the tag back without a load, and says "tagged"', async () => {
    await servers.dockerd.dockerOk(['tag', fx.busybox.ref, 'keep/busybox:extra']);
    await servers.dockerd.dockerOk(['image', 'rm', fx.busybox.ref]);
    expect(await inspectImage(servers.dockerd, fx.busybox.ref)).toBeNull();
    const since = Date.now();
    const r = await load([two, '--json']);
    expect(r.code, r.report).toBe(0);
    expect((await inspectImage(servers.dockerd, fx.busybox.ref))?.Id).toBe(config.busybox);
    expect(statuses(r)).toEqual({ [fx.busybox.ref]: 'tagged', [fx.app.ref]: 'present' });
    expect(r.stderr).toContain(`tagged ${fx.busybox.ref}`);
    const events = await imageEvents(servers.dockerd, since);
    expect(events.filter((e) => e.action === 'load'), JSON.stringify(events)).toEqual([]);
    expect(events.some((e) => e.action === 'tag' && e.name === fx.busybox.ref), JSON.stringify(events)).toBe(true);
  });

  it('a tag moved to another image (docker tag) is moved back without a load: "tagged"; a second load says "already present"', async () => {
    await servers.dockerd.dockerOk(['tag', fx.app.ref, fx.busybox.ref]);
    expect((await inspectImage(servers.dockerd, fx.busybox.ref))?.Id).toBe(config.app);
    const since = Date.now();
    const r = await load([two, '--json']);
    expect(r.code, r.report).toBe(0);
    expect((await inspectImage(servers.dockerd, fx.busybox.ref))?.Id, 'the tag names busybox again').toBe(config.busybox);
    expect((await inspectImage(servers.dockerd, fx.app.ref))?.Id).toBe(config.app);
    expect(statuses(r)).toEqual({ [fx.busybox.ref]: 'tagged', [fx.app.ref]: 'present' });
    expect(r.stderr).toContain(`tagged ${fx.busybox.ref}`);
    expect(r.stderr).not.toMatch(/^loaded /m);
    const events = await imageEvents(servers.dockerd, since);
    expect(events.filter((e) => e.action === 'load'), JSON.stringify(events)).toEqual([]);

    const again = await load([two, '--json']);
    expect(again.code, again.report).toBe(0);
    expect(statuses(again)).toEqual({ [fx.busybox.ref]: 'present', [fx.app.ref]: 'present' });
    expect(again.stderr).toContain(`already present: ${fx.busybox.ref}`);
  });

  it('--force loads both again: the engine emits a load event for each', async () => {
    const since = Date.now();
    const r = await load([two, '--force', '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as LoadReport;
    expect([...report.loaded].sort()).toEqual([fx.app.ref, fx.busybox.ref].sort());
    expect(report.skipped).toEqual([]);
    const loads = (await imageEvents(servers.dockerd, since)).filter((e) => e.action === 'load');
    expect(loads.map((e) => e.id).sort()).toEqual([config.app, config.busybox].sort());
  });

  it('without --platform, the multi-arch bundle loads the image it marks for docker load (linux/amd64)', async () => {
    const r = await load([multi]);
    expect(r.code, r.report).toBe(0);
    const img = await inspectImage(servers.dockerd, fx.multi.ref);
    expect(img).toMatchObject({ Id: config.amd64, Architecture: 'amd64', Os: 'linux' });
  });

  it('--platform linux/arm64 loads the arm64 image of the --platform all bundle', async () => {
    const r = await load([multi, '--platform', 'linux/arm64', '--json']);
    expect(r.code, r.report).toBe(0);
    expect((JSON.parse(r.stdout) as LoadReport).loaded).toEqual([fx.multi.ref]);
    const img = await inspectImage(servers.dockerd, fx.multi.ref);
    expect(img).toMatchObject({ Id: config.arm64, Architecture: 'arm64', Os: 'linux' });
  });

  it('--platform the bundle lacks fails with exit 1, naming the platforms it has, and loads nothing', async () => {
    const before = await imageIds(servers.dockerd);
    const r = await load([multi, '--platform', 'linux/s390x']);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain('linux/s390x');
    expect(r.stderr).toContain('linux/arm64');
    expect(await imageIds(servers.dockerd)).toEqual(before);
  });

  it('a bundle read in place (plain tar) with one flipped byte in a layer: exit 1 naming it; the engine loads nothing, not even the sound image', async () => {
    const plain = await saveBundle(tmp.path, 'two-plain.tar', [fx.busybox.ref, fx.app.ref], ['--compression', 'none']);
    const bytes = readFileSync(plain);
    const hex = fx.app.bigLayer.replace('sha256:', '');
    const header = bytes.indexOf(Buffer.from(`blobs/sha256/${hex}\0`));
    expect(header, 'the layer entry in the tar').toBeGreaterThan(0);
    bytes[header + 512 + 1000]! ^= 0xff;
    const damaged = tmp.join('two-plain-damaged.tar');
    writeFileSync(damaged, bytes);
    await removeAllImages(servers.dockerd);
    const since = Date.now();
    const r = await load([damaged]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain(hex);
    expect(r.stderr).toMatch(/^error: /m);
    expect(await imageIds(servers.dockerd), r.report).toEqual([]);
    expect((await imageEvents(servers.dockerd, since)).filter((e) => e.action === 'load'), 'image load events').toEqual([]);
  });

  it.each([
    { label: 'a unix socket that does not exist', host: () => Promise.resolve(`unix://${tmp.join('no-such-docker.sock')}`) },
    { label: 'a tcp port nobody listens on', host: async () => `tcp://127.0.0.1:${await freePort()}` },
  ])('an unreachable DOCKER_HOST ($label) fails with exit 1 and a hint about DOCKER_HOST', async ({ host }) => {
    const dockerHost = await host();
    const r = await ferryIn(tmp.path, ['load', two], { env: { DOCKER_HOST: dockerHost } });
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain(dockerHost);
    expect(r.stderr).toMatch(/hint:.*DOCKER_HOST/);
  });
});

describe('docker save archives (Docker 20.10 legacy layout)', () => {
  let listing: string;

  beforeAll(async () => {
    listing = (await run('tar', ['-tvf', dockerSave])).stdout;
  });

  it('the archive is the legacy layout, with the layer busybox and app share stored once and linked', () => {
    expect(listing).toMatch(/^\S+ .*[0-9a-f]{64}\/layer\.tar -> \.\.\/[0-9a-f]{64}\/layer\.tar$/m);
    expect(listing).toMatch(/ manifest\.json$/m);
    expect(listing).not.toMatch(/ index\.json$/m);
  });

  it.each([
    { label: 'plain', file: () => dockerSave },
    { label: 'gzip', file: () => dockerSaveGz },
  ])('ls --json ($label) lists names, image IDs, platforms and layer counts', async ({ file }) => {
    const r = await ferryIn(tmp.path, ['ls', file(), '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as { images: { name: string; digest: string; platforms: string[]; layers: number }[] };
    const got = report.images.map((i) => ({ name: i.name, digest: i.digest, platforms: i.platforms, layers: i.layers }));
    expect(got.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      [
        { name: fx.app.ref, digest: config.app, platforms: ['linux/amd64'], layers: fx.app.layers.length },
        { name: fx.busybox.ref, digest: config.busybox, platforms: ['linux/amd64'], layers: fx.busybox.layers.length },
      ],
    );
  });

  it.each([
    { label: 'plain', file: () => dockerSave, deep: false },
    { label: 'plain, --deep', file: () => dockerSave, deep: true },
    { label: 'gzip, --deep', file: () => dockerSaveGz, deep: true },
  ])('verify ($label) accepts it', async ({ file, deep }) => {
    const r = await ferryIn(tmp.path, ['verify', file(), ...(deep ? ['--deep'] : []), '--json']);
    expect(r.code, r.report).toBe(0);
    const report = JSON.parse(r.stdout) as { status: string; images: { name: string }[]; checked: { layersDeep: number } };
    expect(report.status).toBe('ok');
    expect(report.images.map((i) => i.name).sort()).toEqual([fx.app.ref, fx.busybox.ref].sort());
    if (deep) expect(report.checked.layersDeep).toBeGreaterThanOrEqual(3);
  });

  it('load restores both images after they were removed, with the same IDs, and they run', async () => {
    await removeAllImages(servers.dockerd);
    const r = await load([dockerSave, '--json']);
    expect(r.code, r.report).toBe(0);
    expect((await inspectImage(servers.dockerd, fx.busybox.ref))?.Id).toBe(config.busybox);
    expect((await inspectImage(servers.dockerd, fx.app.ref))?.Id).toBe(config.app);
    const app = await servers.dockerd.docker(['run', '--rm', '--network', 'none', fx.app.ref]);
    expect(app.code, app.stderr).toBe(0);
    expect(app.stdout).toContain(`${fx.app.randomSha256}  /app/random.bin`);
  });

  it('a second load of the archive reports both as "already present" and the engine loads nothing', async () => {
    const since = Date.now();
    const r = await load([dockerSave, '--json']);
    expect(r.code, r.report).toBe(0);
    expect(statuses(r)).toEqual({ [fx.busybox.ref]: 'present', [fx.app.ref]: 'present' });
    expect(r.stderr).toContain(`already present: ${fx.app.ref}`);
    expect(r.stderr).not.toMatch(/^loaded /m);
    const events = await imageEvents(servers.dockerd, since);
    expect(events.filter((e) => e.action === 'load'), JSON.stringify(events)).toEqual([]);
  });

  it('with a moved tag and a removed image, the archive is loaded: "loaded" for the missing one, "tagged" for the other', async () => {
    await servers.dockerd.dockerOk(['image', 'rm', fx.app.ref]);
    await servers.dockerd.dockerOk(['tag', fx.busybox.ref, 'keep/busybox:extra']);
    await servers.dockerd.dockerOk(['image', 'rm', fx.busybox.ref]);
    const r = await load([dockerSaveGz, '--json']);
    expect(r.code, r.report).toBe(0);
    expect(statuses(r)).toEqual({ [fx.busybox.ref]: 'tagged', [fx.app.ref]: 'loaded' });
    expect(r.stderr).toContain(`loaded ${fx.app.ref}`);
    expect((await inspectImage(servers.dockerd, fx.busybox.ref))?.Id).toBe(config.busybox);
    expect((await inspectImage(servers.dockerd, fx.app.ref))?.Id).toBe(config.app);
  });

  it('push builds manifests, warns that the digests differ from upstream, and docker pulls and runs the result', async () => {
    const r = await ferryIn(tmp.path, ['push', dockerSave, '--to', `${target.host}/from-docker-save`, '--json']);
    expect(r.code, r.report).toBe(0);
    for (const ref of [fx.busybox.ref, fx.app.ref]) {
      const warning = r.stderr.split('\n').find((l) => l.startsWith('warning:') && l.includes(ref));
      expect(warning, r.stderr).toMatch(/differ/);
      expect(warning).toMatch(/upstream/);
    }
    const mapping = JSON.parse(readFileSync(join(r.home, 'docker-save.mapping.json'), 'utf8')) as {
      images: { source: string; target: string; digest: string }[];
    };
    for (const f of [fx.busybox, fx.app]) {
      const m = mapping.images.find((i) => i.source === f.ref);
      expect(m, JSON.stringify(mapping)).toBeDefined();
      const ref = `${target.host}/from-docker-save/${f.repo}:${f.tag}`;
      expect(m!.target).toBe(`${ref}@${m!.digest}`);
      expect(m!.digest).not.toBe(f.digest);
      const raw = await rawManifest(ref);
      expect(sha256(raw), `digest skopeo sees for ${ref}`).toBe(m!.digest);
      const cfg = (JSON.parse(raw) as { config: { digest: string } }).config.digest;
      expect(cfg, 'the config (image ID) is unchanged').toBe(f === fx.app ? config.app : config.busybox);
    }

    await removeAllImages(servers.dockerd);
    const app = `${target.host}/from-docker-save/test/app:1`;
    const pull = await servers.dockerd.docker(['pull', app]);
    expect(pull.code, pull.stderr).toBe(0);
    expect((await inspectImage(servers.dockerd, app))?.Id).toBe(config.app);
    const out = await servers.dockerd.docker(['run', '--rm', '--network', 'none', app]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(APP_TEXT);
    expect(out.stdout).toContain(`${fx.app.randomSha256}  /app/random.bin`);
  });

  describe('a layer.tar with one flipped byte', () => {
    let damaged: string;
    let named: (s: string) => boolean;

    beforeAll(async () => {
      const entries = await readTar(dockerSave);
      // The biggest layer is app's own (random.bin). Put busybox, which is sound, first in
      // manifest.json (docker save's order varies), so an engine that gets the archive loads
      // busybox before it meets the damage: only checking before handing over keeps it clean.
      const manifest = entries.find((e) => e.header.name === 'manifest.json')!;
      const images = JSON.parse(manifest.data.toString('utf8')) as { RepoTags: string[] }[];
      images.sort((a, b) => Number(b.RepoTags.includes(fx.busybox.ref)) - Number(a.RepoTags.includes(fx.busybox.ref)));
      manifest.data = Buffer.from(JSON.stringify(images));
      const biggest = entries.filter((e) => e.header.type === 'file').sort((a, b) => b.data.length - a.data.length)[0]!;
      const data = Buffer.from(biggest.data);
      const at = Math.floor(data.length / 2);
      data[at] = data[at]! ^ 0x01;
      biggest.data = data;
      damaged = tmp.join('docker-save-flipped.tar');
      await writeTar(damaged, entries, false);
      const layerDir = biggest.header.name.split('/')[0]!;
      const flipped = `sha256:${createHash('sha256').update(data).digest('hex')}`;
      // The layer may be named by its directory or by what it hashes to.
      named = (s) => s.includes(layerDir) || s.includes(flipped);
    });

    it('verify rejects it with exit 1, naming the layer', async () => {
      const v = await ferryIn(tmp.path, ['verify', damaged]);
      expect(v.code, v.report).toBe(1);
      expect(named(v.stderr), v.stderr).toBe(true);
    });

    it('push rejects it with exit 1, naming the layer, and the registry gets no write', async () => {
      const mark = logMark(target);
      const p = await ferryIn(tmp.path, ['push', damaged, '--to', `${target.host}/damaged`]);
      expect(p.code, p.report).toBe(1);
      expect(named(p.stderr), p.stderr).toBe(true);
      expect(showLines(writes(accessLog(target, mark)))).toBe('');
      expect((await catalog(target)).filter((r) => r.startsWith('damaged/'))).toEqual([]);
    });

    it('load fails with exit 1 and the engine loads nothing, not even the sound image listed first', async () => {
      await removeAllImages(servers.dockerd);
      const l = await load([damaged]);
      expect(l.code, l.report).toBe(1);
      expect(await imageIds(servers.dockerd), l.report).toEqual([]);
    });
  });
});
