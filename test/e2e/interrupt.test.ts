/**
 * Interruptions and concurrency: SIGINT, SIGTERM and SIGHUP at several points of `save`,
 * `export`, `push` and `load` (in a held download, in the middle of writing the bundle, in the
 * middle of reading it), kill -9, two runs on one output, and bundles damaged after they were
 * written. Each checks the documented exit code (128 + signal), the one line it prints, that
 * nothing half-written is left (no `.partial`, no lock, no ingest file), and that a rerun
 * succeeds (resuming the download).
 *
 * Real servers: the CNCF registry behind a proxy that can hold a blob body mid-way, and a
 * private dockerd for `load`; images made with tar, gzip and skopeo (helpers/layout-image.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFerryInBackground, type BackgroundFerry } from './helpers/export-background.js';
import { startSlowProxy, type SlowProxy } from './helpers/export-slow-proxy.js';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, randomFile, type LayoutImage } from './helpers/layout-image.js';
import { signalStopped, stopMidway, stopMidwayReading } from './helpers/midway.js';
import { runOk } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { registryDigest } from './helpers/skopeo.js';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { suiteTempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

const MiB = 1024 * 1024;
const tmp = suiteTempDir('interrupt');
let reg: Registry;
let slow: SlowProxy;
let dockerd: Dockerd;
let big: LayoutImage;
let small: LayoutImage;
/** A saved bundle of `big`, made once (the internal-side cases read it). */
let bigBundle: string;

const background: BackgroundFerry[] = [];

beforeAll(async () => {
  [reg, dockerd] = await Promise.all([startRegistry(), startDockerd()]);
  slow = await startSlowProxy(reg.host);
  big = await pushLayoutImage(`${reg.host}/test/big:1`, { 'big.bin': randomFile(48 * MiB), hello: 'big\n' }, tmp.join('img-big'));
  small = await pushLayoutImage(`${reg.host}/test/small:1`, { hello: 'small\n' }, tmp.join('img-small'));
  bigBundle = tmp.join('big.tar.gz');
  const r = await runFerry(['save', big.ref, '-o', bigBundle], { env: ferryEnv(tmp.join('home-bundle')) });
  expect(r.code, describeRun(r)).toBe(0);
});

afterEach(async () => {
  slow?.release();
  await Promise.all(background.splice(0).map((b) => b.stop()));
});

afterAll(async () => {
  await slow?.stop();
  await Promise.all([reg?.stop(), dockerd?.stop()]);
});

let n = 0;
function workspace(label: string): { dir: string; env: NodeJS.ProcessEnv; partialDir: string; path: (...p: string[]) => string } {
  const dir = tmp.join(`${label}-${++n}`);
  mkdirSync(dir, { recursive: true });
  const env = ferryEnv(dir);
  return { dir, env, partialDir: join(env.XDG_CACHE_HOME!, 'ferry', 'partial'), path: (...p) => join(dir, ...p) };
}

const viaProxy = (img: LayoutImage): string => img.ref.replace(reg.host, slow.host);
const EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;

function start(args: string[], ws: { dir: string; env: NodeJS.ProcessEnv; path: (...p: string[]) => string }, extraEnv: NodeJS.ProcessEnv = {}): BackgroundFerry {
  const bg = startFerryInBackground(args, { env: { ...ws.env, ...extraEnv }, cwd: ws.dir, logFile: ws.path(`run-${++n}.log`) });
  background.push(bg);
  return bg;
}

/** Waits until the proxy holds `digest` mid-body for this run (or fails if the run ends first). */
async function held(bg: BackgroundFerry, digest: string): Promise<void> {
  const early = bg.exited.then((c) => {
    throw new Error(`ferry exited (${c}) before the download was held:\n${bg.output()}`);
  });
  early.catch(() => undefined);
  await Promise.race([slow.paused(digest), early]);
}

/** Files in `dir` that a finished run must not leave: partials, locks, ingest temps. */
/** The bytes of the largest upload in progress under a registry's storage for repositories starting with `repo`. */
function uploadedBytes(data: string, repo: string): number {
  const root = join(data, 'docker', 'registry', 'v2', 'repositories');
  let most = 0;
  const walk = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'data' && p.includes('/_uploads/')) most = Math.max(most, statSync(p).size);
    }
  };
  walk(join(root, repo));
  return most;
}

