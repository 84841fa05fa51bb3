/**
 * Local faults: every command that writes, pointed at a place it cannot write. A small tmpfs
 * that is full, a read-only mount, a directory an ordinary user may not write (ferry run as
 * uid 65534), a path that is a directory. Each case checks the exit code (docs/cli.md), the
 * one-paragraph message with the OS reason in words and no stack trace, the --json report,
 * that no `.partial` file is left, and that a rerun on a good path succeeds from the cache.
 *
 * Real servers: the CNCF registry on loopback; images made with tar, gzip and skopeo
 * (helpers/layout-image.ts), never with ferry. Needs root for mount(8), as CI runs.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRun, ferryEnv, runFerry } from './helpers/ferry.js';
import { pushLayoutImage, randomFile, type LayoutImage } from './helpers/layout-image.js';
import { runOk, type RunResult } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { suiteTempDir } from './helpers/tmp.js';

const NOBODY = 65534;
const MiB = 1024 * 1024;

const tmp = suiteTempDir('local-faults');
let reg: Registry;
let big: LayoutImage;
let small: LayoutImage;

beforeAll(async () => {
  // An ordinary user must reach the directories below (mkdtemp makes them 0700).
  chmodSync(tmp.path, 0o755);
  reg = await startRegistry();
  big = await pushLayoutImage(`${reg.host}/test/big:1`, { 'big.bin': randomFile(12 * MiB), hello: 'big\n' }, tmp.join('img-big'));
  small = await pushLayoutImage(`${reg.host}/test/small:1`, { hello: 'small\n' }, tmp.join('img-small'));
});

afterAll(async () => {
  await reg?.stop();
});

let n = 0;
/** A fresh directory under the suite's temp dir. */
const fresh = (label: string): string => {
  const d = tmp.join(`${label}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

/** A tmpfs of `size` at a fresh directory; `ro` mounts it read-only; `fill` fills it up. */
async function tmpfs(label: string, opts: { size?: string; ro?: boolean; fill?: boolean } = {}): Promise<string> {
  const d = fresh(label);
  await runOk('mount', ['-t', 'tmpfs', '-o', `size=${opts.size ?? '4m'}${opts.ro ? ',ro' : ''}`, 'tmpfs', d]);
  if (opts.fill) {
    // dd stops with "No space left on device": the file system is then full to the last block.
    await runOk('sh', ['-c', `dd if=/dev/zero of=${d}/fill bs=64k 2>/dev/null; true`]);
  }
  return d;
}

/** A directory owned by root, mode 0755: uid 65534 may not write into it. */
function rootOnlyDir(label: string): string {
  const d = fresh(label);
  chmodSync(d, 0o755);
  return d;
}

/** A home (cache, docker config) that uid 65534 owns, for runs as that user. */
function nobodyHome(label: string): NodeJS.ProcessEnv {
  const d = fresh(label);
  const env = ferryEnv(d);
  for (const sub of ['', 'cache', 'docker', 'home']) chownSync(join(d, sub), NOBODY, NOBODY);
  return env;
}

/** Asserts one error paragraph (no stack trace), with `reason` in it. */
function expectOneParagraph(r: RunResult, reason: RegExp): void {
  const report = describeRun(r);
  expect(r.stderr, report).toMatch(reason);
  expect(r.stderr.match(/^error: /gm)?.length, report).toBe(1);
  expect(r.stderr, report).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
  expect(r.stderr, report).toMatch(/^ {2}hint: /m);
}

/** The --json failure document on stdout. */
function failureReport(r: RunResult): { status: string; exitCode: number; error: { code: string; message: string } } {
  try {
    return JSON.parse(r.stdout) as never;
  } catch {
    throw new Error(`--json stdout is not one JSON document:\n${describeRun(r)}`);
  }
}

const partials = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.partial')) : []);

describe('ferry save to a place it cannot write', () => {
  it('a full file system: exit 1, "no space left on device", the --json report, no .partial; the rerun elsewhere resumes from the cache', async () => {
    const full = await tmpfs('full', { size: '4m' });
    const env = ferryEnv(fresh('home'));
    const r = await runFerry(['save', big.ref, '-o', join(full, 'b.tar.gz'), '--json'], { env });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /writing bundle .*b\.tar\.gz: no space left on device/);
    const doc = failureReport(r);
    expect(doc).toMatchObject({ status: 'failed', exitCode: 1, error: { code: 'IO' } });
    expect(readdirSync(full), 'nothing left on the full file system').toEqual([]);

    const good = join(fresh('good'), 'b.tar.gz');
    const again = await runFerry(['save', big.ref, '-o', good, '--json'], { env });
    expect(again.code, describeRun(again)).toBe(0);
    const rep = JSON.parse(again.stdout) as { images: { downloadedBytes: number; blobsCached: number }[] };
    expect(rep.images[0]!.downloadedBytes, 'every blob came from the cache').toBe(0);
    expect(rep.images[0]!.blobsCached).toBeGreaterThan(0);
    await runOk('sha256sum', ['-c', `${good}.sha256`], { cwd: join(good, '..') });
  });

  it('a read-only file system: exit 2 before any download, "read-only file system"', async () => {
    const ro = await tmpfs('ro', { ro: true });
    const mark = reg.logText().length;
    const r = await runFerry(['save', big.ref, '-o', join(ro, 'b.tar.gz'), '--json'], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /read-only file system/);
    expect(failureReport(r)).toMatchObject({ status: 'failed', exitCode: 2, error: { code: 'USAGE' } });
    expect(reg.logText().slice(mark), 'nothing was asked of the registry').not.toContain('/v2/test/big/');
  });

  it('a directory an ordinary user may not write: exit 2, "permission denied", naming the directory', async () => {
    const dir = rootOnlyDir('root-only');
    const r = await runFerry(['save', small.ref, '-o', join(dir, 'b.tar.gz')], { env: nobodyHome('nobody'), uid: NOBODY });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, new RegExp(`may not write into ${dir} \\(permission denied\\)`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an output path that is a directory: exit 2, "it is a directory"', async () => {
    const dir = fresh('is-dir');
    const r = await runFerry(['save', small.ref, '-o', dir], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /is a directory/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a cache on a full file system: exit 1 naming the cache, and nothing half-written in it', async () => {
    const full = await tmpfs('full-cache', { size: '4m' });
    const env = { ...ferryEnv(fresh('home')), XDG_CACHE_HOME: full };
    const out = join(fresh('out'), 'b.tar.gz');
    const r = await runFerry(['save', big.ref, '-o', out, '--json'], { env });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /no space left on device/);
    expect(failureReport(r).error.code).toMatch(/IO|NETWORK/);
    expect(existsSync(out)).toBe(false);
    expect(partials(join(out, '..'))).toEqual([]);
  });
});

describe('ferry export to a place it cannot write', () => {
  const manifest = (dir: string, ref: string): string => {
    const f = join(dir, 'm.yaml');
    writeFileSync(f, ['bundle: m', 'images:', `  - ${ref}`, ''].join('\n'));
    return f;
  };

  it('a full file system: exit 1, the --json report, no .partial, no lock file left; the rerun succeeds from the cache', async () => {
    const full = await tmpfs('exp-full', { size: '4m' });
    const dir = fresh('exp');
    const env = ferryEnv(fresh('home'));
    const m = manifest(dir, big.ref);
    const r = await runFerry(['export', m, '-o', join(full, 'm.tar.gz'), '--json'], { env, cwd: dir });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /no space left on device/);
    expect(failureReport(r)).toMatchObject({ status: 'failed', error: { code: 'IO' } });
    expect(readdirSync(full)).toEqual([]);
    expect(existsSync(join(dir, 'm.lock.json')), 'no lock file for a bundle that was not written').toBe(false);

    const again = await runFerry(['export', m, '--json'], { env, cwd: dir });
    expect(again.code, describeRun(again)).toBe(0);
    expect((JSON.parse(again.stdout) as { summary: { downloadedBytes: number } }).summary.downloadedBytes).toBe(0);
  });

  it('a manifest in a read-only directory (the lock file cannot be written): exit 2 before any download', async () => {
    const src = fresh('exp-ro-src');
    manifest(src, small.ref);
    const ro = await tmpfs('exp-ro', { size: '1m' });
    await runOk('cp', [join(src, 'm.yaml'), ro]);
    await runOk('mount', ['-o', 'remount,ro', ro]);
    const r = await runFerry(['export', join(ro, 'm.yaml'), '-o', join(fresh('out'), 'm.tar.gz')], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /lock file .*m\.lock\.json.*read-only file system/);
  });

  it('an output directory an ordinary user may not write: exit 2, "permission denied"', async () => {
    const dir = fresh('exp-nobody');
    chownSync(dir, NOBODY, NOBODY);
    const m = manifest(dir, small.ref);
    const out = rootOnlyDir('exp-root-only');
    const r = await runFerry(['export', m, '-o', join(out, 'm.tar.gz')], { env: nobodyHome('nobody'), uid: NOBODY, cwd: dir });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /permission denied/);
  });

  it('an output path that is a directory: exit 2', async () => {
    const dir = fresh('exp-dir');
    const m = manifest(dir, small.ref);
    mkdirSync(join(dir, 'bundles', 'm.tar.gz'), { recursive: true });
    const r = await runFerry(['export', m, '--json'], { env: ferryEnv(fresh('home')), cwd: dir });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /is a directory/);
    expect(failureReport(r).exitCode).toBe(2);
  });
});

describe('ferry push and login writing their files', () => {
  let bundle: string;
  beforeAll(async () => {
    bundle = join(fresh('push-src'), 'small.tar.gz');
    const r = await runFerry(['save', small.ref, '-o', bundle], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(0);
  });

  it('push with --mapping-file on a read-only file system: exit 2 before anything is pushed', async () => {
    const ro = await tmpfs('map-ro', { ro: true });
    const r = await runFerry(['push', bundle, '--to', `${reg.host}/mirror-ro`, '--mapping-file', join(ro, 'map.json'), '--json'], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(2);
    expectOneParagraph(r, /mapping file .*read-only file system/);
    expect(reg.logText()).not.toContain('/v2/mirror-ro/');
  });

  it('push with --mapping-file on a full file system: exit 1, "no space left on device", no .partial', async () => {
    const full = await tmpfs('map-full', { size: '1m', fill: true });
    const r = await runFerry(['push', bundle, '--to', `${reg.host}/mirror-full`, '--mapping-file', join(full, 'map.json'), '--json'], { env: ferryEnv(fresh('home')) });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /writing the mapping file .*map\.json: no space left on device/);
    expect(partials(full)).toEqual([]);
  });

  it('login with the Docker config on a read-only file system: exit 1, "read-only file system", the old config kept', async () => {
    const ro = await tmpfs('cfg-ro', { size: '1m' });
    writeFileSync(join(ro, 'config.json'), '{"auths":{}}\n');
    await runOk('mount', ['-o', 'remount,ro', ro]);
    const r = await runFerry(['login', reg.host, '-u', 'someone', '--password-stdin'], { env: { ...ferryEnv(fresh('home')), DOCKER_CONFIG: ro }, input: 'pw-never-print-me\n' });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /Docker config .*config\.json: read-only file system/);
    expect(r.stderr + r.stdout).not.toContain('pw-never-print-me');
    expect(readFileSync(join(ro, 'config.json'), 'utf8')).toBe('{"auths":{}}\n');
  });

  it('login with the Docker config on a full file system: exit 1, "no space left on device", no .partial', async () => {
    const full = await tmpfs('cfg-full', { size: '1m' });
    writeFileSync(join(full, 'config.json'), '{"auths":{}}\n');
    await runOk('sh', ['-c', `dd if=/dev/zero of=${full}/fill bs=64k 2>/dev/null; true`]);
    const r = await runFerry(['login', reg.host, '-u', 'someone', '--password-stdin'], { env: { ...ferryEnv(fresh('home')), DOCKER_CONFIG: full }, input: 'pw\n' });
    expect(r.code, describeRun(r)).toBe(1);
    expectOneParagraph(r, /no space left on device/);
    expect(partials(full)).toEqual([]);
    expect(readFileSync(join(full, 'config.json'), 'utf8')).toBe('{"auths":{}}\n');
  });
});

describe('reading a bundle that is not a file', () => {
  it('a directory or a pipe given as the bundle: exit 2 saying so, no hang, no "bug" hint', async () => {
    const dir = fresh('not-a-bundle');
    const fifo = join(dir, 'bundle.fifo');
    await runOk('mkfifo', [fifo]);
    for (const [args, says] of [
      [['verify', dir], /is a directory, not a bundle/],
      [['ls', fifo], /is not a regular file \(a pipe or a device\)/],
      [['push', fifo, '--to', `${reg.host}/x`], /is not a regular file/],
    ] as const) {
      const r = await runFerry([...args], { env: ferryEnv(fresh('home')), timeoutMs: 20_000 });
      expect(r.code, describeRun(r)).toBe(2);
      expectOneParagraph(r, says);
      expect(r.stderr).not.toContain('looks like a bug');
    }
  });
});
