/**
 * Acceptance checks for `ferry push`, `ferry login` and `ferry logout`: the built CLI pushes
 * bundles that `ferry save` made (from images built with docker) into a second real registry
 * (open, htpasswd, token auth). Oracles: skopeo inspect --raw (the bytes the target serves,
 * hashed here), the target registry's access log (which requests ferry made), docker pull and
 * run from the target, and the docker CLI reading the config file `ferry login` wrote.
 */
import { readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDockerConfig } from './helpers/docker-config.js';
import { APP_TEXT, BUSYBOX_OUTPUT, type Fixtures, type ImageFixture } from './helpers/fixtures.js';
import { removeAllImages } from './helpers/internal-docker.js';
import { accessLog, catalog, logMark, manifestPuts, showLines, tags, type AccessLine } from './helpers/internal-registry-log.js';
import { ferryIn, freshHome, saveBundle, startServers, type HomeRun, type Servers } from './helpers/internal-suite.js';
import type { Credentials, Registry } from './helpers/registry.js';
import { rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const USER: Credentials = { user: 'ferry-push', password: 'pw-Push-7yQ2-never-print-me' };

const tmp = suiteTempDir('push');
let servers: Servers;
let fx: Fixtures;
let open: Registry;
let basic: Registry;
let token: Registry;
/** busybox, app and the multi-arch index, saved with --platform all. */
let bundle: string;

beforeAll(async () => {
  servers = await startServers(tmp.path, [{}, { auth: 'htpasswd', users: [USER] }, { auth: 'token', users: [USER] }]);
  fx = servers.fx;
  [open, basic, token] = servers.targets as [Registry, Registry, Registry];
  bundle = await saveBundle(tmp.path, 'images.tar.gz', [fx.busybox.ref, fx.app.ref, fx.multi.ref], ['--platform', 'all']);
});

afterAll(async () => {
  await servers?.stop();
});

interface PushReport {
  command: string;
  status: string;
  mappingFile: string;
  images: {
    source: string;
    target: string;
    digest: string;
    status: string;
    blobs: { exists: number; mounted: number; uploaded: number };
    error: unknown;
  }[];
}

interface Mapping {
  registry: string;
  images: { source: string; target: string; digest: string }[];
}

const all = (): ImageFixture[] => [fx.busybox, fx.app, fx.multi];
const bySource = <T extends { source: string }>(xs: T[]): T[] => [...xs].sort((a, b) => a.source.localeCompare(b.source));
/** A request that starts, continues or completes a blob upload (POST, PATCH, PUT .../blobs/uploads/). */
const isBlobUpload = (l: AccessLine) => ['POST', 'PATCH', 'PUT'].includes(l.method) && l.url.includes('/blobs/uploads/');

/**
 * Asserts that the target serves, for every fixture under `repoOf(f)`, exactly the bytes the
 * source registry serves: the root (manifest or index) by tag, and each platform manifest of
 * the index by digest.
 */
async function expectSameBytes(host: string, repoOf: (f: ImageFixture) => string, creds?: Credentials): Promise<void> {
  for (const f of all()) {
    const source = await rawManifest(f.ref);
    const target = await rawManifest(`${host}/${repoOf(f)}:${f.tag}`, creds);
    expect(sha256(target), `digest of ${host}/${repoOf(f)}:${f.tag}`).toBe(f.digest);
    expect(target, `bytes of ${host}/${repoOf(f)}:${f.tag}`).toBe(source);
  }
  for (const child of [fx.multi.amd64, fx.multi.arm64]) {
    const target = await rawManifest(`${host}/${repoOf(fx.multi)}@${child}`, creds);
    expect(sha256(target)).toBe(child);
  }
}

describe('ferry save -> verify -> push into a second registry', () => {
  let first: HomeRun;
  let firstMark: number;

  it('the bundle verifies before it is pushed', async () => {
    const r = await ferryIn(tmp.path, ['verify', bundle]);
    expect(r.code, r.report).toBe(0);
  });

  it('pushes every image (exit 0) and the target serves the same bytes and digests, the index included', async () => {
    firstMark = logMark(open);
    first = await ferryIn(tmp.path, ['push', bundle, '--to', `${open.host}/mirror`, '--json']);
    expect(first.code, first.report).toBe(0);
    await expectSameBytes(open.host, (f) => `mirror/${f.repo}`);
    expect(first.stdout + first.stderr).not.toMatch(/warning/i);
  });

  it('the --json report lists every image as ok with its target and digest', () => {
    const report = JSON.parse(first.stdout) as PushReport;
    expect(report).toMatchObject({ command: 'push', status: 'ok' });
    expect(bySource(report.images).map((i) => ({ source: i.source, target: i.target, digest: i.digest, status: i.status, error: i.error }))).toEqual(
      bySource(all().map((f) => ({
        source: f.ref,
        target: `${open.host}/mirror/${f.repo}:${f.tag}@${f.digest}`,
        digest: f.digest,
        status: 'ok',
        error: null,
      }))),
    );
  });

  it('writes <bundle name>.mapping.json in the current directory: source -> target@digest', () => {
    const report = JSON.parse(first.stdout) as PushReport;
    const file = join(first.home, 'images.mapping.json');
    expect(join(first.home, report.mappingFile)).toBe(file);
    const mapping = JSON.parse(readFileSync(file, 'utf8')) as Mapping;
    expect(mapping.registry).toBe(open.host);
    expect(bySource(mapping.images)).toEqual(
      bySource(all().map((f) => ({ source: f.ref, target: `${open.host}/mirror/${f.repo}:${f.tag}@${f.digest}`, digest: f.digest }))),
    );
    expect(existsSync(`${file}.partial`)).toBe(false);
  });

  it('mounts the layer busybox and app share from one repository into the other instead of uploading it twice', () => {
    const shared = fx.busybox.layers[0]!;
    expect(fx.app.layers).toContain(shared);
    const lines = accessLog(open, firstMark);
    const mounts = lines.filter((l) => l.method === 'POST' && l.url.includes('/blobs/uploads/?mount='));
    const sharedMount = mounts.find((l) => decodeURIComponent(l.url).includes(`mount=${shared}`));
    expect(sharedMount, `mount POSTs:\n${showLines(mounts)}`).toBeDefined();
    expect(sharedMount!.status).toBe(201);
    expect(decodeURIComponent(sharedMount!.url)).toMatch(/from=mirror\/test\/(busybox|app)(&|$)/);
    const uploadsOfShared = lines.filter((l) => l.method === 'PUT' && decodeURIComponent(l.url).includes(`digest=${shared}`));
    expect(uploadsOfShared, showLines(uploadsOfShared)).toHaveLength(1);
    const report = JSON.parse(first.stdout) as PushReport;
    expect(report.images.reduce((n, i) => n + i.blobs.mounted, 0)).toBeGreaterThanOrEqual(1);
  });

  it('pushes platform manifests before their index, and every manifest after its blobs', () => {
    const lines = accessLog(open, firstMark);
    const putAt = (path: string) => lines.findIndex((l) => l.method === 'PUT' && l.url === path);
    const index = putAt('/v2/mirror/test/multi/manifests/1');
    expect(index).toBeGreaterThanOrEqual(0);
    for (const child of [fx.multi.amd64, fx.multi.arm64]) {
      const at = putAt(`/v2/mirror/test/multi/manifests/${child}`);
      expect(at, `PUT of ${child}`).toBeGreaterThanOrEqual(0);
      expect(at).toBeLessThan(index);
    }
    for (const repo of ['busybox', 'app', 'multi']) {
      const firstManifest = lines.findIndex((l) => l.method === 'PUT' && l.url.startsWith(`/v2/mirror/test/${repo}/manifests/`));
      const lastBlob = lines.map((l, i) => ({ l, i })).filter(({ l }) => isBlobUpload(l) && l.url.startsWith(`/v2/mirror/test/${repo}/`)).pop();
      expect(lastBlob && lastBlob.i < firstManifest, `blobs before manifests in ${repo}`).toBe(true);
    }
  });

  it('a second push uploads nothing: every blob HEAD hits, no upload is started, exit 0', async () => {
    const mark = logMark(open);
    const again = await ferryIn(tmp.path, ['push', bundle, '--to', `${open.host}/mirror`, '--json']);
    expect(again.code, again.report).toBe(0);
    const lines = accessLog(open, mark);
    const uploads = lines.filter(isBlobUpload);
    expect(uploads, `blob uploads on the second push:\n${showLines(uploads)}`).toEqual([]);
    const heads = lines.filter((l) => l.method === 'HEAD' && l.url.includes('/blobs/'));
    expect(heads.length).toBeGreaterThan(0);
    expect(heads.filter((l) => l.status !== 200), showLines(heads)).toEqual([]);
    const report = JSON.parse(again.stdout) as PushReport;
    for (const i of report.images) expect(i.blobs, i.source).toMatchObject({ uploaded: 0, mounted: 0 });
    await expectSameBytes(open.host, (f) => `mirror/${f.repo}`);
  });

  it('docker pulls the pushed images from the target and they run', async () => {
    await removeAllImages(servers.dockerd);
    const busybox = `${open.host}/mirror/test/busybox:1`;
    const app = `${open.host}/mirror/test/app:1`;
    for (const ref of [busybox, app, `${open.host}/mirror/test/multi:1`]) {
      const pull = await servers.dockerd.docker(['pull', ref]);
      expect(pull.code, `docker pull ${ref}: ${pull.stderr}`).toBe(0);
    }
    const hello = await servers.dockerd.docker(['run', '--rm', '--network', 'none', busybox]);
    expect(hello.code, hello.stderr).toBe(0);
    expect(hello.stdout.trim()).toBe(BUSYBOX_OUTPUT);
    const out = await servers.dockerd.docker(['run', '--rm', '--network', 'none', app]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(APP_TEXT);
    expect(out.stdout).toContain(`${fx.app.randomSha256}  /app/random.bin`);
    const digests = await servers.dockerd.dockerOk(['image', 'inspect', '--format', '{{json .RepoDigests}}', app]);
    expect(JSON.parse(digests)).toContain(`${open.host}/mirror/test/app@${fx.app.digest}`);
  });

  it('--keep-registry-host keeps the source host as a path component, ":" becoming "-"; --mapping-file says where the mapping goes', async () => {
    const hostPart = servers.source.host.replace(':', '-');
    const { home, env } = freshHome(tmp.path);
    const mappingFile = join(home, 'elsewhere.json');
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `${open.host}/kept`, '--keep-registry-host', '--mapping-file', mappingFile], { home, env });
    expect(r.code, r.report).toBe(0);
    await expectSameBytes(open.host, (f) => `kept/${hostPart}/${f.repo}`);
    const mapping = JSON.parse(readFileSync(mappingFile, 'utf8')) as Mapping;
    expect(bySource(mapping.images).map((m) => m.target)).toEqual(
      bySource(all().map((f) => ({ source: f.ref, t: `${open.host}/kept/${hostPart}/${f.repo}:${f.tag}@${f.digest}` }))).map((x) => x.t),
    );
    expect(existsSync(join(home, 'images.mapping.json')), 'no mapping file at the default place').toBe(false);
  });

  it('--to HOST without a prefix puts the repository path at the root of the target', async () => {
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', open.host]);
    expect(r.code, r.report).toBe(0);
    await expectSameBytes(open.host, (f) => f.repo);
    const repos = await catalog(open);
    for (const f of all()) {
      expect(repos).toContain(f.repo);
      expect(repos).toContain(`mirror/${f.repo}`);
    }
  });
});

