/**
 * Acceptance checks for `ferry import` (docs/import.md): the built CLI imports a drop directory
 * into a second real registry and into a private dockerd. Bundles are made by `ferry save` from
 * images built without ferry (an OCI layout written here, copied into the source registry by
 * skopeo). Oracles: skopeo inspect --raw on the target (hashed here), `docker image inspect`
 * (the image ID is the config digest the source registry's manifest names), and the files in
 * drop/, done/ and failed/. A volume set written by `ferry save --split` is imported as one
 * bundle (its volumes and checksum file moved together, `sha256sum -c` run where they land).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerd, type Dockerd } from './helpers/dockerd.js';
import { FERRY_BIN, REPO_ROOT, describeRun } from './helpers/ferry.js';
import { ferryIn, freshHome, saveBundle } from './helpers/internal-suite.js';
import { pushLayoutImage, randomFile, type LayoutImage } from './helpers/layout-image.js';
import { signalStopped, stopMidwayReading } from './helpers/midway.js';
import { runOk } from './helpers/processes.js';
import { startRegistry, type Registry } from './helpers/registry.js';
import { rawManifest, sha256 } from './helpers/skopeo.js';
import { suiteTempDir } from './helpers/tmp.js';
import { waitFor } from './helpers/wait.js';

const tmp = suiteTempDir('import');
let source: Registry;
let target: Registry;
let dockerd: Dockerd;
/** name -> image in the source registry, and its bundle made by ferry save. */
const images: Record<string, LayoutImage> = {};
const bundles: Record<string, string> = {};
const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'] as const;

beforeAll(async () => {
  [source, target, dockerd] = await Promise.all([startRegistry(), startRegistry(), startDockerd()]);
  for (const n of NAMES) {
    images[n] = await pushLayoutImage(`${source.host}/imp/${n}:1`, { hello: `hello from ${n}\n` }, join(tmp.path, 'img', n));
    bundles[n] = await saveBundle(tmp.path, `${n}.tar.gz`, [images[n]!.ref]);
  }
  // Big enough that a push is caught in its middle.
  images.big = await pushLayoutImage(`${source.host}/imp/big:1`, { blob: randomFile(24 * 1024 * 1024) }, join(tmp.path, 'img', 'big'));
  bundles.big = await saveBundle(tmp.path, 'big.tar.gz', [images.big.ref]);
  // A volume set (save --split): ~3 MiB of random bytes in 1 MB volumes.
  images.vol = await pushLayoutImage(`${source.host}/imp/vol:1`, { blob: randomFile(3 * 1024 * 1024), hello: 'hello from a set\n' }, join(tmp.path, 'img', 'vol'));
  bundles.vol = await saveBundle(tmp.path, 'vol.tar.gz', [images.vol.ref], ['--split', '1M']);
}, 240_000);

afterAll(async () => {
  await Promise.allSettled([source?.stop(), target?.stop(), dockerd?.stop()]);
});

interface ImportReport {
  command: string;
  status: string;
  bundles: { bundle: string; volumes?: string[]; status: string; sha256: string | null; images: { source: string; target: string; digest: string }[]; reason: string | null; movedTo: string | null }[];
}

let sites = 0;
/** A fresh drop/done/failed tree and its config file. */
function site(targetYaml: string, extra = ''): { root: string; drop: string; done: string; failed: string; config: string; home: string; env: NodeJS.ProcessEnv } {
  const root = join(tmp.path, `site-${++sites}`);
  const [drop, done, failed] = ['drop', 'done', 'failed'].map((d) => join(root, d)) as [string, string, string];
  mkdirSync(drop, { recursive: true });
  const config = join(root, 'import.yaml');
  writeFileSync(config, `drop: drop\ndone: done\nfailed: failed\ntarget:\n${targetYaml}\n${extra}`);
  return { root, drop, done, failed, config, ...freshHome(root) };
}

/** Delivers a bundle (and its sidecar unless `sidecar` is false) into `drop` as `as`. */
function deliver(drop: string, name: string, opts: { as?: string; sidecar?: boolean } = {}): string {
  const to = join(drop, opts.as ?? `${name}.tar.gz`);
  copyFileSync(bundles[name]!, to);
  if (opts.sidecar !== false) copyFileSync(`${bundles[name]!}.sha256`, `${to}.sha256`);
  return to;
}

