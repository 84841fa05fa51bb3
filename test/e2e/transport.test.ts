/**
 * Transport acceptance checks for `ferry save` (docs/cli.md "Registry options", retries and
 * redirects under "ferry save"): the built CLI against real servers on loopback.
 *
 * - TLS: a distribution registry serving HTTPS with a certificate from a test CA (openssl).
 *   Loopback names may use unverified TLS; a non-loopback name (`registry.test`, pointed at
 *   127.0.0.1 by a private /etc/hosts in a mount namespace, see helpers/transport-hosts.ts)
 *   gets verified TLS only, trusting `--ca-file`.
 * - HTTPS_PROXY / HTTP_PROXY / NO_PROXY: an in-process forward proxy (CONNECT and absolute-form
 *   GET) that records what went through it, and can reach names ferry cannot.
 * - Protocol corners through a scripted proxy in front of the real registries: blob GETs
 *   redirected to storage on another host, a schema1 manifest, bytes that do not match a
 *   pinned digest, 503s, a 401 for a token.
 * - IPv6: a registry on [::1].
 * - No credential (registry password, its base64, bearer tokens, proxy password, a presigned
 *   URL's signature) in any output of this file, --debug included, nor in any bundle or cache.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBundle } from './helpers/bundle.js';
import { writeDockerConfig } from './helpers/docker-config.js';
import type { Dockerd } from './helpers/dockerd.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { refOn, type Fixtures, type ImageFixture } from './helpers/fixtures.js';
import type { RunResult } from './helpers/processes.js';
import type { Credentials, Registry } from './helpers/registry.js';
import { copyImage, rawManifest, registryDigest } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { startBlobStorage, type BlobStorage } from './helpers/transport-blob-storage.js';
import { startForwardProxy, type ForwardProxy } from './helpers/transport-forward-proxy.js';
import { checkPrivateHosts, runFerryWithHosts, writeHostsFile } from './helpers/transport-hosts.js';
import { startTransportRegistry, type TransportRegistry } from './helpers/transport-registry.js';
import { blobGet, firstN, manifestGet, startScriptedProxy, type ScriptedProxy } from './helpers/transport-scripted-proxy.js';
import { makeTestCa, type TestCa } from './helpers/transport-tls.js';
import { startAuthRegistries } from './helpers/auth-registries.js';

const USER: Credentials = { user: 'ferry-e2e', password: 'pw-Tr4nsp0rt-never-print-me' };
const PROXY_USER: Credentials = { user: 'proxy-e2e', password: 'proxy-pw-9Qx-never-print-me' };
/** Not loopback to ferry; resolves to 127.0.0.1 only in a private /etc/hosts or via the proxy. */
const TLS_NAME = 'registry.test';
/** Another name the private /etc/hosts points at 127.0.0.1, absent from the certificate. */
const WRONG_NAME = 'elsewhere.test';
/** A name only the forward proxy can reach (mapped to the open registry). */
const PLAIN_NAME = 'plain.test';

/** Whether the machine has an IPv6 loopback address (checked while collecting tests). */
const HAS_IPV6_LOOPBACK = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === '::1'));

const tmp = suiteTempDir('transport');
let dockerd: Dockerd;
let open: Registry;
let basic: Registry;
let token: Registry;
let fx: Fixtures;
let ca: TestCa;
let otherCa: TestCa;
let tls: TransportRegistry;
let v6: TransportRegistry | undefined;
let hostsFile: string;
/** Why a private /etc/hosts is unavailable, if it is. */
let noPrivateHosts: unknown;
/** Why the [::1] registry did not start, if it did not (with an IPv6 loopback present). */
let v6Error: unknown;
let fwd: ForwardProxy;
let fwdAuth: ForwardProxy;
let storage: BlobStorage;
let sameIpStorage: BlobStorage;
let viaOpen: ScriptedProxy;
let viaBasic: ScriptedProxy;
let viaToken: ScriptedProxy;
/** config + layer digests of test/busybox:1 and test/app:1. */
let blobs: { busybox: string[]; app: string[] };