describe('ferry push sends every blob body whole', () => {
  // Each run uploads every blob (fresh cache, fresh repositories), many on new connections:
  // a body stream that starts flowing before the HTTP client reads it loses its first chunks
  // (the registry answers DIGEST_INVALID, or undici a content-length mismatch).
  it('ten pushes into fresh repositories, at concurrency 1 and 8, all succeed with the same digests', async () => {
    const failures: string[] = [];
    for (let i = 0; i < 10; i++) {
      const prefix = `repeat-${i}`;
      const r = await ferryIn(tmp.path, ['push', bundle, '--to', `${open.host}/${prefix}`, '--concurrency', i % 2 ? '8' : '1']);
      if (r.code !== 0) failures.push(`push ${i}: ${r.report}`);
      else await expectSameBytes(open.host, (f) => `${prefix}/${f.repo}`);
    }
    expect(failures.join('\n')).toBe('');
  });
});

describe('ferry push of an image saved by digest only', () => {
  it('pushes it by digest, without a tag, and maps it to host/prefix/repo@digest', async () => {
    const byDigest = `${servers.source.host}/${fx.busybox.repo}@${fx.busybox.digest}`;
    const file = await saveBundle(tmp.path, 'by-digest.tar.gz', [byDigest]);
    const r = await ferryIn(tmp.path, ['push', file, '--to', `${open.host}/digest-only`, '--json']);
    expect(r.code, r.report).toBe(0);
    const ref = `${open.host}/digest-only/${fx.busybox.repo}`;
    expect(sha256(await rawManifest(`${ref}@${fx.busybox.digest}`))).toBe(fx.busybox.digest);
    expect(await tags(open, `digest-only/${fx.busybox.repo}`)).toEqual([]);
    const mapping = JSON.parse(readFileSync(join(r.home, 'by-digest.mapping.json'), 'utf8')) as Mapping;
    expect(mapping.images.map((i) => i.target)).toEqual([`${ref}@${fx.busybox.digest}`]);
  });
});