/** The volume file names of the set `vol.tar.gz` written by save --split. */
const volNames = (): string[] => readdirSync(join(tmp.path, 'bundles')).filter((n) => /^vol\.tar\.gz\.\d{3}$/.test(n)).sort();

/** Delivers the set `vol.tar.gz` into `drop` (as `as`), without the volumes `skip` (file names) and, unless `sidecar` is false, with its checksum file. */
function deliverSet(drop: string, opts: { as?: string; skip?: string[]; sidecar?: boolean } = {}): string[] {
  const as = opts.as ?? 'vol.tar.gz';
  const out: string[] = [];
  for (const n of volNames()) {
    if (opts.skip?.includes(n)) continue;
    const to = join(drop, `${as}${n.slice('vol.tar.gz'.length)}`);
    copyFileSync(join(tmp.path, 'bundles', n), to);
    out.push(to);
  }
  if (opts.sidecar !== false) {
    const text = readFileSync(`${bundles.vol!}.sha256`, 'utf8');
    writeFileSync(join(drop, `${as}.sha256`), text.replaceAll('vol.tar.gz.', `${as}.`));
  }
  return out;
}

/** sha256 hex of the set's concatenation (`cat vol.tar.gz.0* | sha256sum`). */
const setSha256 = (): string => {
  const h = createHash('sha256');
  for (const n of volNames()) h.update(readFileSync(join(tmp.path, 'bundles', n)));
  return h.digest('hex');
};

