/**
 * Registry housekeeping on the internal side: `ferry tag`, `ferry delete` and
 * `ferry push --prune [--yes]`, against real distribution registries with deletes enabled, and
 * one with them off. Images: one pushed by skopeo from an OCI layout, then variants of its
 * manifest (an annotation per tag, so each tag has its own digest) PUT with fetch. The
 * registries' own tag lists and manifest answers are the oracle.
 */
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage } from './helpers/layout-image.js';
import { getManifestRaw, putManifest, sha256 } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('housekeeping');
let src: Registry;
let tgt: Registry;
let noDeletes: Registry;

/** Pushes a base image with skopeo, then PUTs a variant manifest per tag; returns tag -> digest. */
async function seed(reg: Registry, repo: string, tags: string[]): Promise<Record<string, string>> {
  const dir = tmp.join('layout', `${reg.host.replace(':', '_')}_${repo.replace(/\//g, '_')}`);
  mkdirSync(dir, { recursive: true });
  await pushLayoutImage(`${reg.host}/${repo}:base`, { 'app.txt': `${repo}\n` }, dir);
  const base = JSON.parse((await getManifestRaw(reg.host, repo, 'base')).toString('utf8')) as Record<string, unknown>;
  const out: Record<string, string> = { base: sha256(await getManifestRaw(reg.host, repo, 'base')) };
  for (const t of tags) out[t] = (await putManifest(reg.host, repo, t, { ...base, annotations: { 'test.tag': t } })).digest;
  return out;
}

async function tagsOf(reg: Registry, repo: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  if (res.status !== 200) throw new Error(`tags/list ${repo}: HTTP ${res.status}`);
  return (((await res.json()) as { tags: string[] | null }).tags ?? []).sort();
}