describe('ferry login, push and logout against registries with authentication', () => {
  const auth = (c: Credentials) => Buffer.from(`${c.user}:${c.password}`).toString('base64');
  /** A Docker config with another registry's entry and a CLI setting, both to be kept. */
  const existing = {
    auths: { 'other.registry.example:5000': { auth: Buffer.from('someone:else').toString('base64') } },
    psFormat: 'table {{.ID}}',
  };

  it('login stores the credentials as docker login does, push works with them, docker reads them, logout removes them', async () => {
    const { home, env } = freshHome(tmp.path);
    const config = join(env.DOCKER_CONFIG!, 'config.json');
    writeFileSync(config, `${JSON.stringify(existing, null, 2)}\n`, { mode: 0o600 });

    const login = await ferryIn(tmp.path, ['login', basic.host, '-u', USER.user, '--password-stdin'], { home, env, input: `${USER.password}\n` });
    expect(login.code, login.report).toBe(0);
    expect(login.stdout + login.stderr).not.toContain(USER.password);
    const stored = JSON.parse(readFileSync(config, 'utf8')) as { auths: Record<string, { auth?: string }>; psFormat?: string };
    expect(stored.auths[basic.host]?.auth).toBe(auth(USER));
    expect(stored.auths['other.registry.example:5000']).toEqual(existing.auths['other.registry.example:5000']);
    expect(stored.psFormat).toBe(existing.psFormat);
    expect(statSync(config).mode & 0o777).toBe(0o600);

    const push = await ferryIn(tmp.path, ['push', bundle, '--to', `${basic.host}/logged-in`], { home, env });
    expect(push.code, push.report).toBe(0);
    expect(push.stdout + push.stderr).not.toContain(USER.password);
    await expectSameBytes(basic.host, (f) => `logged-in/${f.repo}`, USER);

    // The docker CLI reads the file ferry wrote and pulls with it.
    const pull = await servers.dockerd.docker(['pull', `${basic.host}/logged-in/test/busybox:1`], { env: { DOCKER_CONFIG: env.DOCKER_CONFIG } });
    expect(pull.code, `docker pull with ferry's config: ${pull.stderr}`).toBe(0);

    const logout = await ferryIn(tmp.path, ['logout', basic.host], { home, env });
    expect(logout.code, logout.report).toBe(0);
    const after = JSON.parse(readFileSync(config, 'utf8')) as { auths: Record<string, unknown>; psFormat?: string };
    expect(after.auths[basic.host]).toBeUndefined();
    expect(after.auths['other.registry.example:5000']).toEqual(existing.auths['other.registry.example:5000']);
    expect(after.psFormat).toBe(existing.psFormat);

    const denied = await ferryIn(tmp.path, ['push', bundle, '--to', `${basic.host}/logged-out`], { home, env });
    expect(denied.code, denied.report).toBe(1);
    expect(denied.stderr).toMatch(/401|credential|unauthori[sz]ed/i);
    expect((await catalog(basic, USER)).filter((r) => r.startsWith('logged-out/'))).toEqual([]);
  });

  it('login into an empty Docker config dir writes the same config.json as docker login, mode 0600', async () => {
    const { home, env } = freshHome(tmp.path);
    const login = await ferryIn(tmp.path, ['login', basic.host, '-u', USER.user, '--password-stdin'], { home, env, input: USER.password });
    expect(login.code, login.report).toBe(0);
    const config = join(env.DOCKER_CONFIG!, 'config.json');
    const ferryWrote = JSON.parse(readFileSync(config, 'utf8')) as unknown;
    expect(ferryWrote).toEqual({ auths: { [basic.host]: { auth: auth(USER) } } });
    expect(statSync(config).mode & 0o777).toBe(0o600);

    // The oracle: docker login into another empty config dir.
    const dockerDir = join(home, 'docker-cli-config');
    const docker = await servers.dockerd.docker(['login', basic.host, '-u', USER.user, '--password-stdin'], {
      env: { DOCKER_CONFIG: dockerDir },
      input: USER.password,
    });
    expect(docker.code, docker.stderr).toBe(0);
    expect(ferryWrote).toEqual(JSON.parse(readFileSync(join(dockerDir, 'config.json'), 'utf8')));
  });

  it('a wrong password fails with exit 1, leaves the config untouched and is never printed', async () => {
    const wrong: Credentials = { user: USER.user, password: 'wrong-Pw-9kX-never-print-me' };
    const { home, env } = freshHome(tmp.path);
    const config = join(env.DOCKER_CONFIG!, 'config.json');
    const before = `${JSON.stringify(existing, null, 2)}\n`;
    writeFileSync(config, before, { mode: 0o600 });
    const r = await ferryIn(tmp.path, ['login', basic.host, '-u', wrong.user, '--password-stdin', '--debug'], { home, env, input: `${wrong.password}\n` });
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain(basic.host);
    expect(r.stdout + r.stderr).not.toContain(wrong.password);
    expect(r.stdout + r.stderr).not.toContain(auth(wrong));
    expect(readFileSync(config, 'utf8')).toBe(before);

    // With no config at all, none is created.
    const fresh = freshHome(tmp.path);
    const r2 = await ferryIn(tmp.path, ['login', basic.host, '-u', wrong.user, '--password-stdin'], { ...fresh, input: wrong.password });
    expect(r2.code, r2.report).toBe(1);
    expect(existsSync(join(fresh.env.DOCKER_CONFIG!, 'config.json'))).toBe(false);
  });

  it('push without credentials to an htpasswd registry fails with exit 1, naming it, and pushes no manifest', async () => {
    const mark = logMark(basic);
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `${basic.host}/anonymous`]);
    expect(r.code, r.report).toBe(1);
    expect(r.stderr).toContain(basic.host);
    expect(r.stderr).toMatch(/401|credential|unauthori[sz]ed/i);
    const puts = manifestPuts(accessLog(basic, mark)).filter((l) => l.status < 300);
    expect(puts, showLines(puts)).toEqual([]);
  });

  it('pushes to a token-auth registry with credentials from the Docker config; digests unchanged', async () => {
    const { home, env } = freshHome(tmp.path);
    writeDockerConfig(env.DOCKER_CONFIG!, { [token.host]: USER });
    const r = await ferryIn(tmp.path, ['push', bundle, '--to', `${token.host}/tok`], { home, env });
    expect(r.code, r.report).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(USER.password);
    await expectSameBytes(token.host, (f) => `tok/${f.repo}`, USER);
    const granted = token.issuer!.requests.filter(
      (q) => q.user === USER.user && q.status === 200 && q.scopes.some((s) => /^repository:tok\/test\/app:.*push/.test(s)),
    );
    expect(granted, 'a push token for tok/test/app issued to the user').not.toEqual([]);
  });
});