beforeAll(async () => {
  ({ dockerd, open, basic, token, fx } = await startAuthRegistries(USER, tmp.join('fixtures'), (s) => {
    ({ dockerd, open, basic, token } = s as Required<typeof s>);
  }));
  blobs = { busybox: await blobDigests(fx.busybox), app: await blobDigests(fx.app) };

  mkdirSync(tmp.join('pki'));
  ca = await makeTestCa(tmp.join('pki'), 'ferry-e2e-ca');
  otherCa = await makeTestCa(tmp.join('pki'), 'ferry-e2e-other-ca');
  const cert = await ca.issue('registry', [`DNS:${TLS_NAME}`, 'IP:127.0.0.1']);
  tls = await startTransportRegistry({ tls: cert, users: [USER] });
  for (const f of [fx.busybox, fx.multi]) {
    await copyImage(f.ref, refOn(tls.host, f), { destCreds: USER });
    expect(await registryDigest(refOn(tls.host, f), USER)).toBe(f.digest);
  }
  hostsFile = writeHostsFile(tmp.join('hosts'), [`127.0.0.1 ${TLS_NAME}`, `127.0.0.1 ${WRONG_NAME}`]);
  // Only the runs that need it fail when a private /etc/hosts cannot be had here.
  noPrivateHosts = await checkPrivateHosts(hostsFile, TLS_NAME, '127.0.0.1').then(() => undefined, (e: unknown) => e);

  const openPort = open.host.split(':')[1]!;
  fwd = await startForwardProxy({
    routes: { [`${TLS_NAME}:${tls.port}`]: tls.host, [`${PLAIN_NAME}:${openPort}`]: open.host },
  });
  fwdAuth = await startForwardProxy({ auth: PROXY_USER, routes: { [`${PLAIN_NAME}:${openPort}`]: open.host } });
  storage = await startBlobStorage('127.0.0.2');
  sameIpStorage = await startBlobStorage('127.0.0.1');
  [viaOpen, viaBasic, viaToken] = await Promise.all([startScriptedProxy(open.host), startScriptedProxy(basic.host), startScriptedProxy(token.host)]);
  if (HAS_IPV6_LOOPBACK) {
    // Serves what was pushed to the open registry: same storage directory, read only.
    const started6 = await startTransportRegistry({ address: '::1', rootDirectory: join(open.dir, 'data') }).then(
      (r) => ({ r }),
      (e: unknown) => ({ e }),
    );
    if ('r' in started6) v6 = started6.r;
    else v6Error = started6.e;
  }
});

afterAll(async () => {
  await Promise.all([fwd, fwdAuth, storage, sameIpStorage, viaOpen, viaBasic, viaToken].map((s) => s?.stop()));
  await Promise.all([dockerd?.stop(), open?.stop(), basic?.stop(), token?.stop(), tls?.stop(), v6?.stop()]);
});

/** The config and layer digests of an image fixture, from the raw manifest. */
async function blobDigests(f: ImageFixture): Promise<string[]> {
  const m = JSON.parse(await rawManifest(f.ref)) as { config: { digest: string }; layers: { digest: string }[] };
  return [m.config.digest, ...m.layers.map((l) => l.digest)];
}

interface SaveRun extends RunResult {
  out: string;
  outDir: string;
  home: string;
  report: string;
  ms: number;
}

/** Every run of this file, for the credential checks at the end. */
const allRuns: SaveRun[] = [];
/** Signatures of storage servers stopped during a test, for the credential checks. */
const deadSignatures: string[] = [];
let runs = 0;

/**
 * Runs `ferry save refs -o <fresh dir>/bundle.tar.gz ...extra` with a fresh cache and Docker
 * config holding `auths`, extra environment `env`, and with `hosts` a private /etc/hosts.
 */
async function save(
  refs: string[],
  opts: { extra?: string[]; auths?: Record<string, Credentials>; env?: NodeJS.ProcessEnv; hosts?: boolean } = {},
): Promise<SaveRun> {
  if (opts.hosts && noPrivateHosts) throw noPrivateHosts;
  const n = ++runs;
  const home = tmp.join(`run-${n}`);
  const env = { ...ferryEnv(home), ...opts.env };
  if (opts.auths) writeDockerConfig(env.DOCKER_CONFIG!, opts.auths);
  const outDir = join(home, 'out');
  const out = join(outDir, 'bundle.tar.gz');
  mkdirSync(outDir, { recursive: true });
  const args = ['save', ...refs, '-o', out, ...(opts.extra ?? [])];
  const started = Date.now();
  const r = opts.hosts ? await runFerryWithHosts(hostsFile, args, { env }) : await runFerry(args, { env });
  const run = { ...r, out, outDir, home, report: `ferry ${args.join(' ')}\n${describeRun(r)}`, ms: Date.now() - started };
  allRuns.push(run);
  return run;
}

