/**
 * Tag selection in the manifest file (`images[].tags`), against a real distribution registry:
 * one image pushed by skopeo, then one manifest per tag (the same layer, an annotation naming
 * the tag, so each tag has its own digest) PUT with fetch, next to junk tags. The registry's
 * tag list and manifest digests, and GNU tar's view of the bundle, are the oracles.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractBundle } from './helpers/bundle.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage } from './helpers/layout-image.js';
import { getManifestRaw, putManifest, sha256 } from './helpers/raw-push.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const tmp = suiteTempDir('tag-select');
let reg: Registry;
let base: Record<string, unknown>;

const VERSIONS = ['1.25.0', '1.25.4', '1.26.0', '1.26.1', '1.26.2', '1.27.0', '1.27.1', '1.28.0', '1.28.3'];
const JUNK = ['latest', 'nightly', '1.27-alpine', '1.27.0-rc.1', 'sha-deadbeef'];
const IN_RANGE = ['1.26.0', '1.26.1', '1.26.2', '1.27.0', '1.27.1'];

/** PUTs the base manifest with an annotation naming `tag`; returns its digest. */
async function tagImage(tag: string): Promise<string> {
  const doc = { ...base, annotations: { 'test.tag': tag } };
  return (await putManifest(reg.host, 'sel/app', tag, doc)).digest;
}

async function registryTags(repo: string): Promise<string[]> {
  const res = await fetch(`${reg.url}/v2/${repo}/tags/list`);
  return ((await res.json()) as { tags: string[] }).tags;
}

async function digestOf(tag: string): Promise<string> {
  return sha256(await getManifestRaw(reg.host, 'sel/app', tag));
}

