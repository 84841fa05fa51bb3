/**
 * Acceptance checks for `ferry save`: the built CLI against real registries on loopback (open,
 * htpasswd, token auth), a scripted fault proxy, and independent oracles (docker load and run
 * on a private dockerd, skopeo, ctr, tar, sha256sum). Fixtures are built with docker, not
 * ferry (helpers/fixtures.ts).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBundle } from './helpers/bundle.js';
import { writeDockerConfig } from './helpers/docker-config.js';
import type { Dockerd } from './helpers/dockerd.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { APP_TEXT, BUSYBOX_OUTPUT, refOn, type Fixtures } from './helpers/fixtures.js';
import { run } from './helpers/processes.js';
import { startProxy, type FaultProxy } from './helpers/proxy.js';
import type { Credentials, Registry } from './helpers/registry.js';
import { registryDigest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { startAuthRegistries } from './helpers/auth-registries.js';

const USER: Credentials = { user: 'ferry-e2e', password: 'pw-Zq8vK3-never-print-me' };

const tmp = suiteTempDir('save');
let dockerd: Dockerd;
let open: Registry;
let basic: Registry;
let token: Registry;
let proxy: FaultProxy;
let fx: Fixtures;

beforeAll(async () => {
  ({ dockerd, open, basic, token, fx } = await startAuthRegistries(USER, tmp.join('fixtures'), (s) => {
    ({ dockerd, open, basic, token } = s as Required<typeof s>);
  }));
  proxy = await startProxy(open.host);
});

afterAll(async () => {
  await proxy?.stop();
  await Promise.all([dockerd?.stop(), open?.stop(), basic?.stop(), token?.stop()]);
});

let runs = 0;

interface SaveRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The bundle path given to -o. */
  out: string;
  /** The directory holding only the bundle (and its sidecar). */
  outDir: string;
  /** The ferry home (cache, docker config) used; pass it back as `home` to share the cache. */
  home: string;
  report: string;
}

/**
 * Runs `ferry save refs -o <fresh dir>/out-N/<name> ...extra` with a fresh cache and docker
 * config (or `home` to reuse one) and the given registry credentials.
 */
async function save(
  refs: string[],
  opts: { extra?: string[]; auths?: Record<string, Credentials>; name?: string; home?: string } = {},
): Promise<SaveRun> {
  const n = ++runs;
  const home = opts.home ?? tmp.join(`run-${n}`);
  const env = ferryEnv(home);
  if (opts.auths) writeDockerConfig(env.DOCKER_CONFIG!, opts.auths);
  const outDir = join(home, `out-${n}`);
  const out = join(outDir, opts.name ?? 'bundle.tar.gz');
  mkdirSync(outDir, { recursive: true });
  const r = await runFerry(['save', ...refs, '-o', out, ...(opts.extra ?? [])], { env });
  return { ...r, out, outDir, home, report: describeRun(r) };
}

/** index.json descriptor digests, sorted. */
function indexDigests(manifests: { digest: string }[]): string[] {
  return manifests.map((m) => m.digest).sort();
}

