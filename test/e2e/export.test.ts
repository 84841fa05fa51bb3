/**
 * Acceptance checks for `ferry export MANIFEST.yaml` and `ferry cache`, as a new user meets
 * them: the built CLI as a child process against a real distribution registry on loopback,
 * with the registry's access log, a recording fault proxy and a proxy that can hold a download
 * mid-body as witnesses, and docker (load on a private dockerd), skopeo, tar and sha256sum as
 * oracles. Every image is built with docker or copied with skopeo, never with ferry.
 *
 * Each describe block works in its own directory (manifest, lock, bundles/, cache), so blocks
 * do not depend on each other; tests inside a block run in order and build on each other where
 * the scenario is a sequence (first run, second run, --force).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBundle, type ExtractedBundle } from './helpers/bundle.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { accessMark, accessSince, describeAccess } from './helpers/export-access-log.js';
import { startFerryInBackground, type BackgroundFerry } from './helpers/export-background.js';
import { buildFileImage, buildMultiArch, copyAsOci, registryOracle, type BuiltImage, type ImageOracle } from './helpers/export-images.js';
import { startSlowProxy, type SlowProxy } from './helpers/export-slow-proxy.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { buildFixtures, type Fixtures } from './helpers/fixtures.js';
import { run, type RunResult } from './helpers/processes.js';
import { startProxy, type FaultProxy } from './helpers/proxy.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { copyImage, registryDigest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
/** The crash-resume image: one layer of random bytes (gzip cannot shrink it). */
const BIG_FILE_BYTES = 64 * MiB;

const tmp = suiteTempDir('export');
let dockerd: Dockerd;
let reg: Registry;
let proxy: FaultProxy;
let slow: SlowProxy;
let fx: Fixtures;
let small: { a: BuiltImage; b: BuiltImage; c: BuiltImage; d: BuiltImage };
/** Pinned by digest in the dozen-image manifest. */
let api: BuiltImage;
/** A second two-platform index, every digest its own. */
let multi2: string;
/** Same layers as busybox / app, other manifests: an OCI-format copy and a labelled rebuild. */
let busyboxOci: string;
let busyboxLabelled: BuiltImage;
let appOci: string;
let big: BuiltImage;
/** The big image's only layer. */
let bigLayer: { digest: string; size: number };
const background: BackgroundFerry[] = [];

/** The registry host, shortcut for building references. */
const H = (): string => reg.host;

beforeAll(async () => {
  const started = await Promise.allSettled([startDockerd(), startRegistry()]);
  [dockerd, reg] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined)) as [Dockerd, Registry];
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  fx = await buildFixtures(dockerd, reg.host, tmp.join('fixtures'));
  const img = (name: string, files: Record<string, string | Buffer>) =>
    buildFileImage(dockerd, `${reg.host}/${name}`, files, tmp.join('images', name.replace(/[/:]/g, '_')));
  small = {
    a: await img('test/small-a:1', { 'a.txt': 'small image a\n' }),
    b: await img('test/small-b:1', { 'b.txt': 'small image b\n', 'b2.txt': 'second layer of b\n' }),
    c: await img('test/small-c:1', { 'c.bin': randomBytes(64 * 1024) }),
    d: await img('test/small-d:2', { 'd.txt': 'small image d\n' }),
  };
  api = await img('test/api:1.4', { 'api.txt': 'the api\n' });
  multi2 = await buildMultiArch(dockerd, `${reg.host}/test/multi2:1`, 'multi2', tmp.join('images', 'multi2'));
  // busybox and app again, sharing their layers: converted to OCI manifests by skopeo, and a
  // rebuild with a label; and a byte-identical copy (same digest) under another repository.
  busyboxOci = await copyAsOci(fx.busybox.ref, `${reg.host}/test/copies/busybox:oci`);
  appOci = await copyAsOci(fx.app.ref, `${reg.host}/other/app:oci`);
  busyboxLabelled = await buildFileImage(dockerd, `${reg.host}/test/copies/busybox:labelled`, {}, tmp.join('images', 'labelled'), {
    from: fx.busybox.ref,
    labels: { variant: 'labelled' },
  });
  await copyImage(fx.busybox.ref, `${reg.host}/test/copies/busybox:same`);
  big = await img('test/big:1', { 'big.bin': randomBytes(BIG_FILE_BYTES) });
  if (big.layers.length !== 1) throw new Error(`test/big:1 should have one layer: ${JSON.stringify(big.layers)}`);
  bigLayer = big.layers[0]!;
  // The builder's copies of the images are not needed any more (and vfs keeps full copies).
  await removeAllImages();
  proxy = await startProxy(reg.host);
  slow = await startSlowProxy(reg.host);
});

afterAll(async () => {
  await Promise.all(background.map((b) => b.stop()));
  await Promise.all([proxy?.stop(), slow?.stop()]);
  await Promise.all([dockerd?.stop(), reg?.stop()]);
});

/** Empties the private dockerd's image store (no containers ever run here). Throws if it cannot. */
async function removeAllImages(): Promise<void> {
  await dockerd.dockerOk(['image', 'prune', '--all', '--force']);
  const left = (await dockerd.dockerOk(['image', 'ls', '-aq'])).split('\n').filter(Boolean);
  if (left.length) throw new Error(`docker images left after prune: ${left.join(' ')}`);
}