let oldBundle: string | undefined;
/** The big bundle as an older (format 1 style) gzip bundle: one gzip member, no table of contents, so push reads it through the cache. */
async function oldFormat(): Promise<string> {
  if (!oldBundle) {
    const out = tmp.join('big-old.tar.gz');
    await runOk('sh', ['-c', `gzip -dc '${bigBundle}' | gzip -1 -n > '${out}'`]);
    oldBundle = out;
  }
  return oldBundle;
}

const debris = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => /\.partial$|\.lock$|^ingest-|\.\d+\.\d+$/.test(f)) : []);

describe('ferry save interrupted', () => {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    it(`${sig} in a held download: exit ${EXIT[sig]}, one line, no bundle, no .partial or lock; the rerun resumes with Range`, async () => {
      const ws = workspace(`save-${sig}`);
      const out = ws.path('out', 'b.tar.gz');
      slow.clearRequests();
      slow.pauseBlobOnce(big.layer.digest, 8 * MiB);
      const bg = start(['save', viaProxy(big), '-o', out, '--json'], ws);
      await held(bg, big.layer.digest);
      const partial = join(ws.partialDir, big.layer.digest.slice(7));
      await waitFor(() => existsSync(partial) && statSync(partial).size >= 8 * MiB, { what: 'the partial download on disk', describe: () => bg.output() });
      process.kill(bg.pid, sig);
      expect(await bg.exited, bg.output()).toBe(EXIT[sig]);
      const log = bg.output();
      expect(log).toContain(`interrupted: nothing was written to ${out}`);
      expect(log).toMatch(/"status": "interrupted"/);
      expect(log).not.toMatch(/^\s+at /m);
      expect(readdirSync(ws.path('out'))).toEqual([]);
      expect(readdirSync(ws.partialDir), 'only the resumable download is kept').toEqual([big.layer.digest.slice(7)]);

      slow.release();
      slow.clearRequests();
      const again = await runFerry(['save', viaProxy(big), '-o', out], { env: ws.env });
      expect(again.code, describeRun(again)).toBe(0);
      const gets = slow.blobGets(big.layer.digest);
      expect(gets[0]?.range, 'the rerun resumes the layer').toMatch(/^bytes=\d+-$/);
      await runOk('sha256sum', ['-c', 'b.tar.gz.sha256'], { cwd: ws.path('out') });
      expect(debris(ws.path('out'))).toEqual([]);
      expect(debris(ws.partialDir)).toEqual([]);
    });
  }

  it('SIGTERM in the middle of writing the bundle: exit 143, the .partial removed, the old bundle untouched', async () => {
    const ws = workspace('save-writing');
    const out = ws.path('out', 'b.tar.gz');
    mkdirSync(ws.path('out'));
    writeFileSync(out, 'the previous bundle');
    const first = await runFerry(['save', big.ref, '-o', ws.path('warm.tar.gz')], { env: ws.env });
    expect(first.code, describeRun(first)).toBe(0);
    const bg = start(['save', big.ref, '-o', out], ws);
    await stopMidway(bg.pid, `${out}.partial`, 4 * MiB, () => bg.output());
    expect(existsSync(`${out}.partial`)).toBe(true);
    signalStopped(bg.pid, 'SIGTERM');
    expect(await bg.exited, bg.output()).toBe(143);
    expect(bg.output()).toContain(`interrupted: nothing was written to ${out}`);
    expect(readdirSync(ws.path('out'))).toEqual(['b.tar.gz']);
    expect(readFileSync(out, 'utf8')).toBe('the previous bundle');
  });

  it('two saves to one -o: the second fails at once naming the first one\'s pid, the first succeeds with a matching sidecar', async () => {
    const ws = workspace('save-twice');
    const out = ws.path('out', 'b.tar.gz');
    slow.pauseBlobOnce(big.layer.digest, 4 * MiB);
    const first = start(['save', viaProxy(big), '-o', out], ws);
    await held(first, big.layer.digest);
    const second = await runFerry(['save', viaProxy(small), '-o', out, '--json'], { env: ws.env });
    expect(second.code, describeRun(second)).toBe(1);
    expect(second.stderr).toContain(`locked by process ${first.pid}`);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'failed', error: { code: 'LOCKED' } });
    slow.release();
    expect(await first.exited, first.output()).toBe(0);
    await runOk('sha256sum', ['-c', 'b.tar.gz.sha256'], { cwd: ws.path('out') });
    expect(debris(ws.path('out'))).toEqual([]);
  });
});