/** Asserts a successful run whose bundle holds exactly `digests` (index.json), all blobs sound. */
async function expectBundle(r: SaveRun, digests: string[]): Promise<void> {
  expect(r.code, r.report).toBe(0);
  const b = await extractBundle(r.out, join(r.home, 'extract'));
  expect(b.index.manifests.map((m) => m.digest).sort()).toEqual([...digests].sort());
  expect(await b.badBlobs()).toEqual([]);
}

/** Asserts a failed run: exit 1 and nothing written next to the bundle. */
function expectFailure(r: SaveRun): void {
  expect(r.code, r.report).toBe(1);
  expect(readdirSync(r.outDir), r.report).toEqual([]);
}

const busyboxOn = (host: string) => refOn(host, fx.busybox);

/** The [::1] registry; throws why it is missing. */
function v6Registry(): TransportRegistry {
  if (!v6) throw v6Error ?? new Error('the [::1] registry was not started');
  return v6;
}

describe('ferry save from an HTTPS registry with a test CA', () => {
  it('a loopback registry verified with --ca-file: exit 0, upstream digests', async () => {
    const before = tls.logText().length;
    const r = await save([busyboxOn(tls.host)], { auths: { [tls.host]: USER }, extra: ['--ca-file', ca.caFile] });
    await expectBundle(r, [fx.busybox.digest]);
    expect(tls.logText().slice(before)).toMatch(/"GET \/v2\/test\/busybox\/manifests\/1 HTTP\/1\.1" 200 /);
  });

  it('a loopback registry without --ca-file is still pulled, over TLS without certificate checks (documented for loopback)', async () => {
    const before = tls.logText().length;
    const r = await save([busyboxOn(tls.host)], { auths: { [tls.host]: USER } });
    await expectBundle(r, [fx.busybox.digest]);
    // The registry serves HTTPS only, so every request it logged came over TLS.
    expect(tls.logText().slice(before)).toMatch(/"GET \/v2\/test\/busybox\/manifests\/1 HTTP\/1\.1" 200 /);
  });

  it('a non-loopback name with an untrusted certificate fails with exit 1 and a hint naming --ca-file', async () => {
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, hosts: true });
    expectFailure(r);
    expect(r.stderr).toContain(host);
    expect(r.stderr).toMatch(/certificate/i);
    expect(r.stderr).toMatch(/hint:.*--ca-file/);
  });

  it('a non-loopback name verifies against --ca-file: exit 0', async () => {
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, hosts: true, extra: ['--ca-file', ca.caFile] });
    await expectBundle(r, [fx.busybox.digest]);
  });

  it('a non-loopback name is refused when --ca-file holds another CA', async () => {
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, hosts: true, extra: ['--ca-file', otherCa.caFile] });
    expectFailure(r);
    expect(r.stderr).toMatch(/certificate/i);
  });

  it('a certificate that does not name the host is refused even when its CA is trusted', async () => {
    const host = `${WRONG_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, hosts: true, extra: ['--ca-file', ca.caFile, '--debug'] });
    expectFailure(r);
    expect(r.stderr).toMatch(/altnames|does not match|ERR_TLS_CERT_ALTNAME_INVALID/i);
  });

  it('--insecure-registry NAME:PORT accepts the untrusted certificate', async () => {
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, hosts: true, extra: ['--insecure-registry', host] });
    await expectBundle(r, [fx.busybox.digest]);
  });
});

describe('ferry save with HTTPS_PROXY, HTTP_PROXY and NO_PROXY', () => {

  // As in Go's net/http (skopeo, crane): requests to loopback hosts never go through a proxy.
  it('a loopback registry is never proxied, whatever HTTP_PROXY and HTTPS_PROXY say', async () => {
    fwd.clearRequests();
    const r = await save([busyboxOn(open.host)], { env: { HTTP_PROXY: fwd.url, HTTPS_PROXY: fwd.url } });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requests, JSON.stringify(fwd.requests)).toEqual([]);
  });

  it('HTTPS_PROXY reaches a registry only the proxy can resolve, with CONNECT, and --ca-file is checked inside the tunnel', async () => {
    fwd.clearRequests();
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], { auths: { [host]: USER }, env: { HTTPS_PROXY: fwd.url }, extra: ['--ca-file', ca.caFile] });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requestsFor(host).map((q) => q.kind)).toContain('connect');
    expect(fwd.requestsFor(host).every((q) => q.kind === 'connect')).toBe(true);

    const untrusted = await save([busyboxOn(host)], { auths: { [host]: USER }, env: { HTTPS_PROXY: fwd.url } });
    expectFailure(untrusted);
    expect(untrusted.stderr).toMatch(/certificate/i);
  });

  it('HTTP_PROXY reaches a plain-HTTP --insecure-registry only the proxy can resolve', async () => {
    fwd.clearRequests();
    const host = `${PLAIN_NAME}:${open.host.split(':')[1]}`;
    const r = await save([busyboxOn(host)], { env: { HTTP_PROXY: fwd.url }, extra: ['--insecure-registry', host] });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requestsFor(host).length).toBeGreaterThan(0);
  });

  it('NO_PROXY=127.0.0.1 sends loopback traffic past the proxy', async () => {
    fwd.clearRequests();
    const r = await save([busyboxOn(open.host)], { env: { HTTP_PROXY: fwd.url, HTTPS_PROXY: fwd.url, NO_PROXY: '127.0.0.1' } });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requests).toEqual([]);
  });

  it('NO_PROXY=.test (a domain suffix) sends registry.test past the proxy', async () => {
    fwd.clearRequests();
    const host = `${TLS_NAME}:${tls.port}`;
    const r = await save([busyboxOn(host)], {
      auths: { [host]: USER },
      hosts: true,
      env: { HTTPS_PROXY: fwd.url, NO_PROXY: '.test' },
      extra: ['--ca-file', ca.caFile],
    });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requests).toEqual([]);
  });

  it('proxy credentials in HTTP_PROXY are sent to the proxy, and a wrong one fails without being printed', async () => {
    fwdAuth.clearRequests();
    const proxyUrl = (pw: string) => `http://${PROXY_USER.user}:${pw}@127.0.0.1:${fwdAuth.port}`;
    // A name only the proxy resolves: loopback registries are never proxied.
    const host = `${PLAIN_NAME}:${open.host.split(':')[1]}`;
    const ok = await save([busyboxOn(host)], { env: { HTTP_PROXY: proxyUrl(PROXY_USER.password) }, extra: ['--insecure-registry', host] });
    await expectBundle(ok, [fx.busybox.digest]);
    expect(fwdAuth.requests.length).toBeGreaterThan(0);
    expect(fwdAuth.requests.every((q) => q.authorized)).toBe(true);

    const wrongPw = 'wrong-proxy-pw-Lk2-never-print-me';
    const bad = await save([busyboxOn(host)], { env: { HTTP_PROXY: proxyUrl(wrongPw) }, extra: ['--insecure-registry', host, '--debug'] });
    expectFailure(bad);
    expect(bad.stderr).toContain(host);
    expect(bad.stdout + bad.stderr).not.toContain(wrongPw);
  });
});