interface Lock { images: { ref: string; selectedBy?: string; upstreamDigest: string }[] }
const readLockFile = (): Lock => JSON.parse(readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8')) as Lock;

async function bundleTags(file: string, dir: string): Promise<string[]> {
  const b = await extractBundle(file, tmp.join(dir));
  return b.dockerManifest.flatMap((m) => m.RepoTags ?? []).map((t) => t.slice(t.lastIndexOf(':') + 1)).sort();
}

beforeAll(async () => {
  reg = await startRegistry();
  await pushLayoutImage(`${reg.host}/sel/app:base`, { 'app.txt': 'the app\n' }, tmp.join('layout'));
  base = JSON.parse((await getManifestRaw(reg.host, 'sel/app', 'base')).toString('utf8')) as Record<string, unknown>;
  for (const t of [...VERSIONS, ...JUNK]) await tagImage(t);
  mkdirSync(tmp.join('work'), { recursive: true });
}, 120_000);

afterAll(async () => {
  await reg?.stop();
});

describe('a semver range over a repository with junk tags', () => {
  const manifest = (): string => tmp.join('work', 'prod.yaml');
  const env = (): NodeJS.ProcessEnv => ferryEnv(tmp.join('env'));

  it('exports exactly the tags in the range, and the lock pins each to the digest the registry serves', async () => {
    expect((await registryTags('sel/app')).sort()).toEqual([...VERSIONS, ...JUNK, 'base'].sort());
    writeFileSync(manifest(), `images:\n  - ref: ${reg.host}/sel/app\n    tags: { semver: ">=1.26 <1.28" }\n`);
    const r = await runFerry(['export', manifest(), '-o', tmp.join('work', 'one.tar.gz')], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    expect(await bundleTags(tmp.join('work', 'one.tar.gz'), 'x1')).toEqual(IN_RANGE);
    const lock = readLockFile();
    expect(lock.images.map((i) => i.ref)).toEqual(IN_RANGE.map((t) => `${reg.host}/sel/app:${t}`));
    for (const i of lock.images) {
      expect(i.selectedBy).toBe(`${reg.host}/sel/app semver ">=1.26 <1.28"`);
      expect(i.upstreamDigest).toBe(await digestOf(i.ref.split(':').pop()!));
    }
    expect(new Set(lock.images.map((i) => i.upstreamDigest)).size).toBe(IN_RANGE.length);
  });

  it('after a new tag appears, --locked exports the locked set and a plain export picks the new tag', async () => {
    const lockBefore = readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8');
    await tagImage('1.27.2');
    const locked = await runFerry(['export', manifest(), '--locked', '-o', tmp.join('work', 'locked.tar.gz')], { env: env() });
    expect(locked.code, describeRun(locked)).toBe(0);
    expect(await bundleTags(tmp.join('work', 'locked.tar.gz'), 'x2')).toEqual(IN_RANGE);
    expect(readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8')).toBe(lockBefore);

    const plain = await runFerry(['export', manifest(), '-o', tmp.join('work', 'plain.tar.gz')], { env: env() });
    expect(plain.code, describeRun(plain)).toBe(0);
    expect(await bundleTags(tmp.join('work', 'plain.tar.gz'), 'x3')).toEqual([...IN_RANGE, '1.27.2'].sort());
    expect(readLockFile().images.map((i) => i.ref)).toContain(`${reg.host}/sel/app:1.27.2`);

    // Nothing new: the selection chooses the same tags, which resolve to the locked digests.
    const again = await runFerry(['export', manifest(), '-o', tmp.join('work', 'plain.tar.gz')], { env: env() });
    expect(again.code, describeRun(again)).toBe(0);
    expect(again.stderr).toContain('unchanged (6 images still resolve to the locked digests');
  });

  it('--dry-run lists what would be exported, what the cache holds, and writes nothing', async () => {
    const lockBefore = readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8');
    await tagImage('1.26.9');
    const fresh = tmp.join('fresh-env');
    const out = tmp.join('work', 'dry.tar.gz');
    const r = await runFerry(['export', manifest(), '--dry-run', '-o', out], { env: { ...ferryEnv(fresh), XDG_CACHE_HOME: join(fresh, 'no-cache') } });
    expect(r.code, describeRun(r)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REFERENCE\s+TAG\s+DIGEST\s+SIZE\s+CACHED$/);
    // Highest version first, as `limit` ranks them.
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['1.27.2', '1.27.1', '1.27.0', '1.26.9', '1.26.2', '1.26.1', '1.26.0']);
    for (const l of lines.slice(1)) expect(l).toMatch(/\bno$/);
    expect(r.stderr).toMatch(/nothing was written/);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(`${out}.lock`)).toBe(false);
    expect(existsSync(join(fresh, 'no-cache'))).toBe(false);
    expect(readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8')).toBe(lockBefore);

    // With the cache the exports filled: every image but the new one is cached.
    const j = await runFerry(['export', manifest(), '--dry-run', '--json'], { env: env() });
    expect(j.code, describeRun(j)).toBe(0);
    const doc = JSON.parse(j.stdout) as { dryRun: boolean; images: { tag: string; digest: string; cached: boolean; size: number }[] };
    expect(doc.dryRun).toBe(true);
    for (const i of doc.images) {
      expect(i.digest).toBe(await digestOf(i.tag));
      expect(i.cached, i.tag).toBe(i.tag !== '1.26.9');
      expect(i.size).toBeGreaterThan(0);
    }

    // --locked --dry-run: the locked set (1.27.2 was locked by the plain export, 1.26.9 is not), no listing.
    const listings = (): number => reg.logText().split('/tags/list').length;
    const before = listings();
    expect(before, 'the plain exports listed tags').toBeGreaterThan(1);
    const lockedRun = await runFerry(['export', manifest(), '--dry-run', '--locked', '--json'], { env: env() });
    expect(lockedRun.code, describeRun(lockedRun)).toBe(0);
    expect(listings()).toBe(before);
    expect((JSON.parse(lockedRun.stdout) as { images: { tag: string }[] }).images.map((i) => i.tag).sort()).toEqual([...IN_RANGE, '1.27.2'].sort());
    expect(readFileSync(tmp.join('work', 'prod.lock.json'), 'utf8')).toBe(lockBefore);
  });

  it('latest: N, a regex, and all with a limit choose the tags the registry lists', async () => {
    const m = tmp.join('work', 'more.yaml');
    writeFileSync(m, [
      'images:',
      `  - ref: ${reg.host}/sel/app`,
      '    tags: { latest: 2 }',
      `  - ref: ${reg.host}/sel/app`,
      "    tags: { regex: '1\\.25\\..*' }",
      `  - ref: ${reg.host}/sel/app`,
      '    tags: all',
      '    limit: 1',
      '',
    ].join('\n'));
    const r = await runFerry(['export', m, '--dry-run', '--json'], { env: env() });
    expect(r.code, describeRun(r)).toBe(0);
    const doc = JSON.parse(r.stdout) as { images: { tag: string; selectedBy: string }[] };
    // 1.28.3 is both the highest of latest: 2 and the one tag of all/limit 1: carried once.
    expect(doc.images.map((i) => i.tag)).toEqual(['1.28.3', '1.28.0', '1.25.4', '1.25.0']);
  });
});