describe('ferry export interrupted', () => {
  it('SIGINT in a held download: exit 130, no bundle, no lock files; the rerun succeeds', async () => {
    const ws = workspace('export-int');
    const m = ws.path('m.yaml');
    writeFileSync(m, ['bundle: m', 'images:', `  - ${viaProxy(big)}`, `  - ${viaProxy(small)}`, ''].join('\n'));
    slow.pauseBlobOnce(big.layer.digest, 4 * MiB);
    const bg = start(['export', m], ws);
    await held(bg, big.layer.digest);
    process.kill(bg.pid, 'SIGINT');
    expect(await bg.exited, bg.output()).toBe(130);
    expect(bg.output()).toContain(`interrupted: nothing was written to ${join('bundles', 'm.tar.gz')}`);
    expect(existsSync(ws.path('m.lock.json'))).toBe(false);
    expect(readdirSync(ws.path('bundles'))).toEqual([]);
    slow.release();
    const again = await runFerry(['export', m], { env: ws.env, cwd: ws.dir });
    expect(again.code, describeRun(again)).toBe(0);
    expect(readdirSync(ws.path('bundles')).sort()).toEqual(['m.tar.gz', 'm.tar.gz.sha256']);
    expect(debris(ws.partialDir)).toEqual([]);
  });
});

