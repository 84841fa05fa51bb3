/**
 * `ferry inspect`, `tags`, `catalog` and `search` against a real registry (the CNCF
 * distribution registry on loopback). Fixtures made without ferry: an OCI image by tar, gzip
 * and skopeo (helpers/layout-image.ts), an arm64 twin and a two-platform index, a cosign-style
 * signature tag, a repository with more than 100 tags and a registry with more than 100
 * repositories (hand-written requests with fetch, helpers/raw-push.ts). Oracles: skopeo
 * inspect (Os, Architecture, Layers, --raw bytes), the registry's own unpaginated answers, and
 * the registry's log (inspect never fetches a layer). distribution 2.8 pages `_catalog` but
 * answers tags/list whole, so a scripted proxy in front of it pages the real tags as the spec
 * describes (Link: <...>; rel="next"). Search goes to a small node:http stand-in
 * serving the response shape Docker documents for Hub's search API (FERRY_HUB_SEARCH_URL).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, type LayoutImage } from './helpers/layout-image.js';
import { runOk } from './helpers/processes.js';
import { OCI_INDEX, OCI_MANIFEST, getManifestRaw, putBlob, putManifest, sha256 } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { startScriptedProxy, type ScriptedProxy } from './helpers/transport-scripted-proxy.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('inspect');
let reg: Registry;
/** In front of the registry: distribution 2.8 answers tags/list whole, ignoring `n`; this pages it. */
let pager: ScriptedProxy;
let hub: Server;
let hubUrl: string;
const hubQueries: URLSearchParams[] = [];
let img: LayoutImage;
let indexRef: string;
let indexDigest: string;
let sigTag: string;
let manyTags: string[];
let repos: string[];

const hex = (d: string): string => d.slice('sha256:'.length);
const env = (): NodeJS.ProcessEnv => ferryEnv(tmp.join(`run-${Math.random().toString(36).slice(2)}`));

/** The search API's answer as Docker's documentation shows it (GET /v1/search?q=...). */
const HUB_RESULTS = [
  { star_count: 3251, is_official: true, name: 'busybox', is_automated: false, description: 'Busybox base image.' },
  { star_count: 29, is_official: false, name: 'progrium/busybox', is_automated: true, description: 'A very small image with busybox, built for running small programs, with opkg as the package manager' },
  { star_count: 3, is_official: false, name: 'radial/busyboxplus', is_automated: true, description: 'Full-chain, Internet enabled, busybox made from scratch.' },
];

async function mount(repo: string, digest: string, from: string): Promise<void> {
  const res = await fetch(`http://${reg.host}/v2/${repo}/blobs/uploads/?mount=${digest}&from=${from}`, { method: 'POST' });
  if (res.status !== 201) throw new Error(`mount ${digest} into ${repo}: HTTP ${res.status}`);
}