describe('ferry save when blob GETs redirect to storage on another host', () => {
  it.each([
    { name: 'htpasswd (Basic), storage on 127.0.0.2', proxy: () => viaBasic, store: () => storage, scheme: 'Basic' },
    { name: 'token (Bearer), storage on 127.0.0.2', proxy: () => viaToken, store: () => storage, scheme: 'Bearer' },
    { name: 'htpasswd (Basic), storage on 127.0.0.1 at another port', proxy: () => viaBasic, store: () => sameIpStorage, scheme: 'Basic' },
  ])('$name: the registry gets Authorization, the storage host never does, and the bundle is right', async ({ proxy, store, scheme }) => {
    const p = proxy();
    const s = store();
    p.clearRequests();
    s.clearRequests();
    p.setScript((q) => (blobGet('test/busybox')(q) || blobGet('test/app')(q) ? { kind: 'offload', storage: s } : undefined));
    try {
      const r = await save([busyboxOn(p.host), refOn(p.host, fx.app)], { auths: { [p.host]: USER } });
      await expectBundle(r, [fx.busybox.digest, fx.app.digest]);
    } finally {
      p.setScript(undefined);
    }
    const fetched = s.requests.map((q) => /\/storage\/(sha256:[0-9a-f]{64})/.exec(q.url)?.[1]);
    expect(new Set(fetched)).toEqual(new Set([...blobs.busybox, ...blobs.app]));
    expect(s.requests.map((q) => q.authorization)).toEqual(s.requests.map(() => undefined));
    const redirected = p.requests.filter((q) => q.action === 'offload');
    expect(redirected.length).toBeGreaterThanOrEqual(new Set([...blobs.busybox, ...blobs.app]).size);
    for (const q of redirected) expect(q.authorization, `${q.method} ${q.url}`).toMatch(new RegExp(`^${scheme} `));
  });
});