describe('ferry push and load interrupted', () => {
  it('SIGTERM while push streams a bundle from the file: exit 143, no manifest pushed, nothing in the cache; the rerun pushes the registry\'s digest', async () => {
    const ws = workspace('push-term');
    const bg = start(['push', bigBundle, '--to', `${reg.host}/pushed`], ws);
    // Read in place with positioned reads, so no file offset moves: catch it by what the
    // registry has received of the big layer's upload instead.
    await waitFor(() => {
      if (uploadedBytes(join(reg.dir, 'data'), 'pushed') < 8 * MiB) return false;
      process.kill(bg.pid, 'SIGSTOP');
      return true;
    }, { what: 'the push halfway through its upload', timeoutMs: 60_000, intervalMs: 2, describe: () => bg.output() });
    signalStopped(bg.pid, 'SIGTERM');
    expect(await bg.exited, bg.output()).toBe(143);
    expect(bg.output()).toMatch(/^interrupted/m);
    expect(debris(ws.partialDir)).toEqual([]);
    const tags = await fetch(`http://${reg.host}/v2/pushed/test/big/tags/list`);
    expect(tags.status, 'no manifest reached the registry').toBe(404);
    const again = await runFerry(['push', bigBundle, '--to', `${reg.host}/pushed`], { env: ws.env, cwd: ws.dir });
    expect(again.code, describeRun(again)).toBe(0);
    expect(await registryDigest(`${reg.host}/pushed/test/big:1`)).toBe(big.digest);
  });

  it('SIGTERM while push reads an older bundle into the cache: exit 143, no ingest file left', async () => {
    const ws = workspace('push-term-old');
    const old = await oldFormat();
    const bg = start(['push', old, '--to', `${reg.host}/pushed-old`], ws);
    await stopMidway(bg.pid, old, 8 * MiB, () => bg.output());
    expect(readdirSync(ws.partialDir).some((f) => f.startsWith('ingest-')), 'an ingest file is being written').toBe(true);
    signalStopped(bg.pid, 'SIGTERM');
    expect(await bg.exited, bg.output()).toBe(143);
    expect(bg.output()).toMatch(/^interrupted/m);
    expect(debris(ws.partialDir)).toEqual([]);
  });

  it('kill -9 while push reads an older bundle into the cache leaves an ingest file that the next run reclaims', async () => {
    const ws = workspace('push-kill9');
    const old = await oldFormat();
    const bg = start(['push', old, '--to', `${reg.host}/pushed9`], ws);
    await stopMidway(bg.pid, old, 8 * MiB, () => bg.output());
    process.kill(bg.pid, 'SIGKILL');
    await bg.exited;
    expect(readdirSync(ws.partialDir).filter((f) => f.startsWith('ingest-')).length, 'kill -9 cannot clean up').toBeGreaterThan(0);
    const ls = await runFerry(['cache', 'ls'], { env: ws.env });
    expect(ls.code, describeRun(ls)).toBe(0);
    expect(readdirSync(ws.partialDir).filter((f) => f.startsWith('ingest-'))).toEqual([]);
  });

  it('SIGINT while load streams into the engine: exit 130; the rerun loads the image', async () => {
    const ws = workspace('load-int');
    const env = { ...ws.env, DOCKER_HOST: `unix://${dockerd.socket}` };
    const bg = start(['load', bigBundle], ws, env);
    // Read in place with positioned reads, so no file offset moves: catch it by what it has read.
    await stopMidwayReading(bg.pid, bigBundle, 8 * MiB, () => bg.output());
    signalStopped(bg.pid, 'SIGINT');
    expect(await bg.exited, bg.output()).toBe(130);
    expect(bg.output()).toMatch(/^interrupted/m);
    const again = await runFerry(['load', bigBundle], { env });
    expect(again.code, describeRun(again)).toBe(0);
    expect(await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', big.ref])).toMatch(/^sha256:/);
  });
});

describe('ferry export of a bundle damaged after it was written', () => {
  for (const damage of ['truncated', 'a byte flipped in the middle'] as const) {
    it(`${damage}: the next export says why and rewrites it; the new bundle is byte-identical to the first`, async () => {
      const ws = workspace(`damaged-${damage.split(' ')[0]}`);
      const m = ws.path('m.yaml');
      writeFileSync(m, ['bundle: m', 'images:', `  - ${big.ref}`, ''].join('\n'));
      const first = await runFerry(['export', m], { env: ws.env, cwd: ws.dir });
      expect(first.code, describeRun(first)).toBe(0);
      const file = ws.path('bundles', 'm.tar.gz');
      const original = readFileSync(file);
      if (damage === 'truncated') {
        writeFileSync(file, original.subarray(0, original.length - 4096));
      } else {
        const fd = openSync(file, 'r+');
        writeSync(fd, Buffer.from([original[original.length >> 1]! ^ 0xff]), 0, 1, original.length >> 1);
        closeSync(fd);
      }
      const again = await runFerry(['export', m, '--json'], { env: ws.env, cwd: ws.dir });
      expect(again.code, describeRun(again)).toBe(0);
      expect(again.stderr).toMatch(/does not match its checksum file .*rewriting it from the cache/);
      expect(JSON.parse(again.stdout)).toMatchObject({ status: 'ok', summary: { downloadedBytes: 0 } });
      expect(readFileSync(file).equals(original), 'same inputs, same bytes').toBe(true);
      await runOk('sha256sum', ['-c', 'm.tar.gz.sha256'], { cwd: ws.path('bundles') });
      const third = await runFerry(['export', m], { env: ws.env, cwd: ws.dir });
      expect(third.code, describeRun(third)).toBe(0);
      expect(third.stderr).toMatch(/unchanged/);
    });
  }
});

describe('same inputs, same bytes', () => {
  it('two saves of the same images with fresh caches are byte-identical; tar times are the image creation time', async () => {
    const a = workspace('repro-a');
    const b = workspace('repro-b');
    const ra = await runFerry(['save', small.ref, big.ref, '-o', a.path('x.tar.gz')], { env: a.env });
    const rb = await runFerry(['save', small.ref, big.ref, '-o', b.path('x.tar.gz')], { env: b.env });
    expect(ra.code, describeRun(ra)).toBe(0);
    expect(rb.code, describeRun(rb)).toBe(0);
    expect(readFileSync(a.path('x.tar.gz')).equals(readFileSync(b.path('x.tar.gz')))).toBe(true);
    const listing = await runOk('tar', ['--utc', '-tvzf', a.path('x.tar.gz')]);
    expect(listing.split('\n').filter(Boolean).every((l) => l.includes('2024-05-01 10:00')), listing).toBe(true);
  });

  it('SOURCE_DATE_EPOCH sets the times; an invalid one is exit 2 before any work', async () => {
    const ws = workspace('sde');
    const r = await runFerry(['save', small.ref, '-o', ws.path('x.tar.gz')], { env: { ...ws.env, SOURCE_DATE_EPOCH: '1700000000' } });
    expect(r.code, describeRun(r)).toBe(0);
    const listing = await runOk('tar', ['--utc', '-tvzf', ws.path('x.tar.gz')]);
    expect(listing).toContain('2023-11-14 22:13');
    const meta = JSON.parse(await runOk('tar', ['-xzOf', ws.path('x.tar.gz'), 'ferry.json'])) as { created: string };
    expect(meta.created).toBe('2023-11-14T22:13:20.000Z');
    const bad = await runFerry(['save', small.ref, '-o', ws.path('y.tar.gz')], { env: { ...ws.env, SOURCE_DATE_EPOCH: 'yesterday' } });
    expect(bad.code, describeRun(bad)).toBe(2);
    expect(bad.stderr).toMatch(/SOURCE_DATE_EPOCH must be a whole number of seconds/);
  });
});
