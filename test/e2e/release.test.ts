/**
 * Acceptance checks for the release artifacts (`npm run release`, scripts/release.mjs): the
 * single executable (Node embedded) and the one-file .mjs do the disconnected side's work on a
 * host with no network, no npm and no node on PATH, from a directory with no node_modules.
 *
 * Built once here into the suite's temp dir (linux-x64 and .mjs; FERRY_E2E_RELEASE_DIR names
 * a prebuilt release/ instead). Every ferry run is `ip netns exec <loopback-only namespace>
 * env -i PATH=<empty dir> HOME=... <artifact>`. Inside the namespace: a registry on
 * 127.0.0.1:5000 for `push`; `load` reaches the test dockerd through its Unix socket. Fixture
 * bundles: `ferry save` of the repo build (dist/) from images docker built. Oracles: skopeo
 * inspect --raw inside the namespace (digests), docker image inspect (IDs are config digests),
 * sha256sum -c.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, describeRun, ferryEnv } from './helpers/ferry.js';
import type { Fixtures, ImageFixture } from './helpers/fixtures.js';
import { inspectImage, removeAllImages } from './helpers/internal-docker.js';
import { saveBundle, startServers, type Servers } from './helpers/internal-suite.js';
import { createNetns, IP_BIN, type Netns } from './helpers/netns.js';
import { run, runOk, type RunResult } from './helpers/processes.js';
import { rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const EXE = `ferry-${VERSION}-linux-x64`;
const MJS = `ferry-${VERSION}.mjs`;

const tmp = suiteTempDir('release');
let servers: Servers;
let fx: Fixtures;
let ns: Netns;
let registry: { host: string; log(): string };
/** The internal side's directory: the artifacts, SHA256SUMS, README and the bundle; no node_modules. */
let internal: string;
let bundle: string;