describe('ferry save when the registry serves the wrong manifest', () => {
  it('a schema1 manifest fails with exit 1 and says schema1 is not supported', async () => {
    const body = JSON.stringify({
      schemaVersion: 1,
      name: 'test/busybox',
      tag: '1',
      architecture: 'amd64',
      fsLayers: [{ blobSum: fx.busybox.layers[0] }],
      history: [{ v1Compatibility: '{"id":"0000000000000000000000000000000000000000000000000000000000000000"}' }],
      signatures: [],
    });
    viaOpen.setScript((q) =>
      manifestGet('test/busybox', '1')(q)
        ? { kind: 'reply', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }, body }
        : undefined,
    );
    try {
      const r = await save([busyboxOn(viaOpen.host)]);
      expectFailure(r);
      expect(r.stderr).toContain(`${viaOpen.host}/test/busybox:1`);
      expect(r.stderr).toMatch(/schema1 manifests are not supported/);
    } finally {
      viaOpen.setScript(undefined);
    }
  });

  it('a reference pinned by digest fails with exit 1 naming the digest when other bytes come back', async () => {
    const other = await rawManifest(fx.app.ref);
    viaOpen.setScript((q) =>
      manifestGet('test/busybox', fx.busybox.digest)(q)
        ? { kind: 'reply', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: other }
        : undefined,
    );
    try {
      const r = await save([`${viaOpen.host}/test/busybox@${fx.busybox.digest}`]);
      expectFailure(r);
      expect(r.stderr).toContain(`expected ${fx.busybox.digest}`);
      expect(r.stderr).toContain(fx.app.digest);
    } finally {
      viaOpen.setScript(undefined);
    }
  });

  it('a platform manifest of an index (fetched by digest) with other bytes fails with exit 1 naming it', async () => {
    viaOpen.setScript((q) =>
      manifestGet('test/multi', fx.multi.amd64)(q)
        ? { kind: 'reply', status: 200, headers: { 'content-type': 'application/vnd.docker.distribution.manifest.v2+json' }, body: '{"schemaVersion":2}' }
        : undefined,
    );
    try {
      const r = await save([refOn(viaOpen.host, fx.multi)]);
      expectFailure(r);
      expect(r.stderr).toContain(fx.multi.amd64);
    } finally {
      viaOpen.setScript(undefined);
    }
  });
});