describe('ferry save from an open registry', () => {
  let saved: SaveRun;

  beforeAll(async () => {
    saved = await save([fx.busybox.ref, fx.app.ref]);
  });

  it('exits 0 and writes the bundle with a .sha256 sidecar that sha256sum -c accepts', async () => {
    expect(saved.code, saved.report).toBe(0);
    expect(readdirSync(saved.outDir).sort()).toEqual(['bundle.tar.gz', 'bundle.tar.gz.sha256']);
    expect(readFileSync(`${saved.out}.sha256`, 'utf8')).toMatch(/^[0-9a-f]{64} [ *]bundle\.tar\.gz\n$/);
    const check = await run('sha256sum', ['-c', 'bundle.tar.gz.sha256'], { cwd: saved.outDir });
    expect(check.code, check.stdout + check.stderr).toBe(0);
  });

  it('index.json names exactly the manifest digests the registry reports, with both names', async () => {
    const b = await extractBundle(saved.out, tmp.join('open-extract'));
    const reported = [await registryDigest(fx.busybox.ref), await registryDigest(fx.app.ref)];
    expect(indexDigests(b.index.manifests)).toEqual([...reported].sort());
    const byName = Object.fromEntries(
      b.index.manifests.map((m) => [m.annotations?.['io.containerd.image.name'], m]),
    );
    expect(byName[fx.busybox.ref]?.digest).toBe(fx.busybox.digest);
    expect(byName[fx.app.ref]?.digest).toBe(fx.app.digest);
    expect(byName[fx.app.ref]?.annotations?.['org.opencontainers.image.ref.name']).toBe('1');
    expect(JSON.parse(readFileSync(join(b.dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(await b.badBlobs()).toEqual([]);
    for (const layer of [...fx.busybox.layers, ...fx.app.layers]) {
      expect(b.entries).toContain(`blobs/sha256/${layer.slice('sha256:'.length)}`);
    }
    expect(b.entries.filter((e) => e.startsWith('./') || e.startsWith('/') || e.includes('..'))).toEqual([]);
  });

  it('docker load restores both tags and the images run', async () => {
    await dockerd.docker(['image', 'rm', '-f', fx.busybox.ref, fx.app.ref]);
    expect((await dockerd.docker(['image', 'inspect', fx.busybox.ref])).code).not.toBe(0);

    const load = await dockerd.docker(['load', '-i', saved.out]);
    expect(load.code, load.stdout + load.stderr).toBe(0);
    expect(load.stdout).toContain(`Loaded image: ${fx.busybox.ref}`);
    expect(load.stdout).toContain(`Loaded image: ${fx.app.ref}`);

    const b = await extractBundle(saved.out, tmp.join('load-extract'));
    for (const f of [fx.busybox, fx.app]) {
      const config = (JSON.parse(b.blobText(f.digest)) as { config: { digest: string } }).config.digest;
      const id = await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', f.ref]);
      expect(id.trim(), `image id of ${f.ref}`).toBe(config);
    }
    const hello = await dockerd.docker(['run', '--rm', '--network', 'none', fx.busybox.ref]);
    expect(hello.code, hello.stderr).toBe(0);
    expect(hello.stdout.trim()).toBe(BUSYBOX_OUTPUT);
    const app = await dockerd.docker(['run', '--rm', '--network', 'none', fx.app.ref]);
    expect(app.code, app.stderr).toBe(0);
    expect(app.stdout).toContain(APP_TEXT);
    expect(app.stdout).toContain(`${fx.app.randomSha256}  /app/random.bin`);
  });

  it('skopeo reads each image of the bundle as a docker-archive', async () => {
    // skopeo 1.9 (containers/image 5.23) cannot read a gzip-compressed docker-archive at all,
    // not even one made by `gzip -c` ("loading tar component manifest.json: archive/tar:
    // invalid tar header"), so gunzip with gzip first; the tar inside is what is under test.
    const tar = tmp.join('open-bundle.tar');
    const gunzip = await run('sh', ['-c', 'gzip -dc "$1" > "$2"', 'sh', saved.out, tar]);
    expect(gunzip.code, gunzip.stderr).toBe(0);
    for (const f of [fx.busybox, fx.app]) {
      const r = await run('skopeo', ['inspect', `docker-archive:${tar}:${f.ref}`]);
      expect(r.code, `skopeo inspect ${f.ref}: ${r.stderr}`).toBe(0);
      const info = JSON.parse(r.stdout) as { Architecture: string; Os: string; Layers: string[] };
      expect(info.Architecture).toBe('amd64');
      expect(info.Os).toBe('linux');
      expect(info.Layers).toHaveLength(f.layers.length);
    }
  });
});

describe('ferry save with registry credentials', () => {
  const cases = [
    { name: 'htpasswd (Basic)', registry: () => basic },
    { name: 'token (Bearer)', registry: () => token },
  ];

  it.each(cases)('saves from a $name registry with credentials from the Docker config', async ({ registry }) => {
    const reg = registry();
    const refs = [refOn(reg.host, fx.busybox), refOn(reg.host, fx.app)];
    const r = await save(refs, { auths: { [reg.host]: USER } });
    expect(r.code, r.report).toBe(0);
    const b = await extractBundle(r.out, join(r.home, 'extract'));
    const reported = await Promise.all(refs.map((ref) => registryDigest(ref, USER)));
    expect(indexDigests(b.index.manifests)).toEqual(reported.sort());
    expect(await b.badBlobs()).toEqual([]);
    expect(r.stdout + r.stderr).not.toContain(USER.password);
    if (reg.issuer) {
      const granted = reg.issuer.requests.filter(
        (q) => q.user === USER.user && q.status === 200 && q.scopes.some((sc) => /^repository:test\/app:.*pull/.test(sc)),
      );
      expect(granted, 'a token for test/app pull, issued to the user').not.toEqual([]);
    }
  });

  it.each(cases)('without credentials a $name registry fails with exit 1 and says why', async ({ registry }) => {
    const reg = registry();
    const r = await save([refOn(reg.host, fx.busybox)]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toMatch(/401|credential|unauthori[sz]ed/i);
    expect(r.stderr).toContain(`${reg.host}/test/busybox`);
    expect(r.stderr).toMatch(/hint: add credentials with `ferry login /);
    expect(readdirSync(r.outDir)).toEqual([]);
  });

  it('a wrong password fails with exit 1 and is never printed, even with --debug', async () => {
    const wrong: Credentials = { user: USER.user, password: 'wrong-pw-Hx71-never-print-me' };
    for (const reg of [basic, token]) {
      const r = await save([refOn(reg.host, fx.busybox)], { auths: { [reg.host]: wrong }, extra: ['--debug'] });
      expect(r.code, r.report).toBe(1);
      expect(r.stderr).toMatch(/401|credential|unauthori[sz]ed/i);
      expect(r.stdout + r.stderr).not.toContain(wrong.password);
      expect(r.stdout + r.stderr).not.toContain(Buffer.from(`${wrong.user}:${wrong.password}`).toString('base64'));
      expect(readdirSync(r.outDir)).toEqual([]);
    }
  });
});

describe('ferry save through a faulty proxy', () => {
  const viaProxy = (f: { repo: string; tag: string }) => `${proxy.host}/${f.repo}:${f.tag}`;

  it('a layer with one flipped byte fails with exit 1 naming the layer, leaves no file, and is not cached', async () => {
    proxy.clearFaults();
    proxy.corruptBlob(fx.app.bigLayer);
    const bad = await save([viaProxy(fx.app)]);
    expect(bad.code, bad.report).toBe(1);
    expect(bad.stderr).toContain(fx.app.bigLayer);
    expect(proxy.blobGets(fx.app.bigLayer).some((q) => q.fault === 'corrupt')).toBe(true);
    expect(existsSync(bad.out)).toBe(false);
    expect(readdirSync(bad.outDir)).toEqual([]);

    proxy.clearFaults();
    const good = await save([viaProxy(fx.app)], { home: bad.home });
    expect(good.code, good.report).toBe(0);
    const b = await extractBundle(good.out, join(good.home, 'extract'));
    expect(await b.badBlobs()).toEqual([]);
    expect(indexDigests(b.index.manifests)).toEqual([fx.app.digest]);
  });

  it('survives a reset mid-body (resuming with Range) and a 429 with Retry-After', async () => {
    proxy.clearFaults();
    proxy.clearRequests();
    proxy.resetBlobOnce(fx.app.bigLayer, 1024 * 1024);
    proxy.tooManyRequestsOnce(/\/manifests\//, 1);
    const r = await save([viaProxy(fx.app)]);
    expect(r.code, r.report).toBe(0);

    const b = await extractBundle(r.out, join(r.home, 'extract'));
    expect(indexDigests(b.index.manifests)).toEqual([fx.app.digest]);
    expect(await b.badBlobs()).toEqual([]);
    expect(b.entries).toContain(`blobs/sha256/${fx.app.bigLayer.slice('sha256:'.length)}`);

    const gets = proxy.blobGets(fx.app.bigLayer);
    expect(gets[0]?.fault, JSON.stringify(gets)).toBe('reset');
    const resumed = gets.slice(1).find((q) => /^bytes=[1-9]\d*-$/.test(q.range ?? ''));
    expect(resumed, `a Range request after the reset: ${JSON.stringify(gets)}`).toBeDefined();
    expect(resumed?.status).toBe(206);
    // The registry's own access log agrees (it logs status, not the Range header).
    const blobPath = `/v2/test/app/blobs/${fx.app.bigLayer}`;
    expect(open.logText()).toMatch(new RegExp(`"GET ${blobPath} HTTP/1\\.1" 206 `));

    const limited = proxy.requests.findIndex((q) => q.fault === '429');
    expect(limited).toBeGreaterThanOrEqual(0);
    const first = proxy.requests[limited]!;
    const retry = proxy.requests.slice(limited + 1).find((q) => q.method === first.method && q.url === first.url);
    expect(retry, `a retry of ${first.method} ${first.url}`).toBeDefined();
    expect(retry!.at - first.at, 'Retry-After: 1 honoured').toBeGreaterThanOrEqual(900);
  });
});

describe('ferry save for containerd', () => {
  it('an uncompressed bundle imports with ctr and keeps the upstream manifest digests', async () => {
    const r = await save([fx.busybox.ref, fx.app.ref], { extra: ['--compression', 'none'], name: 'bundle.tar' });
    expect(r.code, r.report).toBe(0);
    const head = readFileSync(r.out).subarray(0, 2);
    expect(head.equals(Buffer.from([0x1f, 0x8b])), 'not gzip').toBe(false);

    const imp = await dockerd.ctr(['-n', 'ferrytest', 'images', 'import', '--no-unpack', r.out]);
    expect(imp.code, imp.stdout + imp.stderr).toBe(0);
    const ls = await dockerd.ctr(['-n', 'ferrytest', 'images', 'ls']);
    expect(ls.code, ls.stderr).toBe(0);
    for (const f of [fx.busybox, fx.app]) {
      const line = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === f.ref);
      expect(line, `ctr images ls:\n${ls.stdout}`).toBeDefined();
      expect(line).toContain(f.digest);
    }
  });
});

describe('ferry save of a multi-arch index', () => {
  it('--platform all keeps the index digest and every platform', async () => {
    const r = await save([fx.multi.ref], { extra: ['--platform', 'all'] });
    expect(r.code, r.report).toBe(0);
    const b = await extractBundle(r.out, join(r.home, 'extract'));
    expect(indexDigests(b.index.manifests)).toEqual([fx.multi.digest]);
    for (const d of [fx.multi.amd64, fx.multi.arm64]) {
      expect(b.entries).toContain(`blobs/sha256/${d.slice('sha256:'.length)}`);
    }
    expect(await b.badBlobs()).toEqual([]);
  });

  it.each([
    { flags: [] as string[], arch: 'amd64' as const },
    { flags: ['--platform', 'linux/arm64'], arch: 'arm64' as const },
  ])('platform $arch (flags: $flags) keeps that platform manifest digest', async ({ flags, arch }) => {
    const r = await save([fx.multi.ref], { extra: flags });
    expect(r.code, r.report).toBe(0);
    const b = await extractBundle(r.out, join(r.home, 'extract'));
    expect(indexDigests(b.index.manifests)).toEqual([fx.multi[arch]]);
    expect(await b.badBlobs()).toEqual([]);
  });
});

describe('ferry save usage errors', () => {
  it('an invalid reference (uppercase repository) exits 2, names it, and writes nothing', async () => {
    const bad = `${open.host}/Test/BusyBox:1`;
    const r = await save([bad]);
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toContain(bad);
    expect(readdirSync(r.outDir)).toEqual([]);
  });

  it('an unknown --compression exits 2 and writes nothing', async () => {
    const r = await save([fx.busybox.ref], { extra: ['--compression', 'zip'] });
    expect(r.code, r.report).toBe(2);
    expect(r.stderr).toMatch(/compression/);
    expect(readdirSync(r.outDir), r.report).toEqual([]);
  });
});