beforeAll(async () => {
  reg = await startRegistry();
  const h = reg.host;
  img = await pushLayoutImage(`${h}/test/app:1`, { hello: 'inspect me\n' }, tmp.join('app'));
  const raw = await getManifestRaw(h, 'test/app', '1');
  const manifest = JSON.parse(raw.toString('utf8')) as { config: { digest: string; size: number; mediaType: string }; layers: { digest: string; size: number; mediaType: string }[] };

  // An arm64 twin (same layer) and an index of both.
  const armCfg = await putBlob(h, 'test/app', 'application/vnd.oci.image.config.v1+json', JSON.stringify({ architecture: 'arm64', variant: 'v8', os: 'linux', config: { Env: ['A=1'] }, rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] } }));
  const arm = await putManifest(h, 'test/app', 'arm', { schemaVersion: 2, mediaType: OCI_MANIFEST, config: armCfg, layers: manifest.layers });
  const index = await putManifest(h, 'test/app', 'multi', {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [
      { mediaType: OCI_MANIFEST, digest: img.digest, size: raw.length, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: OCI_MANIFEST, digest: arm.digest, size: arm.size, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ],
  });
  indexRef = `${h}/test/app:multi`;
  indexDigest = index.digest;

  // A cosign-style signature of the image.
  const sigCfg = await putBlob(h, 'test/app', 'application/vnd.oci.image.config.v1+json', '{"architecture":"","os":"","rootfs":{"type":"layers","diff_ids":[]}}');
  const payload = await putBlob(h, 'test/app', 'application/vnd.dev.cosign.simplesigning.v1+json', `{"critical":{"image":{"docker-manifest-digest":"${img.digest}"}}}`);
  sigTag = `sha256-${hex(img.digest)}.sig`;
  await putManifest(h, 'test/app', sigTag, { schemaVersion: 2, mediaType: OCI_MANIFEST, config: sigCfg, layers: [payload] });

  // A repository with 130 tags of one manifest, and 101 more repositories (blobs mounted).
  const doc = JSON.parse(raw.toString('utf8')) as object;
  for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) await mount('test/many', d, 'test/app');
  for (let i = 0; i < 130; i++) await putManifest(h, 'test/many', `t${String(i).padStart(3, '0')}`, doc);
  for (let i = 0; i < 101; i++) {
    const repo = `cat/r${String(i).padStart(3, '0')}`;
    for (const d of [manifest.config.digest, ...manifest.layers.map((l) => l.digest)]) await mount(repo, d, 'test/app');
    await putManifest(h, repo, '1', doc);
  }
  // The oracles: the registry's unpaginated answers.
  manyTags = ((await (await fetch(`http://${h}/v2/test/many/tags/list`)).json()) as { tags: string[] }).tags;
  repos = ((await (await fetch(`http://${h}/v2/_catalog?n=1000`)).json()) as { repositories: string[] }).repositories;

  // Tag pages as the distribution spec describes them (and distribution 3 serves them): sorted,
  // `n` a page, `last` the tag before it, a Link to the next page while there is one.
  pager = await startScriptedProxy(h);
  pager.setScript((req) => {
    if (req.method !== 'GET' || req.path !== '/v2/test/many/tags/list') return undefined;
    const q = new URL(req.url, 'http://x').searchParams;
    const n = Number(q.get('n') ?? 1000);
    const last = q.get('last');
    const rest = [...manyTags].sort().filter((t) => last === null || t > last);
    const page = rest.slice(0, n);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (rest.length > n) headers.link = `</v2/test/many/tags/list?last=${page.at(-1)}&n=${n}>; rel="next"`;
    return { kind: 'reply', status: 200, headers, body: JSON.stringify({ name: 'test/many', tags: page }) };
  });

  hub = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/v1/search') {
      res.writeHead(404).end();
      return;
    }
    hubQueries.push(u.searchParams);
    const q = u.searchParams.get('q') ?? '';
    const results = HUB_RESULTS.filter((r) => r.name.includes(q)).slice(0, Number(u.searchParams.get('n') ?? 25));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ num_pages: 1, num_results: results.length, page_size: 25, query: q, results }));
  });
  await new Promise<void>((r) => hub.listen(0, '127.0.0.1', r));
  hubUrl = `http://127.0.0.1:${(hub.address() as AddressInfo).port}/v1/search`;
});

afterAll(async () => {
  await pager?.stop();
  await reg?.stop();
  await new Promise<void>((r) => (hub ? hub.close(() => r()) : r()));
});