describe('ferry save retries', () => {
  const manifestGets = () => viaOpen.requests.filter((q) => manifestGet('test/busybox', '1')(q));

  it('503 twice, then the real answer: exit 0 after three GETs', async () => {
    viaOpen.clearRequests();
    viaOpen.setScript(firstN(2, manifestGet('test/busybox', '1'), { kind: 'reply', status: 503, body: 'busy (ferry e2e)\n' }));
    try {
      const r = await save([busyboxOn(viaOpen.host)]);
      await expectBundle(r, [fx.busybox.digest]);
    } finally {
      viaOpen.setScript(undefined);
    }
    expect(manifestGets().map((q) => q.status)).toEqual([503, 503, 200]);
  });

  it.each([
    { attempts: undefined, expected: 5 },
    { attempts: '2', expected: 2 },
  ])('503 forever (FERRY_RETRY_ATTEMPTS=$attempts): exit 1 after $expected GETs, naming the URL', async ({ attempts, expected }) => {
    viaOpen.clearRequests();
    viaOpen.setScript((q) => (manifestGet('test/busybox', '1')(q) ? { kind: 'reply', status: 503, body: 'busy (ferry e2e)\n' } : undefined));
    let r: SaveRun;
    try {
      r = await save([busyboxOn(viaOpen.host)], {
        env: { FERRY_RETRY_BASE_MS: '50', ...(attempts ? { FERRY_RETRY_ATTEMPTS: attempts } : {}) },
      });
    } finally {
      viaOpen.setScript(undefined);
    }
    expectFailure(r);
    expect(r.stderr).toContain(`GET http://${viaOpen.host}/v2/test/busybox/manifests/1`);
    expect(r.stderr).toMatch(/503/);
    expect(manifestGets()).toHaveLength(expected);
    expect(r.ms, 'bounded by the backoff (50 ms base)').toBeLessThan(20_000);
  });

  it('503 forever from redirected blob storage: exit 1 naming the storage URL without its query, even with --debug', async () => {
    viaBasic.setScript((q) => (blobGet('test/busybox')(q) ? { kind: 'offload', storage } : undefined));
    storage.failWith(503);
    let r: SaveRun;
    try {
      r = await save([busyboxOn(viaBasic.host)], { auths: { [viaBasic.host]: USER }, env: { FERRY_RETRY_BASE_MS: '50' }, extra: ['--debug'] });
    } finally {
      storage.failWith(undefined);
      viaBasic.setScript(undefined);
    }
    expectFailure(r);
    expect(r.stderr).toMatch(new RegExp(`GET http://${storage.host}/storage/sha256:[0-9a-f]{64}: HTTP 503`));
    expect(r.stdout + r.stderr).not.toContain(storage.signature);
    expect(r.stdout + r.stderr).not.toContain('X-Ferry-Signature');
  });

  it('blob storage that refuses connections: exit 1 naming the storage URL without its query, even with --debug', async () => {
    const dead = await startBlobStorage('127.0.0.2');
    await dead.stop();
    viaBasic.setScript((q) => (blobGet('test/busybox')(q) ? { kind: 'offload', storage: dead } : undefined));
    let r: SaveRun;
    try {
      r = await save([busyboxOn(viaBasic.host)], { auths: { [viaBasic.host]: USER }, env: { FERRY_RETRY_BASE_MS: '50' }, extra: ['--debug'] });
    } finally {
      viaBasic.setScript(undefined);
    }
    expectFailure(r);
    expect(r.stderr).toMatch(new RegExp(`GET http://${dead.host}/storage/sha256:[0-9a-f]{64}: .*ECONNREFUSED`));
    expect(r.stdout + r.stderr).not.toContain(dead.signature);
    expect(r.stdout + r.stderr).not.toContain('X-Ferry-Signature');
    deadSignatures.push(dead.signature);
  });

  describe('a 401 for a bearer token', () => {
    const challenge = () =>
      `Bearer realm="${token.issuer!.realm}",service="ferry-test",scope="repository:test/busybox:pull",error="invalid_token"`;
    const refuse = { kind: 'reply' as const, status: 401, body: '{"errors":[{"code":"UNAUTHORIZED","message":"token expired (ferry e2e)"}]}' };
    const layer = () => fx.busybox.layers[0]!;

    it('once: ferry fetches a new token and the pull succeeds', async () => {
      const issued = token.issuer!.requests.length;
      viaToken.clearRequests();
      viaToken.setScript(firstN(1, blobGet('test/busybox', layer()), { ...refuse, headers: { 'www-authenticate': challenge() } }));
      try {
        const r = await save([busyboxOn(viaToken.host)], { auths: { [viaToken.host]: USER } });
        await expectBundle(r, [fx.busybox.digest]);
      } finally {
        viaToken.setScript(undefined);
      }
      const gets = viaToken.requests.filter((q) => blobGet('test/busybox', layer())(q));
      expect(gets.map((q) => q.status)).toEqual([401, 200]);
      expect(gets[1]!.authorization).not.toBe(gets[0]!.authorization);
      const fresh = token.issuer!.requests.slice(issued).filter((q) => q.scopes.includes('repository:test/busybox:pull'));
      expect(fresh.length, 'a second token for the scope').toBeGreaterThanOrEqual(2);
    });

    it('forever: exit 1 after one refresh, with the 401 and a credentials hint', async () => {
      viaToken.clearRequests();
      viaToken.setScript((q) => (blobGet('test/busybox', layer())(q) ? { ...refuse, headers: { 'www-authenticate': challenge() } } : undefined));
      let r: SaveRun;
      try {
        r = await save([busyboxOn(viaToken.host)], { auths: { [viaToken.host]: USER }, extra: ['--debug'] });
      } finally {
        viaToken.setScript(undefined);
      }
      expectFailure(r);
      expect(r.stderr).toContain(`/v2/test/busybox/blobs/${layer()}: HTTP 401`);
      expect(r.stderr).toMatch(/hint: the registry refused the credentials for .*ferry login/);
      expect(viaToken.requests.filter((q) => blobGet('test/busybox', layer())(q))).toHaveLength(2);
    });
  });
});

