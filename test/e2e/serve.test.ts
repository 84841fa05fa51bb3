/**
 * `ferry serve`: bundles made by ferry from images built by docker and hand-written manifests
 * (never by ferry), served on loopback and pulled by real clients: skopeo, docker, podman,
 * containerd's ctr (plain HTTP and through a hosts.toml mirror for docker.io), plus fetch for
 * the protocol corners (ranges, pagination, referrers, errors, 32 concurrent pulls). Every
 * digest a client gets equals the bundle's. The source registry is stopped before anything is
 * served, so nothing can come from it.
 */
import { copyFileSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { APP_TEXT, BUSYBOX_OUTPUT, buildFixtures, type Fixtures } from './helpers/fixtures.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { run, runOk } from './helpers/processes.js';
import { OCI_INDEX, OCI_MANIFEST, EMPTY_CONFIG, getManifestRaw, putBlob, putManifest, type Desc } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { startServe, type Served } from './helpers/serve.js';
import { pushLayoutImage, randomFile, type LayoutImage } from './helpers/layout-image.js';
import { suiteTempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

const tmp = suiteTempDir('serve');
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
let reg: Registry;
let dockerd: Dockerd;
let fx: Fixtures;
let regHost: string;
let referrer: Desc;
let env: NodeJS.ProcessEnv;
/** ferry save of test/app:1, test/busybox:1, test/multi:1 (all platforms), with app's referrer. */
let bundle: string;
/** docker save of an image named docker.io/library/ferrybox:1. */
let dockerTar: string;
let served: Served;
let big: LayoutImage;
let plain: string;

beforeAll(async () => {
  [reg, dockerd] = await Promise.all([startRegistry(), startDockerd()]);
  regHost = reg.host;
  fx = await buildFixtures(dockerd, reg.host, tmp.join('fixtures'));
  // An OCI 1.1 referrer of test/app:1 and the referrers tag schema's index for it.
  const h = reg.host;
  const appRaw = await getManifestRaw(h, 'test/app', '1');
  const appMediaType = (JSON.parse(appRaw.toString()) as { mediaType: string }).mediaType;
  const vuln = await putBlob(h, 'test/app', 'application/vnd.example.vuln+json', '{"vulnerabilities":[]}');
  const empty = await putBlob(h, 'test/app', EMPTY_CONFIG, '{}');
  const refDoc = { schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.example.vuln+json', config: empty, layers: [vuln], subject: { mediaType: appMediaType, digest: fx.app.digest, size: appRaw.length }, annotations: { 'org.example.scanner': 'none' } };
  referrer = await putManifest(h, 'test/app', sha(JSON.stringify(refDoc)), refDoc);
  await putManifest(h, 'test/app', `sha256-${fx.app.digest.slice(7)}`, { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.size, artifactType: 'application/vnd.example.vuln+json' }] });

  env = ferryEnv(tmp.join('home'));
  bundle = tmp.join('images.tar.gz');
  const r = await runFerry(['save', fx.app.ref, fx.busybox.ref, fx.multi.ref, '--platform', 'all', '-o', bundle], { env });
  expect(r.code, describeRun(r)).toBe(0);
  // A big plain (--compression none) bundle: slow enough to stop a server mid-pull, and easy to corrupt.
  big = await pushLayoutImage(`${h}/test/big:1`, { 'big.bin': randomFile(48 << 20) }, tmp.join('big'));
  plain = tmp.join('big.tar');
  const p = await runFerry(['save', big.ref, '--compression', 'none', '-o', plain], { env });
  expect(p.code, describeRun(p)).toBe(0);
  await dockerd.dockerOk(['tag', fx.busybox.ref, 'ferrybox:1']);
  dockerTar = tmp.join('ferrybox.tar');
  await dockerd.dockerOk(['save', '-o', dockerTar, 'ferrybox:1']);
  await dockerd.dockerOk(['rmi', 'ferrybox:1', fx.busybox.ref, fx.app.ref]);
  await reg.stop();
  served = await startServe([bundle, dockerTar], ferryEnv(tmp.join('serve-home')), tmp.join('serve.log'));
}, 600_000);

afterAll(async () => {
  await served?.daemon.stop();
  await Promise.all([reg?.stop(), dockerd?.stop()]);
});

const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Response> => fetch(`${served.url}${path}`, { headers, method });

describe('ferry serve answers the distribution API', () => {
  it('says where it listens and how much it serves', () => {
    expect(served.log()).toMatch(/serving 4 images from 2 bundles on http:\/\/127\.0\.0\.1:\d+/);
  });

  it('GET /v2/ is 200 with the API version header', async () => {
    const res = await get('/v2/');
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0');
  });

  it('serves manifests by tag and digest with their stored bytes, type, digest and length (GET and HEAD)', async () => {
    for (const f of [fx.app, fx.busybox, fx.multi]) {
      for (const ref of [f.tag, f.digest]) {
        const res = await get(`/v2/${f.repo}/manifests/${ref}`, { accept: OCI_MANIFEST });
        const body = Buffer.from(await res.arrayBuffer());
        expect(res.status).toBe(200);
        expect(sha(body)).toBe(f.digest);
        expect(res.headers.get('docker-content-digest')).toBe(f.digest);
        expect(res.headers.get('content-type')).toBe((JSON.parse(body.toString()) as { mediaType: string }).mediaType);
        expect(Number(res.headers.get('content-length'))).toBe(body.length);
        const head = await get(`/v2/${f.repo}/manifests/${ref}`, {}, 'HEAD');
        expect(head.status).toBe(200);
        expect(head.headers.get('docker-content-digest')).toBe(f.digest);
        expect(Number(head.headers.get('content-length'))).toBe(body.length);
      }
    }
  });

  it('answers spec errors: MANIFEST_UNKNOWN, NAME_UNKNOWN, BLOB_UNKNOWN, DIGEST_INVALID, 405 UNSUPPORTED for writes', async () => {
    const code = async (res: Response): Promise<[number, string]> => [res.status, ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code];
    expect(await code(await get('/v2/test/app/manifests/nope'))).toEqual([404, 'MANIFEST_UNKNOWN']);
    expect(await code(await get('/v2/no/such/manifests/1'))).toEqual([404, 'NAME_UNKNOWN']);
    expect(await code(await get(`/v2/test/app/blobs/sha256:${'0'.repeat(64)}`))).toEqual([404, 'BLOB_UNKNOWN']);
    expect(await code(await get('/v2/test/app/blobs/sha256:xyz'))).toEqual([400, 'DIGEST_INVALID']);
    for (const [method, path] of [['PUT', '/v2/test/app/manifests/2'], ['POST', '/v2/test/app/blobs/uploads/'], ['DELETE', `/v2/test/app/manifests/${fx.app.digest}`], ['PATCH', '/v2/test/app/blobs/uploads/x']] as const) {
      const res = await fetch(`${served.url}${path}`, { method, body: method === 'DELETE' ? null : 'x' });
      expect(await code(res), `${method} ${path}`).toEqual([405, 'UNSUPPORTED']);
    }
  });

  it('tags/list and _catalog paginate with n/last and a Link header', async () => {
    const cat = await get('/v2/_catalog');
    expect(((await cat.json()) as { repositories: string[] }).repositories).toEqual(['library/ferrybox', 'test/app', 'test/busybox', 'test/multi']);
    const p1 = await get('/v2/_catalog?n=2');
    expect(((await p1.json()) as { repositories: string[] }).repositories).toEqual(['library/ferrybox', 'test/app']);
    expect(p1.headers.get('link')).toBe('</v2/_catalog?n=2&last=test%2Fapp>; rel="next"');
    const p2 = await get('/v2/_catalog?n=2&last=test%2Fapp');
    expect(((await p2.json()) as { repositories: string[] }).repositories).toEqual(['test/busybox', 'test/multi']);
    expect(p2.headers.get('link')).toBeNull();
    const tags = (await (await get('/v2/test/app/tags/list')).json()) as { name: string; tags: string[] };
    expect(tags).toEqual({ name: 'test/app', tags: ['1', `sha256-${fx.app.digest.slice(7)}`] });
    const t1 = await get('/v2/test/app/tags/list?n=1');
    expect(t1.headers.get('link')).toBe('</v2/test/app/tags/list?n=1&last=1>; rel="next"');
  });

  it('the referrers API lists the referrer of the image, filtered by artifactType', async () => {
    const res = await get(`/v2/test/app/referrers/${fx.app.digest}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(OCI_INDEX);
    const idx = (await res.json()) as { manifests: Desc[] };
    expect(idx.manifests).toEqual([{ mediaType: OCI_MANIFEST, digest: referrer.digest, size: referrer.size, artifactType: 'application/vnd.example.vuln+json', annotations: { 'org.example.scanner': 'none' } }]);
    const none = await get(`/v2/test/app/referrers/${fx.app.digest}?artifactType=application/other`);
    expect(none.headers.get('oci-filters-applied')).toBe('artifactType');
    expect(((await none.json()) as { manifests: Desc[] }).manifests).toEqual([]);
    const some = await get(`/v2/test/app/referrers/${fx.app.digest}?artifactType=application/vnd.example.vuln%2Bjson`);
    expect(((await some.json()) as { manifests: Desc[] }).manifests.map((d) => d.digest)).toEqual([referrer.digest]);
  });

  it('Range requests answer the right bytes (206, Content-Range), 416 outside the blob', async () => {
    const layer = fx.app.bigLayer;
    const whole = Buffer.from(await (await get(`/v2/test/app/blobs/${layer}`)).arrayBuffer());
    expect(sha(whole)).toBe(layer);
    for (const [range, start, end] of [['bytes=0-99', 0, 99], ['bytes=1000-', 1000, whole.length - 1], ['bytes=-500', whole.length - 500, whole.length - 1], [`bytes=${whole.length - 10}-${whole.length + 100}`, whole.length - 10, whole.length - 1]] as const) {
      const res = await get(`/v2/test/app/blobs/${layer}`, { range });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${whole.length}`);
      expect(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(start, end + 1)), range).toBe(true);
    }
    const bad = await get(`/v2/test/app/blobs/${layer}`, { range: `bytes=${whole.length}-` });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe(`bytes */${whole.length}`);
  });

  it('logs one access line per request', () => {
    expect(served.log()).toMatch(/127\.0\.0\.1 GET \/v2\/test\/app\/manifests\/1 200 \d+B \d+ms/);
  });
});