/** Builds the release into `out` (linux-x64 and .mjs), or copies FERRY_E2E_RELEASE_DIR's. */
async function release(out: string): Promise<void> {
  const prebuilt = process.env.FERRY_E2E_RELEASE_DIR;
  if (prebuilt) {
    for (const f of [EXE, MJS, 'SHA256SUMS', 'README']) copyFileSync(join(prebuilt, f), join(out, f));
    return;
  }
  const r = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'release.mjs'), '--out', out, '--targets', 'linux-x64,mjs'], { cwd: REPO_ROOT, timeoutMs: 240_000 });
  if (r.code !== 0) throw new Error(`npm run release failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
}

beforeAll(async () => {
  internal = tmp.join('internal');
  mkdirSync(join(internal, 'empty-path'), { recursive: true });
  const [s] = await Promise.all([startServers(tmp.path), release(internal)]);
  servers = s;
  fx = servers.fx;
  bundle = await saveBundle(tmp.path, 'two.tar.gz', [fx.busybox.ref, fx.app.ref]);
  copyFileSync(bundle, join(internal, 'two.tar.gz'));
  ns = await createNetns('release');
  registry = await ns.startRegistry(tmp.join('ns-registry'));
});

afterAll(async () => {
  await ns?.remove();
  await servers?.stop();
});

interface Variant {
  name: string;
  /** The command line that starts ferry, absolute paths only. */
  argv: () => string[];
  build: 'executable' | 'bundle';
  /** Repository prefix in the namespace's registry. */
  prefix: string;
}

const variants: Variant[] = [
  { name: EXE, argv: () => [join(internal, EXE)], build: 'executable', prefix: 'exe' },
  { name: `node ${MJS}`, argv: () => [process.execPath, join(internal, MJS)], build: 'bundle', prefix: 'mjs' },
];

/**
 * Runs ferry in the namespace with nothing inherited: `env -i` with PATH an empty directory,
 * HOME, cache and Docker config under `home`, cwd the internal directory.
 */
async function offline(v: Variant, args: string[], extraEnv: Record<string, string> = {}): Promise<RunResult & { report: string }> {
  const home = tmp.join('homes', `${v.prefix}-${args[0]}-${Date.now()}`);
  const env = { ...ferryEnv(home), PATH: join(internal, 'empty-path'), LANG: 'C.UTF-8', ...extraEnv };
  const assigns = Object.entries(env).map(([k, val]) => `${k}=${val ?? ''}`);
  const r = await ns.exec('/usr/bin/env', ['-i', ...assigns, ...v.argv(), ...args], { cwd: internal, timeoutMs: 150_000 });
  return { ...r, report: describeRun(r) };
}

function pushedRef(v: Variant, f: ImageFixture): string {
  return `${registry.host}/${v.prefix}/${f.repo}:${f.tag}`;
}

describe('release artifacts', () => {
  it('SHA256SUMS checks with sha256sum -c, and the README says how to check and run', async () => {
    const out = await runOk('/usr/bin/sha256sum', ['-c', 'SHA256SUMS'], { cwd: internal });
    expect(out).toContain(`${EXE}: OK`);
    expect(out).toContain(`${MJS}: OK`);
    const readme = readFileSync(join(internal, 'README'), 'utf8');
    expect(readme).toContain('sha256sum -c');
    expect(readme).toContain(`./${EXE} verify`);
  });

  it('the namespace has loopback only, PATH has no node or npm, and no node_modules is above the directory', async () => {
    const links = await ns.exec(IP_BIN, ['-o', 'link']);
    expect(links.stdout.trim().split('\n').map((l) => l.split(':')[1]?.trim())).toEqual(['lo']);
    const which = await ns.exec('/usr/bin/env', ['-i', `PATH=${join(internal, 'empty-path')}`, '/bin/sh', '-c', 'command -v node || command -v npm']);
    expect(which.code, which.stdout).not.toBe(0);
    for (let d = internal; d !== dirname(d); d = dirname(d)) expect(existsSync(join(d, 'node_modules')), d).toBe(false);
    expect(readdirSync(internal).sort()).toEqual(['README', 'SHA256SUMS', 'empty-path', EXE, MJS, 'two.tar.gz'].sort());
  });
});

describe.each(variants)('$name, offline', (v) => {
  it('version --json: the release, its version, the Node inside', async () => {
    const r = await offline(v, ['version', '--json']);
    expect(r.code, r.report).toBe(0);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(info).toMatchObject({ command: 'version', version: VERSION, release: true, build: v.build, node: process.version, platform: 'linux-x64' });
    expect(String(info.commit)).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    const plain = await offline(v, ['--version']);
    expect(plain.code, plain.report).toBe(0);
    expect(plain.stdout).toContain(`ferry ${VERSION}`);
    expect(plain.stdout).toContain(process.version);
  });

  it('verify checks the bundle', async () => {
    const r = await offline(v, ['verify', 'two.tar.gz']);
    expect(r.code, r.report).toBe(0);
  });

  it('ls lists both images with their digests', async () => {
    const r = await offline(v, ['ls', 'two.tar.gz', '--json']);
    expect(r.code, r.report).toBe(0);
    const digests = (JSON.parse(r.stdout) as { images: { digest: string }[] }).images.map((i) => i.digest);
    expect(digests.sort()).toEqual([fx.busybox.digest, fx.app.digest].sort());
  });

  it('push into the registry inside the namespace keeps every digest', async () => {
    const r = await offline(v, ['push', 'two.tar.gz', '--to', `${registry.host}/${v.prefix}`]);
    expect(r.code, `${r.report}\n${registry.log().slice(-2000)}`).toBe(0);
    for (const f of [fx.busybox, fx.app]) {
      const raw = await ns.exec('/usr/bin/skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${pushedRef(v, f)}`]);
      expect(raw.code, raw.stderr).toBe(0);
      expect(sha256(raw.stdout)).toBe(f.digest);
    }
  });

  it('load into the dockerd behind its Unix socket: the images, by config digest', async () => {
    await removeAllImages(servers.dockerd);
    const r = await offline(v, ['load', 'two.tar.gz'], { DOCKER_HOST: `unix://${servers.dockerd.socket}` });
    expect(r.code, r.report).toBe(0);
    for (const f of [fx.busybox, fx.app]) {
      const config = (JSON.parse(await rawManifest(f.ref)) as { config: { digest: string } }).config.digest;
      const img = await inspectImage(servers.dockerd, f.ref);
      expect(img?.Id, `${f.ref} after load\n${r.report}`).toBe(config);
    }
  });
});