const files = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).sort() : []);
const journalLines = (done: string): { bundle: string; sha256: string; bytes: number; volumes?: number; images: { digest: string }[] }[] =>
  readFileSync(join(done, 'imports.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { bundle: string; sha256: string; bytes: number; volumes?: number; images: { digest: string }[] });
const byStatus = (r: ImportReport): Record<string, string[]> => {
  const out: Record<string, string[]> = {};
  for (const b of r.bundles) (out[b.status] ??= []).push(b.bundle);
  return out;
};

async function importRun(s: ReturnType<typeof site>, extra: string[] = []): Promise<{ code: number | null; report: ImportReport; text: string; stderr: string }> {
  const r = await ferryIn(s.root, ['import', s.config, '--json', ...extra], { home: s.home, env: { ...s.env, DOCKER_HOST: `unix://${dockerd.socket}` } });
  return { code: r.code, report: JSON.parse(r.stdout) as ImportReport, text: r.report, stderr: r.stderr };
}

/** The config digest the source registry's manifest of `img` names (the image ID in an engine). */
async function configDigest(img: LayoutImage): Promise<string> {
  return (JSON.parse(await rawManifest(img.ref)) as { config: { digest: string } }).config.digest;
}

/** Checks that every image of `names` is in the target exactly as upstream. */
type Oracle = (names: readonly string[]) => Promise<void>;

const registryOracle: Oracle = async (names) => {
  for (const n of names) {
    const raw = await rawManifest(`${target.host}/mirror/imp/${n}:1`);
    expect(sha256(raw), `digest of ${target.host}/mirror/imp/${n}:1`).toBe(images[n]!.digest);
    expect(raw).toBe(await rawManifest(images[n]!.ref));
  }
};

const dockerOracle: Oracle = async (names) => {
  for (const n of names) {
    const id = (await dockerd.dockerOk(['image', 'inspect', '--format', '{{.Id}}', `${source.host}/imp/${n}:1`])).trim();
    expect(id, `image ID of ${n}`).toBe(await configDigest(images[n]!));
  }
};

describe.each([
  ['registry', () => `  registry: ${target.host}/mirror`, registryOracle],
  ['docker', () => `  docker: unix://${dockerd.socket}`, dockerOracle],
] as const)('ferry import into a %s', (_, targetYaml, oracle) => {
  it('imports the good bundles, files the damaged one under failed/, waits for the half-written one, skips the duplicate; then the rest; then nothing', async () => {
    const s = site(targetYaml());
    // An earlier delivery, imported before.
    deliver(s.drop, 'alpha');
    const zero = await importRun(s);
    expect(zero.code, zero.text).toBe(0);
    expect(byStatus(zero.report)).toEqual({ imported: ['alpha.tar.gz'] });

    deliver(s.drop, 'bravo');
    deliver(s.drop, 'charlie');
    deliver(s.drop, 'delta', { sidecar: false }); // still being copied: no checksum file yet
    const damaged = deliver(s.drop, 'echo');
    const bytes = readFileSync(damaged);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(damaged, bytes);
    const old = new Date(Date.now() - 10 * 60_000); // it arrived (and stopped changing) a while ago
    utimesSync(damaged, old, old);
    deliver(s.drop, 'alpha', { as: 'alpha-again.tar.gz' }); // re-delivered, identical

    const first = await importRun(s);
    expect(first.code, first.text).toBe(3);
    expect(byStatus(first.report)).toEqual({ duplicate: ['alpha-again.tar.gz'], imported: ['bravo.tar.gz', 'charlie.tar.gz'], waiting: ['delta.tar.gz'], rejected: ['echo.tar.gz'] });
    await oracle(['alpha', 'bravo', 'charlie']);
    expect(files(s.drop)).toEqual(['delta.tar.gz']);
    expect(files(s.failed)).toEqual(['echo.tar.gz', 'echo.tar.gz.reason.txt', 'echo.tar.gz.sha256']);
    expect(readFileSync(join(s.failed, 'echo.tar.gz.reason.txt'), 'utf8')).toMatch(/does not match its checksum file/);
    expect(files(s.done)).toEqual(['alpha-again.tar.gz', 'alpha-again.tar.gz.sha256', 'alpha.tar.gz', 'alpha.tar.gz.sha256', 'bravo.tar.gz', 'bravo.tar.gz.sha256', 'charlie.tar.gz', 'charlie.tar.gz.sha256', 'imports.jsonl']);
    expect(journalLines(s.done).map((e) => e.bundle)).toEqual(['alpha.tar.gz', 'bravo.tar.gz', 'charlie.tar.gz']);
    expect(first.stderr).toMatch(/rejected: echo\.tar\.gz: it does not match its checksum file/);
    expect(first.stderr).toMatch(/already imported: alpha-again\.tar\.gz/);
    expect(first.stderr).toMatch(/waiting: delta\.tar\.gz/);

    copyFileSync(`${bundles.delta!}.sha256`, join(s.drop, 'delta.tar.gz.sha256')); // the copy finished
    const second = await importRun(s);
    expect(second.code, second.text).toBe(0);
    expect(byStatus(second.report)).toEqual({ imported: ['delta.tar.gz'] });
    await oracle(['delta']);
    expect(files(s.drop)).toEqual([]);

    const third = await importRun(s);
    expect(third.code, third.text).toBe(0);
    expect(third.report.bundles).toEqual([]);
    expect(journalLines(s.done).map((e) => e.bundle)).toEqual(['alpha.tar.gz', 'bravo.tar.gz', 'charlie.tar.gz', 'delta.tar.gz']);
  }, 240_000);
});

/** Starts `ferry import CONFIG` as a child process (for runs the test stops or kills). */
function startImport(s: ReturnType<typeof site>): { child: ChildProcess; stderr: () => string; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> } {
  const child = spawn(process.execPath, [FERRY_BIN, 'import', s.config], { cwd: REPO_ROOT, env: { PATH: process.env.PATH, LANG: 'C.UTF-8', ...s.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
  return { child, stderr: () => stderr, done };
}

describe('ferry import, one run at a time and after a crash', () => {
  it('a second run while one works exits 1 naming the process that holds the lock', async () => {
    const s = site(`  registry: ${target.host}/lock`);
    deliver(s.drop, 'big');
    const first = startImport(s);
    const lockFile = join(s.done, 'imports.jsonl.lock');
    await waitFor(() => existsSync(lockFile) && readFileSync(lockFile, 'utf8') === String(first.child.pid), { what: 'the first run to take the lock', timeoutMs: 60_000 });
    process.kill(first.child.pid!, 'SIGSTOP'); // it stays in the middle of its work while the second one starts
    try {
      const second = await ferryIn(s.root, ['import', s.config], { home: s.home });
      expect(second.code, second.report).toBe(1);
      expect(second.stderr).toContain(`is locked by process ${first.child.pid}`);
    } finally {
      process.kill(first.child.pid!, 'SIGCONT');
    }
    const r = await first.done;
    expect(r.code, r.stderr).toBe(0);
    expect(files(s.drop)).toEqual([]);
    expect(journalLines(s.done).map((e) => e.bundle)).toEqual(['big.tar.gz']);
  }, 240_000);

  it('kill -9 in the middle of a push, then a rerun: every bundle imported once, nothing lost', async () => {
    const s = site(`  registry: ${target.host}/crash`);
    deliver(s.drop, 'alpha');
    deliver(s.drop, 'big');
    const run1 = startImport(s);
    // Caught in the middle of the big layer's upload: the target registry holds an unfinished
    // upload of it (its _uploads/<id>/data file) a few MB long.
    const uploads = join(target.dir, 'data', 'docker', 'registry', 'v2', 'repositories', 'crash', 'imp', 'big', '_uploads');
    const uploaded = (): number => files(uploads).reduce((n, id) => Math.max(n, existsSync(join(uploads, id, 'data')) ? statSync(join(uploads, id, 'data')).size : 0), 0);
    await waitFor(() => {
      if (uploaded() < 4 * 1024 * 1024) return false;
      process.kill(run1.child.pid!, 'SIGKILL');
      return true;
    }, { what: 'the first run in the middle of uploading the big layer', timeoutMs: 120_000, intervalMs: 2 });
    const killed = await run1.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(files(s.drop)).toContain('big.tar.gz');

    const rerun = await ferryIn(s.root, ['import', s.config, '--json'], { home: s.home });
    expect(rerun.code, rerun.report).toBe(0);
    expect(files(s.drop)).toEqual([]);
    const journal = journalLines(s.done);
    expect(journal.map((e) => e.bundle).sort()).toEqual(['alpha.tar.gz', 'big.tar.gz']);
    for (const n of ['alpha', 'big']) {
      const raw = await rawManifest(`${target.host}/crash/imp/${n}:1`);
      expect(sha256(raw)).toBe(images[n]!.digest);
    }
    const again = await ferryIn(s.root, ['import', s.config, '--json'], { home: s.home });
    expect(again.code, again.report).toBe(0);
    expect((JSON.parse(again.stdout) as ImportReport).bundles).toEqual([]);
  }, 240_000);

  it('kill -9 in the middle of a load into dockerd, then a rerun: loaded once, nothing lost', async () => {
    const s = site(`  docker: unix://${dockerd.socket}`);
    const big = deliver(s.drop, 'big');
    const run1 = startImport(s);
    // The bundle is streamed to the engine as it is read (after its checksum was checked, which
    // reads it too): once the run says it is loading, catch it a few MB into the stream.
    await waitFor(() => run1.stderr().includes('loading '), { what: 'the first run to start loading', timeoutMs: 60_000, intervalMs: 2 });
    // Load reads the bundle with positioned reads (no file offset moves): count the bytes read.
    await stopMidwayReading(run1.child.pid!, big, 4 * 1024 * 1024, () => 'the first run');
    signalStopped(run1.child.pid!, 'SIGKILL');
    expect((await run1.done).signal).toBe('SIGKILL');
    expect(files(s.drop)).toEqual(['big.tar.gz', 'big.tar.gz.sha256']);
    expect((await dockerd.docker(['image', 'inspect', `${source.host}/imp/big:1`])).code, 'a cut load loads nothing').not.toBe(0);

    const rerun = await ferryIn(s.root, ['import', s.config, '--json'], { home: s.home });
    expect(rerun.code, rerun.report).toBe(0);
    expect(byStatus(JSON.parse(rerun.stdout) as ImportReport)).toEqual({ imported: ['big.tar.gz'] });
    await dockerOracle(['big']);
    expect(journalLines(s.done).map((e) => e.bundle)).toEqual(['big.tar.gz']);
    expect(files(s.drop)).toEqual([]);
  }, 240_000);

  it('--dry-run says what would be imported and changes nothing; a missing policy file is exit 2', async () => {
    const s = site(`  registry: ${target.host}/dry`);
    deliver(s.drop, 'bravo');
    const dry = await ferryIn(s.root, ['import', s.config, '--dry-run', '--json'], { home: s.home });
    expect(dry.code, dry.report).toBe(0);
    expect(byStatus(JSON.parse(dry.stdout) as ImportReport)).toEqual({ 'would-import': ['bravo.tar.gz'] });
    expect(files(s.drop)).toEqual(['bravo.tar.gz', 'bravo.tar.gz.sha256']);
    expect(existsSync(s.done)).toBe(false);

    const p = site(`  registry: ${target.host}/dry`, 'policy: policy.yaml\n');
    const refused = await ferryIn(p.root, ['import', p.config], { home: p.home });
    expect(refused.code, refused.report).toBe(2);
    expect(refused.stderr).toMatch(/policy file .*policy\.yaml: cannot be read/);
  }, 120_000);

  it('policy: a bundle whose images the policy rejects goes to failed/ with the reason, nothing of it pushed; an allowing policy imports it', async () => {
    const s = site(`  registry: ${target.host}/signed-only`, 'policy: policy.yaml\n');
    writeFileSync(join(s.root, 'policy.yaml'), 'default: reject\n');
    deliver(s.drop, 'bravo');
    const r = await ferryIn(s.root, ['import', s.config], { home: s.home });
    expect(r.code, r.report).toBe(1);
    expect(files(s.failed)).toEqual(['bravo.tar.gz', 'bravo.tar.gz.reason.txt', 'bravo.tar.gz.sha256']);
    expect(readFileSync(join(s.failed, 'bravo.tar.gz.reason.txt'), 'utf8')).toMatch(/rejected by the policy/);
    const catalog = (await (await fetch(`http://${target.host}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories.filter((x) => x.startsWith('signed-only/'))).toEqual([]);

    const ok = site(`  registry: ${target.host}/allowed`, 'policy: policy.yaml\n');
    writeFileSync(join(ok.root, 'policy.yaml'), 'default: allow\n');
    deliver(ok.drop, 'bravo');
    const a = await ferryIn(ok.root, ['import', ok.config], { home: ok.home });
    expect(a.code, a.report).toBe(0);
    expect(a.stderr).toMatch(/policy: accepted/);
  }, 120_000);

  it('keep: prunes bundles imported longer ago; a checksum file left behind by a stopped run is cleared', async () => {
    const s = site(`  registry: ${target.host}/keep`, 'keep: 1d\n');
    deliver(s.drop, 'bravo');
    const first = await importRun(s);
    expect(first.code, first.text).toBe(0);
    const old = new Date(Date.now() - 2 * 86_400_000);
    utimesSync(join(s.done, 'bravo.tar.gz'), old, old); // imported two days ago
    copyFileSync(`${bundles.bravo!}.sha256`, join(s.drop, 'bravo.tar.gz.sha256')); // as if a run stopped before moving it
    const second = await importRun(s);
    expect(second.code, second.text).toBe(0);
    expect((second.report as ImportReport & { pruned: string[] }).pruned).toEqual(['bravo.tar.gz']);
    expect(files(s.done)).toEqual(['imports.jsonl']);
    expect(files(s.drop)).toEqual([]);
    expect(second.report.bundles).toEqual([]);
  }, 120_000);

  it('imports named bundles without a config file (--to)', async () => {
    const s = site(`  registry: ${target.host}/unused`);
    const b = deliver(s.drop, 'charlie');
    const r = await ferryIn(s.root, ['import', b, '--to', `${target.host}/named`, '--done', s.done], { home: s.home });
    expect(r.code, describeRun(r)).toBe(0);
    expect(sha256(await rawManifest(`${target.host}/named/imp/charlie:1`))).toBe(images.charlie!.digest);
    expect(files(s.done)).toEqual(['charlie.tar.gz', 'charlie.tar.gz.sha256', 'imports.jsonl']);
    // --quiet: nothing but warnings and errors; a repeat is already imported, exit 0
    const again = deliver(s.drop, 'charlie', { as: 'charlie-2.tar.gz' });
    const quiet = await ferryIn(s.root, ['import', again, '--to', `${target.host}/named`, '--done', s.done, '-q'], { home: s.home });
    expect(quiet.code, describeRun(quiet)).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(files(s.done)).toContain('charlie-2.tar.gz');
  }, 120_000);

  it('a bundle written damaged (it matches its checksum file, a layer does not match its digest) is rejected into failed/, no manifest pushed; not retried by the next run', async () => {
    const s = site(`  registry: ${target.host}/written-damaged`);
    const b = deliver(s.drop, 'bravo', { sidecar: false });
    const bytes = readFileSync(b);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01; // inside the image's biggest blob
    writeFileSync(b, bytes);
    writeFileSync(`${b}.sha256`, `${sha256(bytes).slice('sha256:'.length)}  bravo.tar.gz\n`);
    const r = await importRun(s);
    expect(r.code, r.text).toBe(1);
    expect(byStatus(r.report)).toEqual({ rejected: ['bravo.tar.gz'] });
    expect(files(s.drop)).toEqual([]);
    expect(files(s.failed)).toEqual(['bravo.tar.gz', 'bravo.tar.gz.reason.txt', 'bravo.tar.gz.sha256']);
    expect(readFileSync(join(s.failed, 'bravo.tar.gz.reason.txt'), 'utf8')).toMatch(/damaged|does not match|failed its checks/);
    const m = await fetch(`http://${target.host}/v2/written-damaged/imp/bravo/manifests/1`, { method: 'HEAD' });
    expect(m.status, 'no manifest of the damaged bundle').toBe(404);
    const again = await importRun(s);
    expect(again.code, again.text).toBe(0);
    expect(again.report.bundles).toEqual([]);
  }, 120_000);
});

describe('ferry import of a volume set (save --split)', () => {
  it('a set is one bundle: waits for a missing volume (named), then imports it once; done/ holds every volume and a checksum file sha256sum -c reads; a re-delivery is already imported', async () => {
    const vols = volNames();
    expect(vols.length).toBeGreaterThanOrEqual(3);
    const s = site(`  registry: ${target.host}/sets`);
    deliverSet(s.drop, { skip: vols }); // the checksum file first
    const none = await importRun(s);
    expect(none.code, none.text).toBe(0);
    expect(none.report.bundles.map((b) => [b.bundle, b.status, b.reason])).toEqual([['vol.tar.gz', 'waiting', `its checksum file is there, none of the ${vols.length} volumes it lists is yet`]]);
    deliverSet(s.drop, { skip: [vols[1]!] });
    const old = new Date(Date.now() - 10 * 60_000); // the others stopped changing long ago: still waiting, not damaged
    for (const n of files(s.drop)) utimesSync(join(s.drop, n), old, old);
    const waiting = await importRun(s);
    expect(waiting.code, waiting.text).toBe(0);
    expect(byStatus(waiting.report)).toEqual({ waiting: ['vol.tar.gz'] });
    expect(waiting.report.bundles[0]!.reason).toBe(`${vols[1]} is missing (vol.tar.gz.sha256 lists ${vols.length} volumes, ${vols.length - 1} are here)`);
    expect(waiting.stderr).toContain(`waiting: vol.tar.gz (${vols.length - 1} volumes): ${vols[1]} is missing`);
    expect(files(s.drop)).toHaveLength(vols.length);

    // --dry-run, once complete: one bundle, named as the set
    copyFileSync(join(tmp.path, 'bundles', vols[1]!), join(s.drop, vols[1]!));
    const dry = await importRun(s, ['--dry-run']);
    expect(dry.code, dry.text).toBe(0);
    expect(dry.report.bundles).toHaveLength(1);
    expect(dry.report.bundles[0]).toMatchObject({ bundle: 'vol.tar.gz', volumes: vols, status: 'would-import', sha256: setSha256() });
    expect(dry.stderr).toContain(`would import: vol.tar.gz (${vols.length} volumes)`);

    const r = await importRun(s);
    expect(r.code, r.text).toBe(0);
    expect(byStatus(r.report)).toEqual({ imported: ['vol.tar.gz'] });
    expect(r.report.bundles[0]!.movedTo).toBe(join(s.done, 'vol.tar.gz'));
    expect(r.stderr).toContain(`imported vol.tar.gz (${vols.length} volumes) into ${target.host}/sets`);
    await expect(rawManifest(`${target.host}/sets/imp/vol:1`).then(sha256)).resolves.toBe(images.vol!.digest);
    expect(files(s.drop)).toEqual([]);
    expect(files(s.done)).toEqual(['imports.jsonl', ...vols, 'vol.tar.gz.sha256'].sort());
    const check = await runOk('sha256sum', ['-c', 'vol.tar.gz.sha256'], { cwd: s.done });
    expect(check.trim().split('\n')).toEqual(vols.map((n) => `${n}: OK`));
    const journal = journalLines(s.done);
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatchObject({ bundle: 'vol.tar.gz', sha256: setSha256(), volumes: vols.length, bytes: vols.reduce((n, v) => n + statSync(join(s.done, v)).size, 0) });

    // The same set again, and the same bundle as one file (cat NAME.0*): already imported, both
    deliverSet(s.drop);
    writeFileSync(join(s.drop, 'vol-cat.tar.gz'), Buffer.concat(vols.map((n) => readFileSync(join(tmp.path, 'bundles', n)))));
    writeFileSync(join(s.drop, 'vol-cat.tar.gz.sha256'), `${setSha256()}  vol-cat.tar.gz\n`);
    const again = await importRun(s);
    expect(again.code, again.text).toBe(0);
    expect(byStatus(again.report)).toEqual({ duplicate: ['vol-cat.tar.gz', 'vol.tar.gz'] });
    expect(again.stderr).toContain(`already imported: vol.tar.gz (${vols.length} volumes) (sha256 ${setSha256().slice(0, 12)}, as vol.tar.gz on`);
    expect(files(s.drop)).toEqual([]);
    // The name was taken: the whole set is vol~1.tar.gz there, its checksum file names those volumes.
    const renamed = vols.map((n) => n.replace('vol.tar.gz', 'vol~1.tar.gz'));
    expect(files(s.done)).toEqual(['imports.jsonl', 'vol-cat.tar.gz', 'vol-cat.tar.gz.sha256', ...vols, ...renamed, 'vol.tar.gz.sha256', 'vol~1.tar.gz.sha256'].sort());
    const check2 = await runOk('sha256sum', ['-c', 'vol~1.tar.gz.sha256'], { cwd: s.done });
    expect(check2.trim().split('\n')).toEqual(renamed.map((n) => `${n}: OK`));
    expect(journalLines(s.done)).toHaveLength(1);
  }, 240_000);

  it('keep: a set imported longer ago is pruned as a whole, volumes and checksum file', async () => {
    const s = site(`  registry: ${target.host}/keep-set`, 'keep: 1d\n');
    deliverSet(s.drop);
    const first = await importRun(s);
    expect(first.code, first.text).toBe(0);
    const old = new Date(Date.now() - 2 * 86_400_000);
    for (const n of volNames()) utimesSync(join(s.done, n), old, old);
    const second = await importRun(s);
    expect(second.code, second.text).toBe(0);
    expect((second.report as ImportReport & { pruned: string[] }).pruned).toEqual(['vol.tar.gz']);
    expect(files(s.done)).toEqual(['imports.jsonl']);
  }, 120_000);

  it('a set with a damaged volume waits while it may be arriving, is rejected once it stood still: every volume and the checksum file go to failed/', async () => {
    const vols = volNames();
    const s = site(`  registry: ${target.host}/damaged-set`);
    const delivered = deliverSet(s.drop);
    const bytes = readFileSync(delivered[1]!);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(delivered[1]!, bytes);
    const fresh = await importRun(s);
    expect(fresh.code, fresh.text).toBe(0);
    expect(byStatus(fresh.report)).toEqual({ waiting: ['vol.tar.gz'] });
    expect(fresh.report.bundles[0]!.reason).toMatch(new RegExp(`^${vols[1]!.replaceAll('.', '\\.')} does not match its line in vol\\.tar\\.gz\\.sha256 yet`));

    const old = new Date(Date.now() - 10 * 60_000);
    for (const p of delivered) utimesSync(p, old, old);
    const r = await importRun(s);
    expect(r.code, r.text).toBe(1);
    expect(byStatus(r.report)).toEqual({ rejected: ['vol.tar.gz'] });
    expect(r.stderr).toMatch(new RegExp(`rejected: vol\\.tar\\.gz \\(${vols.length} volumes\\): it does not match its checksum file: ${vols[1]!.replaceAll('.', '\\.')} does not match`));
    expect(files(s.drop)).toEqual([]);
    expect(files(s.failed)).toEqual([...vols, 'vol.tar.gz.reason.txt', 'vol.tar.gz.sha256'].sort());
    expect(readFileSync(join(s.failed, 'vol.tar.gz.reason.txt'), 'utf8')).toContain(`${vols[1]} does not match its line`);
    // sha256sum -c in failed/ names the damaged volume, and only it
    const check = await runOk('sh', ['-c', 'sha256sum -c vol.tar.gz.sha256 || true'], { cwd: s.failed });
    expect(check.trim().split('\n')).toEqual(vols.map((n, i) => `${n}: ${i === 1 ? 'FAILED' : 'OK'}`).concat(check.includes('WARNING') ? [check.trim().split('\n').pop()!] : []));
    const catalog = (await (await fetch(`http://${target.host}/v2/_catalog`)).json()) as { repositories: string[] };
    expect(catalog.repositories.filter((x) => x.startsWith('damaged-set/'))).toEqual([]);
  }, 120_000);

  it('into a Docker engine, with done/ on another file system (tmpfs), by its first volume on the command line; a run stopped mid-move is finished by the next', async () => {
    const vols = volNames();
    const s = site(`  docker: unix://${dockerd.socket}`);
    const other = mkdtempSync('/dev/shm/ferry-import-');
    try {
      const first = deliverSet(s.drop)[0]!;
      const r = await ferryIn(s.root, ['import', first, '--docker', `unix://${dockerd.socket}`, '--done', join(other, 'done'), '--json'], { home: s.home });
      expect(r.code, r.report).toBe(0);
      expect(byStatus(JSON.parse(r.stdout) as ImportReport)).toEqual({ imported: ['vol.tar.gz'] });
      await dockerOracle(['vol']);
      expect(files(s.drop)).toEqual([]);
      expect(files(join(other, 'done'))).toEqual(['imports.jsonl', ...vols, 'vol.tar.gz.sha256'].sort());
      expect(await runOk('sha256sum', ['-c', 'vol.tar.gz.sha256'], { cwd: join(other, 'done') })).toContain(`${vols[vols.length - 1]}: OK`);

      // As if a run had been stopped after moving the first volume: the checksum file in both
      // places, the other volumes still in drop. The next run moves the rest there.
      const c = site(`  registry: ${target.host}/stopped`);
      mkdirSync(c.done, { recursive: true });
      deliverSet(c.drop);
      copyFileSync(join(c.drop, 'vol.tar.gz.sha256'), join(c.done, 'vol.tar.gz.sha256'));
      renameSync(join(c.drop, vols[0]!), join(c.done, vols[0]!));
      const rerun = await importRun(c);
      expect(rerun.code, rerun.text).toBe(0);
      expect(rerun.report.bundles).toEqual([]);
      expect(rerun.stderr).toContain(`moved the rest of vol.tar.gz to ${c.done} (an earlier run was stopped while moving it)`);
      expect(files(c.drop)).toEqual([]);
      expect(files(c.done)).toEqual([...vols, 'vol.tar.gz.sha256'].sort());
      // and a set checksum file left alone in drop after all volumes moved is cleared
      copyFileSync(join(c.done, 'vol.tar.gz.sha256'), join(c.drop, 'vol.tar.gz.sha256'));
      const last = await importRun(c);
      expect(last.code, last.text).toBe(0);
      expect(files(c.drop)).toEqual([]);
      expect(last.report.bundles).toEqual([]);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 240_000);
});