// ---------------------------------------------------------------------------------------------
// A workspace per scenario: the user's directory with manifests/, bundles/ and its own cache.

interface Workspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** The ferry cache directory ($XDG_CACHE_HOME/ferry). */
  cache: string;
  /** Writes manifests/<file>; returns the path relative to `dir` (what the user types). */
  manifest(file: string, text: string): string;
  /** Runs ferry in `dir` with this workspace's cache and config. */
  ferry(args: string[]): Promise<RunResult & { report: string }>;
  path(...parts: string[]): string;
}

let workspaces = 0;

function workspace(label: string): Workspace {
  const dir = tmp.join(`${label}-${++workspaces}`);
  mkdirSync(join(dir, 'manifests'), { recursive: true });
  const env = ferryEnv(join(dir, 'home'));
  return {
    dir,
    env,
    cache: join(env.XDG_CACHE_HOME!, 'ferry'),
    manifest(file, text) {
      writeFileSync(join(dir, 'manifests', file), text);
      return join('manifests', file);
    },
    async ferry(args) {
      const r = await runFerry(args, { env, cwd: dir });
      return { ...r, report: describeRun(r) };
    },
    path: (...parts) => join(dir, ...parts),
  };
}

interface ExportReport {
  command: string;
  status: string;
  bundle: { path: string; sha256: string; bytes: number } | null;
  images: {
    reference: string;
    name: string | null;
    digest: string | null;
    upstreamDigest: string | null;
    status: string;
    error: { code: string; message: string; hint?: string } | null;
  }[];
  summary: { images: number; ok: number; unchanged: number; failed: number; downloadedBytes: number };
}

function parseReport(r: RunResult & { report: string }): ExportReport {
  try {
    return JSON.parse(r.stdout) as ExportReport;
  } catch (err) {
    throw new Error(`--json stdout is not one JSON document (${(err as Error).message}):\n${r.report}`);
  }
}