describe('real clients pull from ferry serve', () => {
  it('skopeo copy --preserve-digests and inspect --raw get the bundle\'s digests, every platform of the index', async () => {
    for (const f of [fx.app, fx.busybox, fx.multi]) {
      const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${served.host}/${f.repo}:${f.tag}`]);
      expect(sha(raw)).toBe(f.digest);
    }
    for (const f of [fx.app, fx.busybox]) {
      const dir = tmp.join(`skopeo-${f.repo.replace('/', '-')}`);
      await runOk('skopeo', ['copy', '--quiet', '--preserve-digests', '--src-tls-verify=false', `docker://${served.host}/${f.repo}:${f.tag}`, `oci:${dir}:x`]);
      const index = JSON.parse(readFileSync(`${dir}/index.json`, 'utf8')) as { manifests: { digest: string }[] };
      expect(index.manifests[0]!.digest).toBe(f.digest);
    }
    // A Docker manifest list cannot go into an OCI layout unchanged (skopeo would convert it): dir: keeps its bytes.
    const dir = tmp.join('skopeo-multi');
    await runOk('skopeo', ['copy', '--quiet', '--all', '--preserve-digests', '--src-tls-verify=false', `docker://${served.host}/test/multi:1`, `dir:${dir}`]);
    expect(sha(readFileSync(`${dir}/manifest.json`))).toBe(fx.multi.digest);
    for (const d of [fx.multi.amd64, fx.multi.arm64]) expect(sha(readFileSync(`${dir}/${d.slice(7)}.manifest.json`))).toBe(d);
    const multi = JSON.parse(await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${served.host}/test/multi:1`])) as { manifests: { digest: string }[] };
    expect(multi.manifests.map((m) => m.digest).sort()).toEqual([fx.multi.amd64, fx.multi.arm64].sort());
  });
});

/** The files of `ferry serve --print-mirror-config` output: `# file: PATH` line -> the text after it. */
function splitFiles(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(/^# file: /m).slice(1)) {
    const nl = part.indexOf('\n');
    out.set(part.slice(0, nl), part.slice(nl + 1));
  }
  return out;
}

describe('container engines pull from ferry serve', () => {
  it('docker pulls the images (the docker save tar\'s too) and runs them; digests are the served ones', async () => {
    await dockerd.dockerOk(['pull', `${served.host}/test/app:1`]);
    expect(await dockerd.dockerOk(['inspect', '--format', '{{index .RepoDigests 0}}', `${served.host}/test/app:1`])).toContain(`${served.host}/test/app@${fx.app.digest}`);
    expect(await dockerd.dockerOk(['run', '--rm', `${served.host}/test/app:1`])).toContain(APP_TEXT);
    await dockerd.dockerOk(['pull', `${served.host}/test/multi:1`]);
    const boxDigest = (await get('/v2/library/ferrybox/manifests/1', {}, 'HEAD')).headers.get('docker-content-digest')!;
    await dockerd.dockerOk(['pull', `${served.host}/library/ferrybox:1`]);
    expect(await dockerd.dockerOk(['inspect', '--format', '{{index .RepoDigests 0}}', `${served.host}/library/ferrybox:1`])).toContain(boxDigest);
    expect(await dockerd.dockerOk(['run', '--rm', `${served.host}/library/ferrybox:1`])).toContain(BUSYBOX_OUTPUT);
  });

  it('ctr images pull --plain-http gets every digest, all platforms of the index', async () => {
    for (const f of [fx.app, fx.multi]) {
      const r = await dockerd.ctr(['-n', 'serve', 'images', 'pull', '--plain-http', '--all-platforms', `${served.host}/${f.repo}:${f.tag}`]);
      expect(r.code, r.stderr).toBe(0);
    }
    const ls = await dockerd.ctr(['-n', 'serve', 'images', 'ls']);
    expect(ls.stdout).toMatch(new RegExp(`${served.host}/test/app:1\\s+\\S+\\s+${fx.app.digest}`));
    expect(ls.stdout).toMatch(new RegExp(`${served.host}/test/multi:1\\s+\\S+\\s+${fx.multi.digest}`));
  });

  it('ctr pulls docker.io/library/ferrybox:1 through the hosts.toml mirror ferry prints (ns=docker.io)', async () => {
    const r = await runFerry(['serve', dockerTar, '--listen', served.host, '--print-mirror-config', 'containerd'], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const files = splitFiles(r.stdout);
    const hosts = files.get('/etc/containerd/certs.d/docker.io/hosts.toml');
    expect(hosts).toContain(`[host."http://${served.host}"]`);
    const dir = tmp.join('certs.d');
    mkdirSync(`${dir}/docker.io`, { recursive: true });
    writeFileSync(`${dir}/docker.io/hosts.toml`, hosts!);
    const pull = await dockerd.ctr(['-n', 'serve', 'images', 'pull', '--hosts-dir', dir, 'docker.io/library/ferrybox:1']);
    expect(pull.code, `${pull.stdout}\n${pull.stderr}`).toBe(0);
    const boxDigest = (await get('/v2/library/ferrybox/manifests/1', {}, 'HEAD')).headers.get('docker-content-digest')!;
    expect((await dockerd.ctr(['-n', 'serve', 'images', 'ls'])).stdout).toMatch(new RegExp(`docker.io/library/ferrybox:1\\s+\\S+\\s+${boxDigest}`));
    await waitFor(() => /(HEAD|GET) \/v2\/library\/ferrybox\/manifests\/1\?ns=docker\.io 200/.test(served.log()), { what: 'the ns=docker.io request in the access log', describe: () => served.log() });
  });

  it('podman pulls (plain HTTP, and docker.io through the registries.conf mirror ferry prints for cri-o)', async () => {
    const root = tmp.join('podman');
    const podman = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
      run('podman', ['--root', `${root}/root`, '--runroot', `${root}/run`, '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args], { env: { ...process.env, ...extra } });
    const p1 = await podman(['pull', '--tls-verify=false', `${served.host}/test/busybox:1`]);
    expect(p1.code, p1.stderr).toBe(0);
    const digests = await podman(['images', '--digests', '--format', '{{.Repository}}:{{.Tag}} {{.Digest}}']);
    expect(digests.stdout).toContain(`${served.host}/test/busybox:1 ${fx.busybox.digest}`);
    const r = await runFerry(['serve', dockerTar, '--listen', served.host, '--print-mirror-config', 'cri-o'], { env });
    expect(r.code, describeRun(r)).toBe(0);
    const conf = tmp.join('registries.conf');
    writeFileSync(conf, `unqualified-search-registries = []\n\n${r.stdout}`);
    const p2 = await podman(['pull', 'docker.io/library/ferrybox:1'], { CONTAINERS_REGISTRIES_CONF: conf });
    expect(p2.code, p2.stderr).toBe(0);
    const boxDigest = (await get('/v2/library/ferrybox/manifests/1', {}, 'HEAD')).headers.get('docker-content-digest')!;
    // The same image as test/busybox:1 (one config): its RepoDigests name both.
    expect((await podman(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'docker.io/library/ferrybox:1'])).stdout).toContain(`docker.io/library/ferrybox@${boxDigest}`);
    // Not `podman run`: in this sandbox runc cannot set the container's rlimits ("error setting
    // rlimit type 6: operation not permitted", whatever --ulimit asks); docker run above runs the images.
  });
});

describe('many clients at once', () => {
  it('32 concurrent clients pulling every blob of every image each get verified bytes', async () => {
    const blobs = new Set<string>();
    for (const f of [fx.app, fx.busybox]) {
      const m = JSON.parse(Buffer.from(await (await get(`/v2/${f.repo}/manifests/${f.digest}`)).arrayBuffer()).toString()) as { config: Desc; layers: Desc[] };
      for (const d of [m.config, ...m.layers]) blobs.add(`${f.repo} ${d.digest}`);
    }
    const results = await Promise.all(
      Array.from({ length: 32 }, async () => {
        let ok = 0;
        for (const b of blobs) {
          const [repo, digest] = b.split(' ') as [string, string];
          const body = Buffer.from(await (await get(`/v2/${repo}/blobs/${digest}`)).arrayBuffer());
          if (sha(body) === digest) ok++;
        }
        return ok;
      }),
    );
    expect(results).toEqual(Array(32).fill(blobs.size));
  });
});

describe('start-up, damage and stopping', () => {
  it('a port in use is exit 2 naming the address, with a hint', async () => {
    const r = await runFerry(['serve', dockerTar, '--listen', served.host], { env });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toContain(`error: cannot listen on ${served.host}: the address is in use`);
    expect(r.stderr).toMatch(/hint: .*--listen HOST:PORT/);
  });

  /** Serves `file` and checks that its damaged big layer is refused at the blob while the rest is served. */
  async function refusedAtTheBlob(file: string, label: string, layer: string, repo: string, damage?: () => void): Promise<void> {
    const srv = await startServe([file], ferryEnv(tmp.join(`${label}-home`)), tmp.join(`${label}.log`));
    try {
      damage?.();
      expect(srv.log(), 'a seekable bundle starts without reading its layers').toMatch(/serving \d+ image/);
      const res = await fetch(`${srv.url}/v2/${repo}/blobs/${layer}`);
      expect(res.status).toBe(200);
      await expect(res.arrayBuffer(), 'the answer is cut before its end').rejects.toThrow();
      const again = await fetch(`${srv.url}/v2/${repo}/blobs/${layer}`);
      expect(again.status).toBe(500);
      expect(((await again.json()) as { errors: { message: string }[] }).errors[0]!.message).toContain(`${layer} is damaged in the bundle`);
      const ranged = await fetch(`${srv.url}/v2/${repo}/blobs/${layer}`, { headers: { range: 'bytes=0-9' } });
      expect(ranged.status).toBe(500);
      await waitFor(() => srv.log().includes(`error: ${layer} is damaged in the bundle`), { what: 'the error line', describe: () => srv.log() });
    } finally {
      await srv.daemon.stop();
    }
  }

  /** `file` with one byte flipped in the middle of `layerBytes` (stored as they are in the bundle). */
  function flipped(file: string, layerBytes: Buffer): Buffer {
    const bytes = readFileSync(file);
    // A stored gzip member puts a 5-byte block header every 64 KiB: try a few places.
    const mid = layerBytes.length >> 1;
    const at = [0, 1000, 2000].map((d) => bytes.indexOf(layerBytes.subarray(mid + d, mid + d + 64))).find((x) => x > 0) ?? -1;
    expect(at, 'the layer bytes are in the bundle as they are').toBeGreaterThan(0);
    bytes[at + 10]! ^= 0xff;
    return bytes;
  }

  it('a corrupted --compression none bundle is served, but its damaged blob never whole: cut before its end, then 500', async () => {
    const layer = readFileSync(`${env.XDG_CACHE_HOME!}/ferry/blobs/sha256/${big.layer.digest.slice(7)}`);
    const bad = tmp.join('big-corrupt.tar');
    writeFileSync(bad, flipped(plain, layer));
    await refusedAtTheBlob(bad, 'corrupt-plain', big.layer.digest, 'test/big');
  });

  it('a format-2 bundle damaged after start-up is refused at the blob the same way', async () => {
    const layerDigest = fx.app.bigLayer;
    const layer = readFileSync(`${env.XDG_CACHE_HOME!}/ferry/blobs/sha256/${layerDigest.slice(7)}`);
    const copy = tmp.join('rot.tar.gz');
    copyFileSync(bundle, copy);
    await refusedAtTheBlob(copy, 'rot', layerDigest, 'test/app', () => writeFileSync(copy, flipped(copy, layer)));
  });

  it('an older (single-member gzip) bundle that is damaged is refused at start-up (exit 1, the blob named): it is read through the cache', async () => {
    const layer = readFileSync(`${env.XDG_CACHE_HOME!}/ferry/blobs/sha256/${big.layer.digest.slice(7)}`);
    const tar = tmp.join('old-corrupt.tar');
    writeFileSync(tar, flipped(plain, layer));
    const old = tmp.join('old-corrupt.tar.gz');
    await runOk('sh', ['-c', `gzip -n -c '${tar}' > '${old}'`]);
    const r = await runFerry(['serve', old, '--listen', '127.0.0.1:0'], { env: ferryEnv(tmp.join('corrupt-old-home')) });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(big.layer.digest.slice(7));
    expect(r.stderr).not.toMatch(/serving \d+ image/);
  });

  it('--tls-cert/--tls-key serve HTTPS and --htpasswd (htpasswd -B) requires Basic auth; the log carries no password', async () => {
    const d = tmp.join('tls');
    mkdirSync(d, { recursive: true });
    await runOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${d}/key.pem`, '-out', `${d}/cert.pem`, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
    await runOk('htpasswd', ['-cbB', `${d}/htpasswd`, 'puller', 's3cret-pw']);
    const srv = await startServe([dockerTar, '--tls-cert', `${d}/cert.pem`, '--tls-key', `${d}/key.pem`, '--htpasswd', `${d}/htpasswd`], ferryEnv(tmp.join('tls-home')), tmp.join('tls.log'));
    try {
      expect(srv.url).toMatch(/^https:/);
      const anon = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${srv.host}/library/ferrybox:1`]);
      expect(anon.code).not.toBe(0);
      const raw = await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', 'puller:s3cret-pw', `docker://${srv.host}/library/ferrybox:1`]);
      expect((JSON.parse(raw) as { schemaVersion: number }).schemaVersion).toBe(2);
      // A line is written once its answer is complete: the client may be faster.
      await waitFor(() => /GET \/v2\/library\/ferrybox\/manifests\/1 200 \d+B \d+ms user=puller/.test(srv.log()), { what: 'the access log line', describe: () => srv.log() });
      expect(srv.log()).toMatch(/GET \/v2\/ 401 /);
      expect(srv.log()).not.toContain('s3cret');
    } finally {
      await srv.daemon.stop();
    }
  });

  it('SIGTERM during a slow pull lets it finish, then exit 0', async () => {
    const srv = await startServe([plain], ferryEnv(tmp.join('term-home')), tmp.join('term.log'));
    const res = await fetch(`${srv.url}/v2/test/big/blobs/${big.layer.digest}`);
    const reader = res.body!.getReader();
    const first = await reader.read();
    srv.daemon.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    const chunks: Buffer[] = [Buffer.from(first.value!)];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(Buffer.from(value));
    }
    expect(sha(Buffer.concat(chunks))).toBe(big.layer.digest);
    expect(await srv.daemon.exited).toBe(0);
    expect(srv.log()).toMatch(/SIGTERM: stopping; 1 request in flight/);
    expect(srv.log()).toMatch(/stopped\n?$/);
  });
});