async function manifestStatus(reg: Registry, repo: string, ref: string): Promise<number> {
  const res = await fetch(`${reg.url}/v2/${repo}/manifests/${ref}`, { method: 'HEAD', headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  return res.status;
}

const env = (): NodeJS.ProcessEnv => ferryEnv(tmp.join('env'));

beforeAll(async () => {
  [src, tgt, noDeletes] = await Promise.all([startRegistry(), startRegistry(), startRegistry({ deletes: false })]);
}, 60_000);

afterAll(async () => {
  await Promise.all([src?.stop(), tgt?.stop(), noDeletes?.stop()]);
});

describe('ferry tag', () => {
  it('puts the same manifest under a new tag, by tag or by digest, without pulling blobs', async () => {
    const d = await seed(src, 'hk/app', ['1.0']);
    const r = await runFerry(['tag', `${src.host}/hk/app:1.0`, 'stable'], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`tagged ${src.host}/hk/app:stable -> ${d['1.0']}`);
    const byDigest = await runFerry(['tag', `${src.host}/hk/app@${d['1.0']}`, 'pinned', '--json'], { env: env() });
    expect(byDigest.code, describeRun(byDigest)).toBe(0);
    expect(JSON.parse(byDigest.stdout)).toMatchObject({ command: 'tag', status: 'ok', target: `${src.host}/hk/app:pinned`, digest: d['1.0'] });
    expect(await tagsOf(src, 'hk/app')).toEqual(['1.0', 'base', 'pinned', 'stable']);
    for (const t of ['stable', 'pinned']) expect(sha256(await getManifestRaw(src.host, 'hk/app', t))).toBe(d['1.0']);
    expect(src.logText()).not.toMatch(/GET \/v2\/hk\/app\/blobs\//);
  });

  it('rejects a new tag that is not a tag (exit 2)', async () => {
    const r = await runFerry(['tag', `${src.host}/hk/app:1.0`, 'other/repo:x'], { env: env() });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toContain('error: "other/repo:x" is not a valid tag');
  });
});

describe('ferry delete', () => {
  it('deletes by digest (a tag is resolved first); the registry no longer lists the tag', async () => {
    const d = await seed(src, 'hk/del', ['1', '2']);
    const r = await runFerry(['delete', `${src.host}/hk/del:1`], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`deleted ${src.host}/hk/del@${d['1']}`);
    expect(await tagsOf(src, 'hk/del')).toEqual(['2', 'base']);
    expect(await manifestStatus(src, 'hk/del', d['1']!)).toBe(404);
    const byDigest = await runFerry(['delete', `${src.host}/hk/del@${d['2']}`, '--json'], { env: env() });
    expect(byDigest.code, describeRun(byDigest)).toBe(0);
    expect(JSON.parse(byDigest.stdout)).toMatchObject({ command: 'delete', status: 'ok', digest: d['2'] });
    expect(await tagsOf(src, 'hk/del')).toEqual(['base']);
  });

  it('a tag the registry lacks fails (exit 1) naming it', async () => {
    const r = await runFerry(['delete', `${src.host}/hk/del:nope`], { env: env() });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(`${src.host}/hk/del has no tag nope`);
  });

  it('a registry without deletes: a clear error (exit 1), and the tag stays', async () => {
    const d = await seed(noDeletes, 'hk/keep', ['1']);
    const r = await runFerry(['delete', `${noDeletes.host}/hk/keep:1`], { env: env() });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.stderr).toContain(`error: deleting ${noDeletes.host}/hk/keep@${d['1']}: ${noDeletes.host} does not allow deleting manifests (HTTP 405)`);
    expect(r.stderr).toContain('hint: deletes are off on this registry');
    expect(await tagsOf(noDeletes, 'hk/keep')).toEqual(['1', 'base']);
  });
});

describe('ferry push --prune', () => {
  let bundle2: string;
  let d: Record<string, string>;
  const SIG = `sha256-${'c'.repeat(64)}.sig`;

  beforeAll(async () => {
    d = await seed(src, 'pr/app', ['1', '2', '3']);
    await seed(src, 'pr/other', ['1']);
    const bundle1 = tmp.join('bundle1.tar.gz');
    bundle2 = tmp.join('bundle2.tar.gz');
    for (const [file, refs] of [[bundle1, ['pr/app:1', 'pr/app:2', 'pr/other:1']], [bundle2, ['pr/app:2', 'pr/app:3']]] as const) {
      const s = await runFerry(['save', ...refs.map((r) => `${src.host}/${r}`), '-o', file], { env: env() });
      if (s.code !== 0) throw new Error(describeRun(s));
    }
    const p = await runFerry(['push', bundle1, '--to', `${tgt.host}/mirror`, '--mapping-file', tmp.join('m1.json')], { env: env() });
    if (p.code !== 0) throw new Error(describeRun(p));
    // In the target beside what bundle 1 pushed: a stale tag of its own, an alias of a carried
    // digest, a cosign-style signature tag, and a repository no bundle touches.
    const base = JSON.parse((await getManifestRaw(tgt.host, 'mirror/pr/app', '1')).toString('utf8')) as Record<string, unknown>;
    d.old = (await putManifest(tgt.host, 'mirror/pr/app', 'old', { ...base, annotations: { 'test.tag': 'old' } })).digest;
    await putManifest(tgt.host, 'mirror/pr/app', SIG, { ...base, annotations: { 'test.tag': 'sig' } });
    await putManifest(tgt.host, 'mirror/pr/app', 'alias', { ...base, annotations: { 'test.tag': '2' } });
    mkdirSync(tmp.join('layout', 'untouched'), { recursive: true });
    await pushLayoutImage(`${tgt.host}/mirror/untouched:x`, { 'x.txt': 'untouched\n' }, tmp.join('layout', 'untouched'));
  }, 120_000);

  it('reports the tags the bundle does not carry, in the repositories it pushed to, and deletes nothing', async () => {
    const before = await tagsOf(tgt, 'mirror/pr/app');
    expect(before).toEqual(['1', '2', 'alias', 'old', SIG].sort());
    const r = await runFerry(['push', bundle2, '--to', `${tgt.host}/mirror`, '--prune', '--json', '--mapping-file', tmp.join('m2.json')], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as { prune: { repository: string; tag: string; digest: string; status: string }[] };
    expect(doc.prune.map((p) => [p.repository, p.tag, p.status, p.digest])).toEqual([
      [`${tgt.host}/mirror/pr/app`, '1', 'stale', d['1']],
      [`${tgt.host}/mirror/pr/app`, 'alias', 'kept', d['2']],
      [`${tgt.host}/mirror/pr/app`, 'old', 'stale', d.old],
    ]);
    expect(r.stderr).toContain('push again with --prune --yes to delete them');
    expect(await tagsOf(tgt, 'mirror/pr/app')).toEqual([...before, '3'].sort());
  });

  it('with --yes deletes them; other repositories and signature tags stay', async () => {
    const r = await runFerry(['push', bundle2, '--to', `${tgt.host}/mirror`, '--prune', '--yes', '--mapping-file', tmp.join('m3.json')], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stderr).toContain(`pruned ${tgt.host}/mirror/pr/app:1 (${d['1']})`);
    expect(r.stderr).toContain(`pruned ${tgt.host}/mirror/pr/app:old (${d.old})`);
    expect(r.stderr).toMatch(/warning: not pruned: .*:alias/);
    expect(await tagsOf(tgt, 'mirror/pr/app')).toEqual(['2', '3', 'alias', SIG].sort());
    expect(await tagsOf(tgt, 'mirror/pr/other')).toEqual(['1']);
    expect(await tagsOf(tgt, 'mirror/untouched')).toEqual(['x']);
  });

  it('--yes without --prune is a usage error (exit 2)', async () => {
    const r = await runFerry(['push', bundle2, '--to', `${tgt.host}/mirror`, '--yes'], { env: env() });
    expect(r.code, describeRun(r)).toBe(2);
    expect(r.stderr).toContain('--yes only goes with --prune');
  });
});