describe('ferry inspect', () => {
  it("--format '{{.Os}}' prints linux, and the JSON view agrees with skopeo inspect", async () => {
    const os = await runFerry(['inspect', '--format', '{{.Os}}', img.ref], { env: env() });
    expect(os.code, describeRun(os)).toBe(0);
    expect(os.stdout).toBe('linux\n');
    const j = await runFerry(['inspect', '--json', img.ref], { env: env() });
    expect(j.code, describeRun(j)).toBe(0);
    const view = JSON.parse(j.stdout) as Record<string, unknown>;
    const sk = JSON.parse(await runOk('skopeo', ['inspect', '--tls-verify=false', `docker://${img.ref}`])) as Record<string, unknown>;
    expect(view.Digest).toBe(sk.Digest);
    expect(view.Os).toBe(sk.Os);
    expect(view.Architecture).toBe(sk.Architecture);
    expect(view.Layers).toEqual(sk.Layers);
    expect(view.Created).toBe(sk.Created);
    expect((view.Config as { Cmd: string[] }).Cmd).toEqual(['/hello']);
    expect(view.Referrers).toEqual([expect.objectContaining({ Tag: sigTag, Subject: img.digest })]);
  });

  it('never fetches a layer', async () => {
    const before = reg.logText().length;
    const r = await runFerry(['inspect', img.ref], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toContain(img.layer.digest);
    const log = reg.logText().slice(before);
    expect(log).toContain('/manifests/1');
    expect(log).not.toContain(`/blobs/${img.layer.digest}`);
  });

  it('--raw prints the bytes that hash to the registry digest; --config the config blob', async () => {
    const raw = await runFerry(['inspect', '--raw', img.ref], { env: env() });
    expect(raw.code, describeRun(raw)).toBe(0);
    expect(sha256(raw.stdout)).toBe(img.digest);
    expect(raw.stdout).toBe(await runOk('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${img.ref}`]));
    const idx = await runFerry(['inspect', '--raw', indexRef], { env: env() });
    expect(sha256(idx.stdout)).toBe(indexDigest);
    const cfg = await runFerry(['inspect', '--config', img.ref], { env: env() });
    const id = JSON.parse((await runFerry(['inspect', '--format', '{{json .Id}}', img.ref], { env: env() })).stdout) as string;
    expect(sha256(cfg.stdout)).toBe(id);
    expect(JSON.parse(cfg.stdout)).toMatchObject({ os: 'linux', architecture: 'amd64' });
  });

  it('an index: every platform listed, --platform chooses, linux/amd64 by default', async () => {
    const def = await runFerry(['inspect', '--format', '{{.Architecture}} {{.Digest}} {{.Manifest.Digest}}', indexRef], { env: env() });
    expect(def.stdout, describeRun(def)).toBe(`amd64 ${indexDigest} ${img.digest}\n`);
    const arm = await runFerry(['inspect', '--platform', 'linux/arm64', '--format', '{{.Os}}/{{.Architecture}}/{{.Variant}} {{.Config.Env}}', indexRef], { env: env() });
    expect(arm.stdout, describeRun(arm)).toBe('linux/arm64/v8 [A=1]\n');
    const list = await runFerry(['inspect', '--format', '{{json .Platforms}}', indexRef], { env: env() });
    expect((JSON.parse(list.stdout) as { Platform: string }[]).map((p) => p.Platform)).toEqual(['linux/amd64', 'linux/arm64/v8']);
    const none = await runFerry(['inspect', '--platform', 'linux/s390x', indexRef], { env: env() });
    expect(none.code, describeRun(none)).toBe(1);
    expect(none.stderr).toContain('linux/amd64, linux/arm64/v8');
  });

  it('a bundle entry inspects the same as the registry image', async () => {
    const e = env();
    const bundle = tmp.join('app.tar.gz');
    const s = await runFerry(['save', img.ref, indexRef, '--platform', 'all', '-o', bundle], { env: e });
    expect(s.code, describeRun(s)).toBe(0);
    for (const ref of [img.ref, indexRef]) {
      const fromReg = await runFerry(['inspect', '--json', ref], { env: e });
      const fromBundle = await runFerry(['inspect', '--json', `${bundle}#${ref}`], { env: e });
      expect(fromBundle.code, describeRun(fromBundle)).toBe(0);
      expect(JSON.parse(fromBundle.stdout)).toEqual(JSON.parse(fromReg.stdout));
      const raw = await runFerry(['inspect', '--raw', `${bundle}#${ref}`], { env: e });
      expect(raw.stdout).toBe((await runFerry(['inspect', '--raw', ref], { env: e })).stdout);
    }
    const two = await runFerry(['inspect', bundle], { env: e });
    expect(two.code, describeRun(two)).toBe(2);
    expect(two.stderr).toContain(`name one as ${bundle}#NAME`);
    const missing = await runFerry(['inspect', `${bundle}#${reg.host}/test/nope:1`], { env: e });
    expect(missing.code, describeRun(missing)).toBe(1);
  });

  it('a docker-archive made by skopeo (no registry manifests): config and layers, no --raw', async () => {
    const archive = tmp.join('skopeo.tar');
    await runOk('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://${img.ref}`, `docker-archive:${archive}:test/app:1`]);
    const r = await runFerry(['inspect', '--format', '{{.Os}}/{{.Architecture}} {{.Config.Cmd}}', `${archive}#test/app:1`], { env: env() });
    expect(r.stdout, describeRun(r)).toBe('linux/amd64 [/hello]\n');
    const cfg = await runFerry(['inspect', '--config', archive], { env: env() });
    const id = JSON.parse((await runFerry(['inspect', '--format', '{{json .Id}}', archive], { env: env() })).stdout) as string;
    expect(sha256(cfg.stdout)).toBe(id);
    const raw = await runFerry(['inspect', '--raw', archive], { env: env() });
    expect(raw.code, describeRun(raw)).toBe(1);
    expect(raw.stderr).toContain('holds no registry manifest');
  });

  it('an unsupported --format action is a usage error (exit 2)', async () => {
    const r = await runFerry(['inspect', '--format', '{{range .Layers}}{{.}}{{end}}', img.ref], { env: env() });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toContain('--format: {{range .Layers}} is not supported');
  });
});

describe('ferry tags and catalog', () => {
  it('tags lists every tag over more than one page', async () => {
    expect(manyTags.length).toBe(130);
    pager.clearRequests();
    const r = await runFerry(['tags', `${pager.host}/test/many`], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([...manyTags].sort());
    // ferry asks for 100 a page and follows the Link to the second page.
    expect(pager.requests.filter((x) => x.url.includes('tags/list')).map((x) => x.url)).toEqual(['/v2/test/many/tags/list?n=100', '/v2/test/many/tags/list?last=t099&n=100']);
    const j = await runFerry(['tags', '--json', `${pager.host}/test/many`], { env: env() });
    expect(JSON.parse(j.stdout)).toMatchObject({ repository: `${pager.host}/test/many`, tags: [...manyTags].sort() });
    // Straight from the registry, which answers in one page.
    const direct = await runFerry(['tags', `${reg.host}/test/many`], { env: env() });
    expect(direct.stdout.trim().split('\n')).toEqual(manyTags);
  });

  it('tags of a reference with a tag is a usage error', async () => {
    const r = await runFerry(['tags', `${reg.host}/test/many:t001`], { env: env() });
    expect(r.code, describeRun(r)).toBe(2);
  });

  it('catalog lists every repository over more than one page', async () => {
    expect(repos.length).toBeGreaterThan(100);
    const r = await runFerry(['catalog', reg.host], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(repos);
    // distribution pages _catalog itself: the second request is its Link's.
    const asked = reg.logText().split('\n').filter((l) => l.includes('"GET /v2/_catalog?'));
    expect(asked.some((l) => l.includes('last=')), asked.join('\n')).toBe(true);
  });
});

describe('ferry search', () => {
  it('asks the Hub search API and prints NAME, DESCRIPTION, STARS, OFFICIAL as docker search does', async () => {
    const r = await runFerry(['search', 'busybox', '--limit', '10'], { env: { ...env(), FERRY_HUB_SEARCH_URL: hubUrl } });
    expect(r.code, describeRun(r)).toBe(0);
    const q = hubQueries.at(-1)!;
    expect([q.get('q'), q.get('n')]).toEqual(['busybox', '10']);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
    expect(lines[1]).toMatch(/^busybox\s+Busybox base image\.\s+3251\s+\[OK\]$/);
    expect(lines[2]).toMatch(/^progrium\/busybox\s+A very small image with busybox, built for r…\s+29$/);
    expect(lines).toHaveLength(4);
  });

  it('--filter stars=N and is-official=true, --json', async () => {
    const e = { ...env(), FERRY_HUB_SEARCH_URL: hubUrl };
    const stars = await runFerry(['search', 'busybox', '--filter', 'stars=10', '--json'], { env: e });
    expect(stars.code, describeRun(stars)).toBe(0);
    expect((JSON.parse(stars.stdout) as { results: { name: string }[] }).results.map((x) => x.name)).toEqual(['busybox', 'progrium/busybox']);
    const official = await runFerry(['search', 'busybox', '--filter', 'is-official=true'], { env: e });
    expect(official.stdout.trimEnd().split('\n')).toHaveLength(2);
    const bad = await runFerry(['search', 'busybox', '--filter', 'is-automated=maybe'], { env: e });
    expect(bad.code, describeRun(bad)).toBe(2);
  });

  it('another registry: a filter over its catalog, saying so', async () => {
    const r = await runFerry(['search', `${reg.host}/many`], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`${reg.host} has no search API`);
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NAME\s+DESCRIPTION\s+STARS\s+OFFICIAL$/);
    expect(rows.slice(1).map((l) => l.split(/\s+/))).toEqual([[`${reg.host}/test/many`, '0']]);
  });
});