describe('ferry save over IPv6', () => {
  /** `it`, skipped (saying why in its name) on a machine without an IPv6 loopback address. */
  const v6it = (name: string, fn: () => Promise<void>) =>
    it.skipIf(!HAS_IPV6_LOOPBACK)(HAS_IPV6_LOOPBACK ? name : `${name} [skipped: this machine has no IPv6 loopback address ::1]`, fn);

  v6it('a registry on [::1] (ferry save [::1]:PORT/test/busybox:1)', async () => {
    const r = await save([busyboxOn(v6Registry().host)]);
    await expectBundle(r, [fx.busybox.digest]);
    const b = await extractBundle(r.out, join(r.home, 'extract-names'));
    expect(b.index.manifests[0]?.annotations?.['io.containerd.image.name']).toBe(busyboxOn(v6Registry().host));
    expect(v6Registry().logText()).toMatch(/"GET \/v2\/test\/busybox\/manifests\/1 HTTP\/1\.1" 200 /);
  });

  v6it('[::1] is loopback: never proxied, even with HTTP_PROXY set', async () => {
    fwd.clearRequests();
    const r = await save([busyboxOn(v6Registry().host)], { env: { HTTP_PROXY: fwd.url } });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requests, JSON.stringify(fwd.requests)).toEqual([]);
  });

  // NO_PROXY lists addresses without brackets (curl, Go's httpproxy, wget); undici compares
  // against "[::1]". ferry lists both forms (normaliseNoProxy, unit-tested in transport.test.ts).
  v6it('NO_PROXY=::1 sends [::1] traffic past the proxy', async () => {
    fwd.clearRequests();
    const r = await save([busyboxOn(v6Registry().host)], { env: { HTTP_PROXY: fwd.url, NO_PROXY: '::1' } });
    await expectBundle(r, [fx.busybox.digest]);
    expect(fwd.requests.map((q) => `${q.kind} ${q.target}`), 'requests that went through the proxy').toEqual([]);
  });
});

describe('credentials', () => {
  it('no credential appears in any output of this file, --debug included, nor in any bundle or cache', () => {
    const bearer = [viaToken, viaBasic, viaOpen]
      .flatMap((p) => p.requests.map((q) => q.authorization))
      .filter((a): a is string => !!a && a.startsWith('Bearer '))
      .map((a) => a.slice('Bearer '.length));
    const secrets = [
      USER.password,
      Buffer.from(`${USER.user}:${USER.password}`).toString('base64'),
      PROXY_USER.password,
      Buffer.from(`${PROXY_USER.user}:${PROXY_USER.password}`).toString('base64'),
      'wrong-proxy-pw-Lk2-never-print-me',
      storage.signature,
      sameIpStorage.signature,
      ...deadSignatures,
      ...new Set(bearer),
    ];
    expect(allRuns.length).toBeGreaterThan(20);
    expect(allRuns.some((r) => r.report.includes('--debug'))).toBe(true);
    for (const r of allRuns) {
      for (const s of secrets) expect(r.stdout + r.stderr, `${r.report}\nleaks a secret`).not.toContain(s);
      for (const file of filesUnder(r.home).filter((f) => !f.includes('/docker/'))) {
        const raw = readFileSync(file);
        const text = file.endsWith('.gz') ? gunzipSync(raw) : raw;
        for (const s of secrets) expect(text.includes(s), `${file} holds a secret`).toBe(false);
      }
    }
  });
});

/** Every regular file below `dir` (the run's cache, output and extraction). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => join(dir, name))
    .filter((p) => statSync(p).isFile());
}