interface LockFile {
  lockVersion: number;
  images: ({ ref: string; name: string | null; platforms: string[] } & ImageOracle)[];
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

/** index.json descriptors as "name digest" strings, sorted. */
function indexEntries(b: ExtractedBundle): string[] {
  return b.index.manifests.map((m) => `${m.annotations?.['io.containerd.image.name'] ?? '(no name)'} ${m.digest}`).sort();
}

/** What identifies a file version on disk: a rewrite by rename changes the inode. */
function fileId(path: string): Pick<Stats, 'ino' | 'mtimeMs' | 'size'> {
  const s = statSync(path);
  return { ino: s.ino, mtimeMs: s.mtimeMs, size: s.size };
}

const hex = (digest: string): string => digest.replace(/^sha256:/, '');

// ---------------------------------------------------------------------------------------------

describe('ferry export of a manifest file with a dozen images', () => {
  let ws: Workspace;
  let file: string;
  let first: RunResult & { report: string };
  /** The images of the manifest file, with what the registry says about each. */
  let expected: { ref: string; name: string | null; platforms: string[]; oracle: ImageOracle }[];
  const bundle = () => ws.path('bundles', 'nightly.tar.gz');
  const lockFile = () => ws.path('manifests', 'nightly.lock.json');

  beforeAll(async () => {
    ws = workspace('dozen');
    const pinned = `${H()}/test/api@${api.digest}`;
    file = ws.manifest(
      'nightly.yaml',
      [
        '# the nightly set: a dozen images from one loopback registry',
        'bundle: nightly',
        'platforms: [linux/amd64]',
        'images:',
        `  - ${H()}/test/busybox:1`,
        `  - ${H()}/test/app:1`,
        `  - ref: ${H()}/test/multi:1`,
        '    platforms: [all]',
        `  - ref: ${pinned}`,
        '    name: acme/api:1.4',
        `  - ref: ${H()}/test/multi2:1`,
        '    name: test/multi-arm:1',
        '    platforms: [linux/arm64]',
        `  - ${H()}/test/small-a:1`,
        `  - ${H()}/test/small-b:1`,
        `  - ${H()}/test/small-c:1`,
        `  - ${H()}/test/small-d:2`,
        `  - ${H()}/test/copies/busybox:oci`,
        `  - ${H()}/test/copies/busybox:labelled`,
        `  - ${H()}/other/app:oci`,
        '',
      ].join('\n'),
    );
    const amd64 = ['linux/amd64'];
    const list = [
      { ref: `${H()}/test/busybox:1`, name: null, platforms: amd64 },
      { ref: `${H()}/test/app:1`, name: null, platforms: amd64 },
      { ref: `${H()}/test/multi:1`, name: null, platforms: ['all'] },
      { ref: pinned, name: 'docker.io/acme/api:1.4', platforms: amd64 },
      { ref: `${H()}/test/multi2:1`, name: 'docker.io/test/multi-arm:1', platforms: ['linux/arm64'] },
      ...['test/small-a:1', 'test/small-b:1', 'test/small-c:1', 'test/small-d:2', 'test/copies/busybox:oci', 'test/copies/busybox:labelled', 'other/app:oci'].map(
        (r) => ({ ref: `${H()}/${r}`, name: null, platforms: amd64 }),
      ),
    ];
    expected = await Promise.all(list.map(async (e) => ({ ...e, oracle: await registryOracle(e.ref, e.platforms) })));
    first = await ws.ferry(['export', file, '--json']);
  });

  it('exits 0 and writes bundles/nightly.tar.gz with a sidecar that sha256sum -c accepts', async () => {
    expect(first.code, first.report).toBe(0);
    expect(readdirSync(ws.path('bundles')).sort()).toEqual(['nightly.tar.gz', 'nightly.tar.gz.sha256']);
    const check = await run('sha256sum', ['-c', 'nightly.tar.gz.sha256'], { cwd: ws.path('bundles') });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('index.json names every image with the digest the registry reports (the pinned one under its name)', async () => {
    expect(first.code, first.report).toBe(0);
    const b = await extractBundle(bundle(), ws.path('extract-1'));
    expect(indexEntries(b)).toEqual(expected.map((e) => `${e.name ?? e.ref} ${e.oracle.digest}`).sort());
    // Oracle sanity: the registry's answers are the images built in beforeAll.
    expect(expected.find((e) => e.ref === `${H()}/test/multi:1` && !e.name)?.oracle.digest).toBe(fx.multi.digest);
    const multiArm = expected.find((e) => e.name === 'docker.io/test/multi-arm:1')?.oracle;
    expect(multiArm?.upstreamDigest).toBe(multi2);
    expect(multiArm?.images.map((i) => i.platform)).toEqual(['linux/arm64']);
    expect(multiArm?.digest, 'one platform of an index: its platform manifest').toBe(multiArm?.images[0]?.manifest);
    expect(expected.find((e) => e.ref.endsWith('/test/copies/busybox:oci'))?.oracle.digest).toBe(busyboxOci);
    expect(expected.find((e) => e.ref.endsWith('/other/app:oci'))?.oracle.digest).toBe(appOci);
    expect(expected.find((e) => e.ref.endsWith('/test/copies/busybox:labelled'))?.oracle.digest).toBe(busyboxLabelled.digest);
    expect(new Set(expected.map((e) => e.oracle.digest)).size, 'twelve different manifests').toBe(expected.length);
    const pinned = b.index.manifests.find((m) => m.annotations?.['io.containerd.image.name'] === 'docker.io/acme/api:1.4');
    expect(pinned?.digest).toBe(api.digest);
    expect(pinned?.annotations?.['org.opencontainers.image.ref.name']).toBe('1.4');
    expect(await b.badBlobs()).toEqual([]);
    // Both platforms of the index kept whole.
    for (const d of [fx.multi.digest, fx.multi.amd64, fx.multi.arm64]) expect(b.entries).toContain(`blobs/sha256/${hex(d)}`);
    const meta = JSON.parse(readFileSync(join(b.dir, 'ferry.json'), 'utf8')) as { lock?: string };
    expect(meta.lock, 'ferry.json records the digest of the lock file it was written for').toBe(sha256(readFileSync(lockFile())));
  });

  it('writes manifests/nightly.lock.json with per-platform manifest, config and layers', async () => {
    expect(first.code, first.report).toBe(0);
    const lock = readJson<LockFile>(lockFile());
    expect(lock.lockVersion).toBe(1);
    expect(lock.images).toHaveLength(expected.length);
    const refs = lock.images.map((i) => i.ref);
    expect(refs, 'sorted by reference').toEqual([...refs].sort());
    const byPlatform = <T extends { platform: string }>(xs: T[]) => [...xs].sort((x, y) => x.platform.localeCompare(y.platform));
    for (const e of expected) {
      const got = lock.images.find((l) => l.ref === e.ref && l.name === e.name);
      expect(got, `lock entry for ${e.ref} (${e.name})`).toBeDefined();
      expect({ ...got!, images: byPlatform(got!.images) }).toEqual({
        ref: e.ref,
        name: e.name,
        platforms: e.platforms,
        upstreamDigest: e.oracle.upstreamDigest,
        digest: e.oracle.digest,
        mediaType: e.oracle.mediaType,
        images: byPlatform(e.oracle.images),
      });
    }
    const multi = lock.images.find((l) => l.ref === `${H()}/test/multi:1` && l.name === null);
    expect(multi?.images.map((i) => i.platform).sort()).toEqual(['linux/amd64', 'linux/arm64']);
  });

  it('the --json report lists every image as ok with its digests, the pinned one with its name', async () => {
    expect(first.code, first.report).toBe(0);
    const report = parseReport(first);
    expect(report.command).toBe('export');
    expect(report.status).toBe('ok');
    expect(report.images).toHaveLength(expected.length);
    expect(report.summary).toMatchObject({ images: expected.length, ok: expected.length, failed: 0, unchanged: 0 });
    expect(report.bundle?.sha256).toBe(readFileSync(`${bundle()}.sha256`, 'utf8').split(/\s+/)[0]);
    expect(report.bundle?.bytes).toBe(statSync(bundle()).size);
    for (const img of report.images) {
      expect(img.status, JSON.stringify(img)).toBe('ok');
      expect(img.error).toBeNull();
    }
    const pinned = report.images.filter((i) => i.reference.includes('@sha256:'));
    expect(pinned).toHaveLength(1);
    expect(pinned[0]!.name).toMatch(/^(docker\.io\/)?acme\/api:1\.4$/);
    expect(pinned[0]!.digest).toBe(api.digest);
    const digests = report.images.map((i) => i.digest).sort();
    expect(digests).toEqual(expected.map((e) => e.oracle.digest).sort());
  });

  it('docker load of the bundle on a real dockerd shows every tag, with the right image behind each', async () => {
    expect(first.code, first.report).toBe(0);
    await removeAllImages();

    const load = await dockerd.docker(['load', '-i', bundle()]);
    expect(load.code, load.stdout + load.stderr).toBe(0);
    expect(load.stdout).toContain('Loaded image: acme/api:1.4');

    const familiar = (e: (typeof expected)[number]) => (e.name ?? e.ref).replace(/^docker\.io\//, '');
    const tags = (await dockerd.dockerOk(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']))
      .split('\n')
      .filter((l) => l && !l.includes('<none>'));
    expect(tags.sort()).toEqual(expected.map(familiar).sort());
    for (const e of expected) {
      // docker load takes one platform per image: the first requested, else linux/amd64.
      const want = e.oracle.images.find((i) => i.platform === 'linux/amd64') ?? e.oracle.images[0]!;
      const id = await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', familiar(e)]);
      expect(id.trim(), `image id of ${familiar(e)}`).toBe(want.config);
    }
  });

  it('a second run reports "unchanged", sends only HEAD requests, and rewrites nothing', async () => {
    expect(first.code, first.report).toBe(0);
    const before = { bundle: fileId(bundle()), sidecar: fileId(`${bundle()}.sha256`), lock: fileId(lockFile()) };
    const mark = accessMark(reg);
    const second = await ws.ferry(['export', file, '--json']);
    const log = await accessSince(reg, mark);
    expect(second.code, second.report).toBe(0);

    const report = parseReport(second);
    expect(report.status).toBe('unchanged');
    expect(report.images.map((i) => i.status)).toEqual(expected.map(() => 'unchanged'));

    // Nothing but HEADs of manifests (and, at most, the GET /v2/ version check).
    const other = log.filter((e) => !(e.method === 'HEAD' && /^\/v2\/.+\/manifests\//.test(e.path)) && !(e.method === 'GET' && e.path === '/v2/'));
    expect(other, describeAccess(log)).toEqual([]);
    expect(log.filter((e) => e.method === 'GET' && /\/(manifests|blobs)\//.test(e.path)), describeAccess(log)).toEqual([]);
    // One HEAD per tag; nothing at all for the image pinned by digest.
    for (const e of expected.filter((x) => !x.ref.includes('@'))) {
      const [repo, tag] = e.ref.slice(H().length + 1).split(':');
      expect(log.some((l) => l.method === 'HEAD' && l.path === `/v2/${repo}/manifests/${tag}`), `HEAD for ${e.ref}\n${describeAccess(log)}`).toBe(true);
    }
    expect(log.filter((l) => l.path.includes('/manifests/sha256:')), describeAccess(log)).toEqual([]);
    expect(log.filter((l) => l.method === 'HEAD').length, describeAccess(log)).toBeLessThanOrEqual(expected.length);

    expect(fileId(bundle()), 'bundle not rewritten').toEqual(before.bundle);
    expect(fileId(`${bundle()}.sha256`), 'sidecar not rewritten').toEqual(before.sidecar);
    expect(fileId(lockFile()), 'lock not rewritten').toEqual(before.lock);
    expect(readdirSync(ws.path('bundles')).sort()).toEqual(['nightly.tar.gz', 'nightly.tar.gz.sha256']);
  });

  it('--force rewrites the bundle from the cache, downloading no blob', async () => {
    expect(first.code, first.report).toBe(0);
    const before = fileId(bundle());
    const lockText = readFileSync(lockFile(), 'utf8');
    const mark = accessMark(reg);
    const forced = await ws.ferry(['export', file, '--force', '--json']);
    const log = await accessSince(reg, mark);
    expect(forced.code, forced.report).toBe(0);
    expect(parseReport(forced).status).toBe('ok');
    const after = fileId(bundle());
    expect(after.ino !== before.ino || after.mtimeMs > before.mtimeMs, `bundle rewritten: ${JSON.stringify({ before, after })}`).toBe(true);
    expect(log.filter((e) => e.method === 'GET' && /\/blobs\//.test(e.path)), describeAccess(log)).toEqual([]);
    expect(readFileSync(lockFile(), 'utf8'), 'same digests, same lock').toBe(lockText);
    const b = await extractBundle(bundle(), ws.path('extract-force'));
    expect(indexEntries(b)).toEqual(expected.map((e) => `${e.name ?? e.ref} ${e.oracle.digest}`).sort());
    expect(await b.badBlobs()).toEqual([]);
    const check = await run('sha256sum', ['-c', 'nightly.tar.gz.sha256'], { cwd: ws.path('bundles') });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry export of one image under two names', () => {
  // The same manifest reached twice in one run: both entries resolve it at the same moment and
  // both must land in the cache and the bundle. Repeated with a fresh cache each time, because
  // a collision between the two is a matter of timing.
  const cases = [
    {
      name: 'a tag and the same image pinned by digest under a name',
      lines: () => [`  - ${H()}/test/app:1`, `  - ref: ${H()}/test/app@${fx.app.digest}`, '    name: acme/api:1.4'],
      index: () => [`${H()}/test/app:1 ${fx.app.digest}`, `docker.io/acme/api:1.4 ${fx.app.digest}`],
    },
    {
      name: 'one image in two repositories (a byte-identical skopeo copy)',
      lines: () => [`  - ${H()}/test/busybox:1`, `  - ${H()}/test/copies/busybox:same`],
      index: () => [`${H()}/test/busybox:1 ${fx.busybox.digest}`, `${H()}/test/copies/busybox:same ${fx.busybox.digest}`],
    },
    {
      name: 'one index twice: every platform, and arm64 under a name',
      lines: () => [
        `  - ref: ${H()}/test/multi:1`,
        '    platforms: [all]',
        `  - ref: ${H()}/test/multi:1`,
        '    name: test/multi-arm:1',
        '    platforms: [linux/arm64]',
      ],
      index: () => [`${H()}/test/multi:1 ${fx.multi.digest}`, `docker.io/test/multi-arm:1 ${fx.multi.arm64}`],
    },
  ];

  it.each(cases)('$name: exports both, five runs out of five (fresh cache each)', async ({ lines, index }) => {
    const failures: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ws = workspace('same-image');
      const file = ws.manifest('twice.yaml', ['bundle: twice', 'images:', ...lines(), ''].join('\n'));
      const r = await ws.ferry(['export', file]);
      if (r.code !== 0) {
        failures.push(`run ${i + 1}: ${r.report}`);
        continue;
      }
      const b = await extractBundle(ws.path('bundles', 'twice.tar.gz'), ws.path('extract'));
      expect(indexEntries(b)).toEqual(index().sort());
      expect(await b.badBlobs()).toEqual([]);
    }
    expect(failures, `${failures.length} of 5 runs failed:\n${failures.join('\n')}`).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry export after a crash (kill -9 mid-download)', () => {
  it('the next run resumes the layer with Range: bytes=N- and writes a correct bundle', async () => {
    const ws = workspace('crash');
    const file = ws.manifest('big.yaml', ['bundle: big', 'images:', `  - ${slow.host}/test/big:1`, ''].join('\n'));
    const pauseAt = 16 * MiB;
    const partial = join(ws.cache, 'partial', hex(bigLayer.digest));
    slow.release();
    slow.clearRequests();
    slow.pauseBlobOnce(bigLayer.digest, pauseAt);
    const bg = startFerryInBackground(['export', file], { env: ws.env, cwd: ws.dir, logFile: ws.path('run-1.log') });
    background.push(bg);

    const exitedEarly = bg.exited.then((c) => {
      throw new Error(`ferry exited (${c}) before the layer download was held:\n${bg.output()}`);
    });
    await Promise.race([slow.paused(bigLayer.digest), exitedEarly]);
    exitedEarly.catch(() => undefined);
    const size = () => (existsSync(partial) ? statSync(partial).size : 0);
    await waitFor(() => size() >= pauseAt, { what: `partial file ${partial} with ${pauseAt} bytes`, timeoutMs: 30_000, describe: () => `size ${size()}\n${bg.output()}` });
    await bg.kill9();
    expect(await bg.exited).toBe('SIGKILL');

    const have = size();
    expect(have, 'some bytes on disk').toBeGreaterThan(0);
    expect(have, 'but not all').toBeLessThan(bigLayer.size);
    expect(existsSync(ws.path('bundles', 'big.tar.gz'))).toBe(false);

    slow.release();
    slow.clearRequests();
    const mark = accessMark(reg);
    const again = await ws.ferry(['export', file, '--json']);
    const log = await accessSince(reg, mark);
    expect(again.code, again.report).toBe(0);

    const gets = slow.blobGets(bigLayer.digest);
    expect(gets.length, JSON.stringify(slow.requests, null, 1)).toBeGreaterThan(0);
    expect(gets[0]?.range, 'the first GET of the layer resumes where the partial file ends').toBe(`bytes=${have}-`);
    expect(gets[0]?.status).toBe(206);
    expect(gets.filter((g) => !g.range), 'never starts the layer over').toEqual([]);
    expect(log.some((e) => e.method === 'GET' && e.path === `/v2/test/big/blobs/${bigLayer.digest}` && e.status === 206), describeAccess(log)).toBe(true);

    const report = parseReport(again);
    expect(report.images[0]?.digest).toBe(await registryDigest(big.ref));
    const b = await extractBundle(ws.path('bundles', 'big.tar.gz'), ws.path('extract'));
    expect(b.index.manifests.map((m) => m.digest)).toEqual([big.digest]);
    expect(b.entries).toContain(`blobs/sha256/${hex(bigLayer.digest)}`);
    expect(statSync(join(b.dir, 'blobs', 'sha256', hex(bigLayer.digest))).size).toBe(bigLayer.size);
    expect(await b.badBlobs()).toEqual([]);
    expect(readdirSync(join(ws.cache, 'partial')), 'no partial or lock files left').toEqual([]);
    expect(readdirSync(ws.path('bundles')).sort()).toEqual(['big.tar.gz', 'big.tar.gz.sha256']);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry export of an invalid manifest file', () => {
  // Every image points at the recording proxy: nothing may reach it (or the registry).
  const P = () => proxy.host;
  const cases: { name: string; lines: () => string[]; problems: { at: string; says: RegExp }[] }[] = [
    {
      name: 'a typo in a key',
      lines: () => ['bundle: bad', 'images:', `  - ref: ${P()}/test/busybox:1`, '    platfroms: [linux/amd64]'],
      problems: [{ at: '4:5', says: /images\[0\]\.platfroms.*unknown key/ }],
    },
    {
      name: 'an uppercase reference',
      lines: () => ['bundle: bad', 'images:', `  - ${P()}/Test/BusyBox:1`],
      problems: [{ at: '3:5', says: /images\[0\].*Test\/BusyBox/ }],
    },
    {
      name: 'a platform that does not exist',
      lines: () => ['bundle: bad', 'images:', `  - ref: ${P()}/test/busybox:1`, '    platforms: [linux/amd65]'],
      problems: [{ at: '4:17', says: /images\[0\]\.platforms\[0\].*architecture/ }],
    },
    {
      name: 'an image listed twice',
      lines: () => ['bundle: bad', 'images:', `  - ${P()}/test/busybox:1`, `  - ${P()}/test/app:1`, `  - ${P()}/test/busybox:1`],
      problems: [{ at: '5:5', says: /images\[2\].*twice.*images\[0\]/ }],
    },
    {
      name: 'all four problems at once',
      lines: () => [
        'bundle: bad',
        'images:',
        `  - ${P()}/test/busybox:1`,
        `  - ref: ${P()}/test/app:1`,
        '    platfroms: [linux/amd64]',
        `  - ${P()}/Test/BusyBox:1`,
        `  - ref: ${P()}/test/multi:1`,
        '    platforms: [linux/amd65]',
        `  - ${P()}/test/busybox:1`,
      ],
      problems: [
        { at: '5:5', says: /images\[1\]\.platfroms/ },
        { at: '6:5', says: /images\[2\].*Test\/BusyBox/ },
        { at: '8:17', says: /images\[3\]\.platforms\[0\]/ },
        { at: '9:5', says: /images\[4\].*twice/ },
      ],
    },
  ];

  it.each(cases)('$name: exit 2, file:line:column for each problem, nothing requested, nothing written', async ({ lines, problems }) => {
    const ws = workspace('invalid');
    const file = ws.manifest('bad.yaml', `${lines().join('\n')}\n`);
    proxy.clearRequests();
    const mark = accessMark(reg);
    const r = await ws.ferry(['export', file]);
    const log = await accessSince(reg, mark);
    expect(r.code, r.report).toBe(2);
    for (const p of problems) {
      const line = r.stderr.split('\n').find((l) => l.includes(`${file}:${p.at}:`));
      expect(line, `a line naming ${file}:${p.at}\n${r.report}`).toBeDefined();
      expect(line).toMatch(p.says);
    }
    expect(proxy.requests, 'requests that reached the proxy').toEqual([]);
    expect(log, describeAccess(log)).toEqual([]);
    expect(existsSync(ws.path('bundles')) ? readdirSync(ws.path('bundles')) : [], 'no bundle').toEqual([]);
    expect(existsSync(ws.path('manifests', 'bad.lock.json')), 'no lock file').toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry export with an image missing from the registry', () => {
  const manifestText = () =>
    ['bundle: partly', 'images:', `  - ${H()}/test/busybox:1`, `  - ${H()}/test/small-a:1`, `  - ${H()}/test/missing:1`, ''].join('\n');

  it('--keep-going bundles the rest, exits 3 and reports the failed image', async () => {
    const ws = workspace('keep-going');
    const file = ws.manifest('partly.yaml', manifestText());
    const r = await ws.ferry(['export', file, '--keep-going', '--json']);
    expect(r.code, r.report).toBe(3);
    expect(r.stderr).toContain(`${H()}/test/missing:1`);

    const b = await extractBundle(ws.path('bundles', 'partly.tar.gz'), ws.path('extract'));
    expect(indexEntries(b)).toEqual([`${H()}/test/busybox:1 ${fx.busybox.digest}`, `${H()}/test/small-a:1 ${small.a.digest}`].sort());
    expect(await b.badBlobs()).toEqual([]);

    const report = parseReport(r);
    expect(report.summary).toMatchObject({ images: 3, ok: 2, failed: 1 });
    const failed = report.images.filter((i) => i.status === 'failed');
    expect(failed.map((i) => i.reference)).toEqual([`${H()}/test/missing:1`]);
    expect(failed[0]?.error?.message).toContain('test/missing');
    expect(failed[0]?.error?.message.length).toBeGreaterThan(0);
    expect(report.images.filter((i) => i.status === 'ok').map((i) => i.reference).sort()).toEqual([`${H()}/test/busybox:1`, `${H()}/test/small-a:1`].sort());
    expect(report.bundle?.sha256).toBe(readFileSync(ws.path('bundles', 'partly.tar.gz.sha256'), 'utf8').split(/\s+/)[0]);
    if (existsSync(ws.path('manifests', 'partly.lock.json'))) {
      const lock = readJson<LockFile>(ws.path('manifests', 'partly.lock.json'));
      expect(lock.images.map((i) => i.ref), 'the lock does not claim the missing image').not.toContain(`${H()}/test/missing:1`);
    }
  });

  it('without --keep-going the run exits 1, names the image, and writes no bundle and no lock', async () => {
    const ws = workspace('no-keep-going');
    const file = ws.manifest('partly.yaml', manifestText());
    const r = await ws.ferry(['export', file]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain(`${H()}/test/missing:1`);
    expect(r.stderr, 'the error names the manifest line').toContain(`${file}:5`);
    expect(existsSync(ws.path('bundles')) ? readdirSync(ws.path('bundles')) : [], 'no bundle, no partial file').toEqual([]);
    expect(existsSync(ws.path('manifests', 'partly.lock.json')), 'no lock file').toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry export --locked', () => {
  let ws: Workspace;
  let file: string;
  const moving = () => `${H()}/test/moving:1`;
  const bundle = () => ws.path('bundles', 'pinned.tar.gz');
  const lockFile = () => ws.path('manifests', 'pinned.lock.json');
  const digestOf = async (name: string) => {
    const b = await extractBundle(bundle(), ws.path(`extract-${Date.now()}`));
    return b.index.manifests.find((m) => m.annotations?.['io.containerd.image.name'] === name)?.digest;
  };

  beforeAll(async () => {
    await copyImage(fx.busybox.ref, moving());
    ws = workspace('locked');
    file = ws.manifest('pinned.yaml', ['bundle: pinned', 'images:', `  - ${moving()}`, `  - ${H()}/test/small-b:1`, ''].join('\n'));
  });

  it('without a lock file, --locked exits 2 and downloads nothing', async () => {
    const mark = accessMark(reg);
    const r = await ws.ferry(['export', file, '--locked']);
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toContain(moving());
    expect(await accessSince(reg, mark)).toEqual([]);
    expect(existsSync(bundle())).toBe(false);
  });

  it('after the tag moves, --locked exports the old digest; a plain export takes the new one and updates the lock', async () => {
    const first = await ws.ferry(['export', file]);
    expect(first.code, first.report).toBe(0);
    expect(await digestOf(moving())).toBe(fx.busybox.digest);
    const lockBefore = readFileSync(lockFile(), 'utf8');
    expect((JSON.parse(lockBefore) as LockFile).images.find((i) => i.ref === moving())?.upstreamDigest).toBe(fx.busybox.digest);

    // Someone pushes another image to the same tag.
    await copyImage(fx.app.ref, moving());
    expect(await registryDigest(moving())).toBe(fx.app.digest);

    const locked = await ws.ferry(['export', file, '--locked', '--json']);
    expect(locked.code, locked.report).toBe(0);
    expect(await digestOf(moving()), '--locked keeps the locked digest').toBe(fx.busybox.digest);
    expect(await digestOf(`${H()}/test/small-b:1`)).toBe(small.b.digest);
    expect(parseReport(locked).images.find((i) => i.reference === moving())?.digest).toBe(fx.busybox.digest);
    expect(readFileSync(lockFile(), 'utf8'), '--locked does not touch the lock').toBe(lockBefore);

    const plain = await ws.ferry(['export', file, '--json']);
    expect(plain.code, plain.report).toBe(0);
    expect(parseReport(plain).status).toBe('ok');
    expect(await digestOf(moving()), 'a plain export follows the tag').toBe(fx.app.digest);
    const lock = readJson<LockFile>(lockFile());
    const entry = lock.images.find((i) => i.ref === moving());
    expect(entry?.upstreamDigest).toBe(fx.app.digest);
    expect(entry?.digest).toBe(fx.app.digest);
    expect(entry?.images[0]?.layers.map((l) => l.digest)).toEqual(fx.app.layers);
  });

  it('a manifest naming an image the lock lacks exits 2 with --locked, naming it, and leaves the bundle alone', async () => {
    expect(existsSync(lockFile()), 'the previous test wrote the lock').toBe(true);
    const before = fileId(bundle());
    const lockText = readFileSync(lockFile(), 'utf8');
    writeFileSync(ws.path(file), ['bundle: pinned', 'images:', `  - ${moving()}`, `  - ${H()}/test/small-b:1`, `  - ${H()}/test/small-c:1`, ''].join('\n'));
    const mark = accessMark(reg);
    const r = await ws.ferry(['export', file, '--locked']);
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toContain(`${H()}/test/small-c:1`);
    expect(r.stderr).toContain(`${file}:5`);
    expect(await accessSince(reg, mark), 'nothing requested').toEqual([]);
    expect(fileId(bundle())).toEqual(before);
    expect(readFileSync(lockFile(), 'utf8')).toBe(lockText);
  });
});

// ---------------------------------------------------------------------------------------------

describe('two ferry export runs on the same bundle at once', () => {
  it('the second exits 1 saying the bundle is locked by the first, which still succeeds', async () => {
    const ws = workspace('concurrent');
    const file = ws.manifest('shared.yaml', ['bundle: shared', 'images:', `  - ${slow.host}/test/app:1`, `  - ${slow.host}/test/busybox:1`, ''].join('\n'));
    slow.release();
    slow.clearRequests();
    slow.pauseBlobOnce(fx.app.bigLayer, MiB);
    const bg = startFerryInBackground(['export', file], { env: ws.env, cwd: ws.dir, logFile: ws.path('first.log') });
    background.push(bg);
    const exitedEarly = bg.exited.then((c) => {
      throw new Error(`the first run exited (${c}) before its download was held:\n${bg.output()}`);
    });
    await Promise.race([slow.paused(fx.app.bigLayer), exitedEarly]);
    exitedEarly.catch(() => undefined);

    const second = await ws.ferry(['export', file]);
    expect(second.code, second.report).toBe(1);
    expect(second.stderr).toMatch(new RegExp(`bundle .*shared\\.tar\\.gz.* is locked by process ${bg.pid}\\b`));
    expect(bg.running(), 'the first run is still going').toBe(true);

    slow.release();
    const code = await bg.exited;
    expect(code, bg.output()).toBe(0);
    const b = await extractBundle(ws.path('bundles', 'shared.tar.gz'), ws.path('extract'));
    expect(indexEntries(b)).toEqual([`${slow.host}/test/app:1 ${fx.app.digest}`, `${slow.host}/test/busybox:1 ${fx.busybox.digest}`].sort());
    expect(await b.badBlobs()).toEqual([]);
    expect(readdirSync(ws.path('bundles')).sort(), 'no lock or partial file left').toEqual(['shared.tar.gz', 'shared.tar.gz.sha256']);

    const third = await ws.ferry(['export', file, '--json']);
    expect(third.code, third.report).toBe(0);
    expect(parseReport(third).status).toBe('unchanged');
  });
});

// ---------------------------------------------------------------------------------------------

describe('ferry cache ls and prune', () => {
  it('ls shows the cached blobs; prune --lock keeps what the lock references and removes the rest', async () => {
    const ws = workspace('cache');
    const file = ws.manifest('kept.yaml', ['bundle: kept', 'images:', `  - ${H()}/test/busybox:1`, `  - ${H()}/test/small-b:1`, ''].join('\n'));
    const exp = await ws.ferry(['export', file]);
    expect(exp.code, exp.report).toBe(0);
    const lockFile = ws.path('manifests', 'kept.lock.json');
    const lock = readJson<LockFile>(lockFile);
    const referenced = new Set(
      lock.images.flatMap((i) => [i.upstreamDigest, i.digest, ...i.images.flatMap((p) => [p.manifest, p.config, ...p.layers.map((l) => l.digest)])]),
    );

    // An image saved separately, into the same cache: its 4 MiB layer is referenced by no lock.
    const saved = await ws.ferry(['save', fx.app.ref, '-o', ws.path('app.tar.gz')]);
    expect(saved.code, saved.report).toBe(0);
    const appOnly = [fx.app.digest, fx.app.bigLayer];

    const ls = await ws.ferry(['cache', 'ls']);
    expect(ls.code, ls.report).toBe(0);
    for (const d of [...referenced, ...appOnly]) expect(ls.stdout, `cache ls lists ${d}`).toContain(d);
    const lsJson = async () => {
      const r = await ws.ferry(['cache', 'ls', '--json']);
      expect(r.code, r.report).toBe(0);
      return JSON.parse(r.stdout) as { blobs: number; bytes: number; items: { digest: string; size: number }[] };
    };
    const all = await lsJson();
    expect(all.blobs).toBe(all.items.length);
    expect(all.items.find((i) => i.digest === fx.app.bigLayer)?.size).toBe(statSync(join(ws.cache, 'blobs', 'sha256', hex(fx.app.bigLayer))).size);
    expect(all.bytes).toBe(all.items.reduce((n, i) => n + i.size, 0));

    const dry = await ws.ferry(['cache', 'prune', '--lock', lockFile, '--dry-run']);
    expect(dry.code, dry.report).toBe(0);
    expect((await lsJson()).items.length, '--dry-run removes nothing').toBe(all.items.length);

    const prune = await ws.ferry(['cache', 'prune', '--lock', lockFile]);
    expect(prune.code, prune.report).toBe(0);
    const left = new Set((await lsJson()).items.map((i) => i.digest));
    for (const d of referenced) expect(left.has(d), `kept ${d}`).toBe(true);
    for (const d of appOnly) expect(left.has(d), `removed ${d}`).toBe(false);
    expect(existsSync(join(ws.cache, 'blobs', 'sha256', hex(fx.app.bigLayer)))).toBe(false);

    // What is left is enough: a forced export downloads no blob.
    const mark = accessMark(reg);
    const again = await ws.ferry(['export', file, '--force']);
    const log = await accessSince(reg, mark);
    expect(again.code, again.report).toBe(0);
    expect(log.filter((e) => e.method === 'GET' && /\/blobs\//.test(e.path)), describeAccess(log)).toEqual([]);
  });

  it('prune without --lock or --older-than is a usage error (exit 2) and removes nothing', async () => {
    const ws = workspace('cache-usage');
    const r = await ws.ferry(['cache', 'prune']);
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toMatch(/--lock|--older-than/);
  });
});
