#!/usr/bin/env node
// ferry benchmark: ferry against skopeo and the classic docker-save route, on one machine,
// against a private local registry, reported as ratios (absolute numbers depend on the box).
//
//   node bench/run.mjs [--size full|small] [--runs N] [--scenario NAME]... [--ferry PATH] [--keep] [--list]
//
// What it does (see bench/README.md):
//   1. starts its own registry (`docker-registry serve`, CNCF distribution) on 127.0.0.1:<free port>,
//      storage in a temp dir under bench/.work/ (removed at the end, on failure and on SIGINT too);
//   2. builds the fixture image without ferry: an OCI layout written here (tar layers gzip -6'd by
//      `gzip`, config and manifest JSON), cached in bench/.work/fixture/<version>-<size>/, and pushes
//      it with `skopeo copy oci:... docker://...`;
//   3. runs every scenario's variants in turn (interleaved, each run in a fresh empty dir), N times,
//      timing wall-clock seconds and peak RSS (/usr/bin/time -f %M) of every command;
//   4. prints a table (median seconds, MB/s of compressed image bytes, ratio vs the baseline, peak
//      RSS) and the targets, and writes raw numbers to bench/results.json.
// Missed targets do not fail the run (no timing assertions); a failing tool does (exit 1).
//
// Plain JavaScript ESM, Node >= 20, no dependencies. Debian packages needed: docker-registry,
// skopeo, gzip, curl, tar, time, coreutils.

import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const WORK = join(BENCH_DIR, '.work');
let FERRY = join(ROOT, 'bin', 'ferry');
const RESULTS = join(BENCH_DIR, 'results.json');

/** Bump when the fixture's recipe changes: cached fixtures with another version are rebuilt. */
const FIXTURE_VERSION = 'v3';
const MB = 1e6;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/run.mjs [options]

  --size full|small   fixture size: full ~1 GB uncompressed / ~370 MB gzip (default), small ~1/10
  --runs N            timed runs per tool (default 3; the median is reported)
  --scenario NAME     run only this scenario (repeatable); see --list
  --list              list the scenarios and exit
  --ferry PATH        the ferry to run (default bin/ferry of this checkout), e.g. to compare builds
  --keep              keep the temp dir (registry storage, outputs, logs) for inspection
  -h, --help          this text
`;

function parseArgs(argv) {
  const o = { size: 'full', runs: 3, scenarios: [], keep: false, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const eq = a.indexOf('=');
      if (eq > 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) die(`${a} needs a value\n\n${USAGE}`, 2);
      return argv[++i];
    };
    const name = a.split('=')[0];
    if (name === '--size') o.size = val();
    else if (name === '--runs') o.runs = Number(val());
    else if (name === '--scenario') o.scenarios.push(val());
    else if (name === '--ferry') o.ferry = resolve(val());
    else if (a === '--keep') o.keep = true;
    else if (a === '--list') o.list = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else die(`unknown option ${a}\n\n${USAGE}`, 2);
  }
  if (!['full', 'small'].includes(o.size)) die(`--size must be full or small, got "${o.size}"`, 2);
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 50) die(`--runs must be a whole number from 1 to 50`, 2);
  return o;
}

// ---------------------------------------------------------------------------------------------
// Process bookkeeping: every child runs in its own process group, so cleanup can stop it (and
// anything it started, e.g. the command under /usr/bin/time) by its id.

const live = new Set();
const cleanups = [];
let exiting = false;

function log(line) {
  process.stderr.write(`${line}\n`);
}

function die(msg, code = 1) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(code);
}

function killGroup(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

/** Runs the registered cleanups (stops children, removes temp dirs), once, synchronously. */
function cleanupSync() {
  for (const c of live) killGroup(c, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while ([...live].some((c) => c.exitCode === null && c.signalCode === null && alive(c.pid)) && Date.now() < deadline) sleepSync(50);
  for (const c of live) if (alive(c.pid)) killGroup(c, 'SIGKILL');
  for (const f of cleanups.splice(0).reverse()) {
    try {
      f();
    } catch (err) {
      log(`bench: cleanup: ${err.message}`);
    }
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleepSync(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (exiting) return;
    exiting = true;
    log(`\nbench: ${sig}, stopping`);
    cleanupSync();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/** Environment for children: loopback never goes through a proxy. */
function childEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  const np = [env.NO_PROXY, env.no_proxy, '127.0.0.1', 'localhost'].filter(Boolean).join(',');
  env.NO_PROXY = np;
  env.no_proxy = np;
  return env;
}

/**
 * Spawns a command in its own process group. Resolves { code, signal, stdout, stderr } (stdout and
 * stderr captured in memory only when asked; otherwise written to the given files or ignored).
 */
function run(cmd, args, { cwd, env, stdout, stderr, capture = false, input } = {}) {
  return new Promise((resolvePromise, reject) => {
    const outFd = stdout ? createWriteStream(stdout) : null;
    const errFd = stderr ? createWriteStream(stderr) : null;
    const child = spawn(cmd, args, { cwd, env: env ?? childEnv(), detached: true, stdio: [input ? 'pipe' : 'ignore', capture || outFd ? 'pipe' : 'ignore', capture || errFd ? 'pipe' : 'ignore'] });
    live.add(child);
    const chunks = { out: [], err: [] };
    if (child.stdout) {
      if (outFd) child.stdout.pipe(outFd);
      if (capture) child.stdout.on('data', (c) => chunks.out.push(c));
    }
    if (child.stderr) {
      if (errFd) child.stderr.pipe(errFd);
      if (capture) child.stderr.on('data', (c) => chunks.err.push(c));
    }
    if (input) child.stdin.end(input);
    child.on('error', (err) => {
      live.delete(child);
      reject(new Error(`cannot run ${cmd}: ${err.message}`));
    });
    child.on('close', async (code, signal) => {
      live.delete(child);
      const ends = [outFd, errFd].filter(Boolean).map((s) => new Promise((r) => (s.writableFinished ? r() : s.once('finish', r))));
      await Promise.all(ends);
      resolvePromise({ code, signal, stdout: Buffer.concat(chunks.out).toString(), stderr: Buffer.concat(chunks.err).toString() });
    });
  });
}

/** Like run(), but throws with the command's stderr when it fails. */
async function runOk(cmd, args, opts = {}) {
  const r = await run(cmd, args, { capture: true, ...opts });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}):\n${tail(r.stderr || r.stdout)}`);
  return r;
}

function tail(text, lines = 20) {
  return String(text ?? '').trimEnd().split('\n').slice(-lines).map((l) => `    ${l}`).join('\n');
}

function tailFile(path, lines = 20) {
  try {
    return tail(readFileSync(path, 'utf8'), lines);
  } catch {
    return '    (no output)';
  }
}

// ---------------------------------------------------------------------------------------------
// Tools

const TOOLS = [
  { name: 'docker-registry', pkg: 'docker-registry', probe: ['--version'] },
  { name: 'skopeo', pkg: 'skopeo', probe: ['--version'] },
  { name: 'gzip', pkg: 'gzip', probe: ['--version'] },
  { name: 'curl', pkg: 'curl', probe: ['--version'] },
  { name: 'tar', pkg: 'tar', probe: ['--version'] },
  { name: 'sync', pkg: 'coreutils', probe: ['--version'] },
  { name: '/usr/bin/time', pkg: 'time', probe: ['--version'] },
];

/** Checks that every tool runs; exits with one message naming the missing Debian packages. */
function checkTools() {
  const missing = [];
  const versions = {};
  for (const t of TOOLS) {
    const r = spawnSync(t.name, t.probe, { encoding: 'utf8' });
    if (r.error || r.status !== 0) missing.push(t);
    else versions[t.name] = (r.stdout || r.stderr).split('\n')[0].trim();
  }
  if (missing.length) {
    die(`missing tools: ${missing.map((t) => t.name).join(', ')}\n  install them with: apt-get install -y ${[...new Set(missing.map((t) => t.pkg))].join(' ')}`);
  }
  if (FERRY === join(ROOT, 'bin', 'ferry')) {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) die(`ferry is not built (no dist/cli/main.js)\n  build it with: npx tsc -p tsconfig.build.json`);
    const newest = newestMtime(join(ROOT, 'src'));
    const built = statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtimeMs;
    if (newest > built + 1000) log(`bench: warning: src/ has files newer than dist/; results are for the last build (npx tsc -p tsconfig.build.json)`);
  } else if (!existsSync(FERRY)) die(`--ferry ${FERRY}: no such file`);
  const fv = spawnSync(process.execPath, [FERRY, '--version'], { encoding: 'utf8' });
  if (fv.status !== 0) die(`ferry --version failed:\n${tail(fv.stderr)}`);
  versions.ferry = fv.stdout.trim();
  versions.ferryPath = FERRY;
  versions.node = process.version;
  return versions;
}

function newestMtime(dir, ext = '.ts') {
  let n = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n = Math.max(n, newestMtime(p, ext));
    else if (e.name.endsWith(ext) && !e.name.endsWith(`.test${ext}`)) n = Math.max(n, statSync(p).mtimeMs);
  }
  return n;
}

/** Identifies the ferry build under test: git HEAD (and whether the tree is dirty) and dist/'s newest file. */
function ferryBuild() {
  const git = (args) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  const head = git(['rev-parse', '--short', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--', 'src']);
  const distMtime = newestMtime(join(ROOT, 'dist'), '.js');
  return { gitHead: head.status === 0 ? head.stdout.trim() : null, srcDirty: dirty.status === 0 ? dirty.stdout.trim() !== '' : null, distBuilt: distMtime ? new Date(distMtime).toISOString() : null };
}

// ---------------------------------------------------------------------------------------------
// Registry

function freePort() {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => res(port));
    });
  });
}

/** Starts `docker-registry serve` on 127.0.0.1:<free port> with storage in `dir`; resolves when /v2/ answers. */
async function startRegistry(dir) {
  await mkdir(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      '  delete:',
      '    enabled: true',
      '  redirect:',
      '    disable: true',
      '  maintenance:',
      '    uploadpurging:',
      '      enabled: false',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const logFile = join(dir, 'registry.log');
  const out = createWriteStream(logFile);
  const child = spawn('docker-registry', ['serve', config], { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  live.add(child);
  child.stdout.pipe(out, { end: false });
  child.stderr.pipe(out, { end: false });
  let exited = false;
  child.on('exit', () => {
    exited = true;
    live.delete(child);
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    if (exited) throw new Error(`docker-registry exited at start:\n${tailFile(logFile)}`);
    try {
      const res = await fetch(`${url}/v2/`);
      if (res.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${url} within 20 s:\n${tailFile(logFile)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    storage: join(dir, 'storage'),
    log: logFile,
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      killGroup(child, 'SIGTERM');
      const t = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
      await done;
      clearTimeout(t);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Fixture: an OCI image layout written by this script (no ferry involved)

/**
 * The image: a rootfs layer (a capped tar of this machine's /usr: real, compressible files), a
 * few large layers mixing random (incompressible) and text (compressible) files, and a small one.
 * Sizes are MiB of file data at --size full; --size small takes a tenth.
 */
const FIXTURE = {
  rootfs: { MiB: 400, roots: [['usr/bin', 0.3], ['usr/lib', 0.4], ['usr/share', 0.2], ['usr/include', 0.1]], maxFile: 32 * MiB },
  layers: [
    { name: 'runtime', files: [['opt/app/lib/runtime.bin', 'random', 24], ['opt/app/lib/assets.pak', 'random', 16], ['opt/app/share/messages.txt', 'text', 80]] },
    { name: 'data', files: [['var/lib/app/data-0.bin', 'random', 24], ['var/lib/app/logs/app-0.log', 'text', 96], ['var/lib/app/logs/app-1.log', 'text', 96]] },
    { name: 'model', files: [['opt/model/weights.bin', 'random', 24], ['opt/model/vocab.txt', 'text', 176]] },
    { name: 'config', files: [['etc/app/config.txt', 'text', 0.05]] },
  ],
};

const TAR_MTIME = 1700000000;

/** A ustar header for a regular file or a directory (names under 100 bytes). */
function tarHeader(name, size, type = '0', mode = 0o644) {
  const h = Buffer.alloc(512);
  const str = (s, off, len) => h.write(s, off, len, 'utf8');
  const oct = (n, off, len) => str(n.toString(8).padStart(len - 1, '0') + '\0', off, len);
  if (Buffer.byteLength(name) >= 100) throw new Error(`tar name too long: ${name}`);
  str(name, 0, 100);
  oct(mode, 100, 8);
  oct(0, 108, 8);
  oct(0, 116, 8);
  oct(size, 124, 12);
  oct(TAR_MTIME, 136, 12);
  h.fill(0x20, 148, 156);
  str(type, 156, 1);
  str('ustar\0', 257, 6);
  str('00', 263, 2);
  str('root', 265, 32);
  str('root', 297, 32);
  let sum = 0;
  for (const b of h) sum += b;
  str(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** Deterministic incompressible bytes: AES-256-CTR keystream (fast with AES-NI). */
function* randomBytes(seed, n) {
  const key = createHash('sha256').update(`ferry-bench-${seed}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zero = Buffer.alloc(MiB);
  for (let left = n; left > 0; left -= MiB) yield c.update(left >= MiB ? zero : zero.subarray(0, left));
}

/** A small seeded PRNG (mulberry32). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic compressible text: log-like lines over a vocabulary (gzip -6 takes it to ~1/4). */
function* textBytes(seed, n) {
  const rnd = prng(seed);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const vocab = Array.from({ length: 300 }, () => Array.from({ length: 3 + Math.floor(rnd() * 8) }, () => letters[Math.floor(rnd() * 26)]).join(''));
  const levels = ['INFO', 'INFO', 'INFO', 'DEBUG', 'WARN', 'ERROR'];
  let left = n;
  let line = 0;
  while (left > 0) {
    const parts = [];
    let size = 0;
    while (size < MiB) {
      line++;
      const words = [];
      // Zipf-like word choice, as in real text.
      for (let w = 3 + Math.floor(rnd() * 12); w > 0; w--) words.push(vocab[Math.floor(vocab.length * rnd() * rnd() * rnd())]);
      const s = `2024-03-${String(1 + (line % 28)).padStart(2, '0')}T${String(line % 24).padStart(2, '0')}:${String(line % 60).padStart(2, '0')}:${String((line * 7) % 60).padStart(2, '0')}.${String(line % 1000).padStart(3, '0')}Z ${levels[Math.floor(rnd() * levels.length)]} [worker-${Math.floor(rnd() * 16)}] ${words.join(' ')} took=${Math.floor(rnd() * 5000)}ms\n`;
      parts.push(s);
      size += s.length;
    }
    const buf = Buffer.from(parts.join(''));
    const chunk = buf.length > left ? buf.subarray(0, left) : buf;
    left -= chunk.length;
    yield chunk;
  }
}

/** The tar stream of a synthetic layer. */
async function* syntheticTar(spec, scale, seedBase) {
  const dirs = new Set();
  let seed = seedBase;
  for (const [path, kind, mib] of spec.files) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = `${parts.slice(0, i).join('/')}/`;
      if (!dirs.has(d)) {
        dirs.add(d);
        yield tarHeader(d, 0, '5', 0o755);
      }
    }
    const size = Math.max(1, Math.round(mib * scale * MiB));
    yield tarHeader(path, size);
    const gen = kind === 'random' ? randomBytes(seed++, size) : textBytes(seed++, size);
    for (const c of gen) yield c;
    if (size % 512) yield Buffer.alloc(512 - (size % 512));
  }
  yield Buffer.alloc(1024);
}

/** The paths (dirs first, sorted) of a capped selection of this machine's /usr, for `tar -T`. */
function rootfsList(scale) {
  const cap = FIXTURE.rootfs.MiB * scale * MiB;
  const list = [];
  let total = 0;
  for (const [root, share] of FIXTURE.rootfs.roots) {
    let budget = cap * share;
    const walk = (rel) => {
      if (budget <= 0) return;
      let entries;
      try {
        entries = readdirSync(join('/', rel)).sort();
      } catch {
        return;
      }
      list.push(rel);
      for (const name of entries) {
        if (budget <= 0) return;
        const p = `${rel}/${name}`;
        let s;
        try {
          s = lstatSync(join('/', p));
        } catch {
          continue;
        }
        if (s.isDirectory()) walk(p);
        else if (s.isSymbolicLink()) list.push(p);
        else if (s.isFile() && s.size <= FIXTURE.rootfs.maxFile) {
          list.push(p);
          budget -= s.size;
          total += s.size;
        }
      }
    };
    if (existsSync(join('/', root))) walk(root);
  }
  return { list, total };
}

/** Gzips a stream of tar bytes with `gzip -6 -n` into `blobsDir`; returns the layer's descriptors. */
async function writeLayer(source, blobsDir, tmpName) {
  const tmp = join(blobsDir, `.${tmpName}.tmp`);
  const diff = createHash('sha256');
  const dig = createHash('sha256');
  let usize = 0;
  let csize = 0;
  const gz = spawn('gzip', ['-6', '-n', '-c'], { detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(gz);
  let gzErr = '';
  gz.stderr.on('data', (c) => (gzErr += c));
  const gzExit = new Promise((r) => gz.on('close', (code) => (live.delete(gz), r(code))));
  const into = pipeline(
    source,
    new Transform({
      transform(c, _e, cb) {
        diff.update(c);
        usize += c.length;
        cb(null, c);
      },
    }),
    gz.stdin,
  );
  const out = pipeline(
    gz.stdout,
    new Transform({
      transform(c, _e, cb) {
        dig.update(c);
        csize += c.length;
        cb(null, c);
      },
    }),
    createWriteStream(tmp),
  );
  await Promise.all([into, out]);
  const code = await gzExit;
  if (code !== 0) throw new Error(`gzip failed (exit ${code}): ${gzErr}`);
  const hex = dig.digest('hex');
  await rename(tmp, join(blobsDir, hex));
  return { digest: `sha256:${hex}`, size: csize, diffId: `sha256:${diff.digest('hex')}`, uncompressedSize: usize };
}

/** The rootfs layer: GNU tar over the capped /usr list. */
async function rootfsLayer(scale, blobsDir, tmpDir) {
  const { list, total } = rootfsList(scale);
  const listFile = join(tmpDir, 'rootfs.list');
  await writeFile(listFile, `${list.join('\0')}\0`);
  const tar = spawn('tar', ['-C', '/', '--no-recursion', '--null', '-T', listFile, '--numeric-owner', '--owner=0', '--group=0', `--mtime=@${TAR_MTIME}`, '--format=gnu', '-cf', '-'], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(tar);
  let err = '';
  tar.stderr.on('data', (c) => (err += c));
  const exit = new Promise((r) => tar.on('close', (code) => (live.delete(tar), r(code))));
  const layer = await writeLayer(tar.stdout, blobsDir, 'rootfs');
  const code = await exit;
  // 1: some file changed while being read; the archive is still valid.
  if (code !== 0 && code !== 1) throw new Error(`tar of /usr failed (exit ${code}):\n${tail(err)}`);
  return { ...layer, name: 'rootfs', files: list.length, fileBytes: total };
}

/** Runs async jobs at most `n` at a time, keeping order of results. */
async function parallel(n, jobs) {
  const results = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, jobs.length) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        results[i] = await jobs[i]();
      }
    }),
  );
  return results;
}

/**
 * Builds (or reuses) the fixture OCI layout for `size` in bench/.work/fixture/<version>-<size>/.
 * Resolves { dir, layout, tag, manifest, config, layers, compressedBytes, uncompressedBytes }.
 */
async function buildFixture(size) {
  const key = `${FIXTURE_VERSION}-${size}`;
  const dir = join(WORK, 'fixture', key);
  const marker = join(dir, 'fixture.json');
  if (existsSync(marker)) {
    const f = JSON.parse(await readFile(marker, 'utf8'));
    log(`bench: fixture ${key} cached: ${fmtMB(f.compressedBytes)} MB gzip, ${fmtMB(f.uncompressedBytes)} MB uncompressed, ${f.layers.length} layers`);
    return { ...f, dir, layout: join(dir, 'layout') };
  }
  const scale = size === 'small' ? 0.1 : 1;
  await mkdir(join(WORK, 'fixture'), { recursive: true });
  for (const old of readdirSync(join(WORK, 'fixture'))) if (old.startsWith('.tmp-') || (old !== key && !old.startsWith(`${FIXTURE_VERSION}-`))) rmSync(join(WORK, 'fixture', old), { recursive: true, force: true });
  const tmp = await mkdtemp(join(WORK, 'fixture', '.tmp-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const layout = join(tmp, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const started = Date.now();
  log(`bench: building fixture ${key} (once; cached in ${dir}) ...`);
  const jobs = [() => rootfsLayer(scale, blobs, tmp), ...FIXTURE.layers.map((spec, i) => async () => ({ ...(await writeLayer(syntheticTar(spec, scale, 1000 * (i + 1)), blobs, spec.name)), name: spec.name }))];
  const layers = await parallel(Math.max(1, Math.min(2, cpus().length)), jobs);
  const putJson = async (obj) => {
    const data = Buffer.from(JSON.stringify(obj));
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const created = new Date(TAR_MTIME * 1000).toISOString();
  const config = await putJson({
    created,
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/usr/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map((l) => ({ created, created_by: `ferry bench fixture: ${l.name}` })),
  });
  const manifest = await putJson({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
  });
  const tag = '1';
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  const info = {
    version: FIXTURE_VERSION,
    size,
    tag,
    builtSeconds: (Date.now() - started) / 1000,
    manifest,
    config,
    layers: layers.map(({ name, digest, size: s, diffId, uncompressedSize, files, fileBytes }) => ({ name, digest, size: s, diffId, uncompressedSize, ...(files ? { files, fileBytes } : {}) })),
    compressedBytes: layers.reduce((n, l) => n + l.size, 0) + config.size + manifest.size,
    uncompressedBytes: layers.reduce((n, l) => n + l.uncompressedSize, 0),
  };
  await writeFile(join(tmp, 'fixture.json'), `${JSON.stringify(info, null, 2)}\n`);
  await rm(join(tmp, 'rootfs.list'), { force: true });
  rmSync(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log(`bench: fixture built in ${info.builtSeconds.toFixed(0)} s: ${fmtMB(info.compressedBytes)} MB gzip, ${fmtMB(info.uncompressedBytes)} MB uncompressed`);
  for (const l of info.layers) log(`         ${l.name.padEnd(8)} ${fmtMB(l.uncompressedSize).padStart(7)} MB -> ${fmtMB(l.size).padStart(7)} MB`);
  return { ...info, dir, layout: join(dir, 'layout') };
}

/** Pushes the fixture layout to `registry` as `repo:tag` with skopeo (once per run of the bench). */
async function pushFixture(fixture, registry, repo) {
  const ref = `${registry.host}/${repo}:${fixture.tag}`;
  const t0 = Date.now();
  await runOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${fixture.layout}:${fixture.tag}`, `docker://${ref}`]);
  log(`bench: pushed fixture to ${ref} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return ref;
}

// ---------------------------------------------------------------------------------------------
// Timing

/**
 * Runs `steps` ([{ cmd, args, stdout? }]) one after another in `dir` and times them together
 * (wall clock). Each step runs under `/usr/bin/time -f %M`, so peak RSS is known per step.
 * `watch` names a file in `dir` whose first appearance is timestamped (phase boundaries).
 * Resolves { seconds, rssKB: [per step], marks: { file: seconds } }; throws if a step fails.
 */
async function timeRun(steps, { dir, watch: watchNames = [], env } = {}) {
  const marks = {};
  const t0 = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let watcher;
  if (watchNames.length) {
    watcher = watch(dir, (_ev, name) => {
      if (name && watchNames.includes(name) && !(name in marks)) marks[name] = since();
    });
  }
  const rssKB = [];
  try {
    for (const [i, s] of steps.entries()) {
      const rssFile = join(dir, `.rss-${i}`);
      const errFile = join(dir, `.stderr-${i}`);
      const r = await run('/usr/bin/time', ['-f', '%M', '-o', rssFile, '--', s.cmd, ...s.args], { cwd: dir, env: env ?? childEnv(), stdout: s.stdout ?? join(dir, `.stdout-${i}`), stderr: errFile });
      if (r.code !== 0) throw new Error(`${basename(s.cmd)} ${s.args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}):\n${tailFile(errFile)}`);
      rssKB.push(Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()));
    }
  } finally {
    watcher?.close();
  }
  return { seconds: since(), rssKB, marks };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmtMB = (bytes) => (bytes / MB).toFixed(1);

// ---------------------------------------------------------------------------------------------
// Scenarios. Each has variants (one per tool); a variant's steps(ctx, dir) are the commands
// timed together in a fresh empty `dir`. setup(ctx) runs once before the timed runs; targets()
// turns medians into pass/miss lines. Add scenarios here (planned: ferry push vs skopeo copy
// oci-archive: -> docker://, ferry load vs docker load -i, ferry export of 40 small images vs
// skopeo sync, warm re-export).

const scenarios = [
  {
    name: 'save',
    title: 'pull one image from a local registry into one archive (cold cache)',
    baseline: 'skopeo oci-archive',
    async setup(ctx) {
      const fixture = await ctx.fixture();
      const ref = await ctx.pushed(fixture, 'bench/big');
      return { ref, bytes: fixture.compressedBytes, fixture };
    },
    variants: [
      {
        name: 'ferry save',
        note: '--cache-dir fresh; output .tar.gz',
        steps: ({ ref }, dir) => [{ cmd: process.execPath, args: [FERRY, 'save', ref, '-o', join(dir, 'out.tar.gz'), '--cache-dir', join(dir, 'cache'), '--json'], stdout: join(dir, 'report.json') }],
        // The bundle writer opens out.tar.gz.partial once every blob is in the cache.
        watch: ['out.tar.gz.partial'],
        async inspect(dir, t) {
          const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
          if (report.status !== 'ok') throw new Error(`ferry save reported status ${report.status}`);
          const p = t.marks['out.tar.gz.partial'];
          return {
            outputBytes: (await stat(join(dir, 'out.tar.gz'))).size,
            downloadedBytes: report.summary?.downloadedBytes,
            phases: p === undefined ? undefined : { pull: p, bundle: t.seconds - p },
          };
        },
      },
      {
        name: 'skopeo oci-archive',
        note: 'skopeo copy docker:// oci-archive:',
        steps: ({ ref }, dir) => [{ cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci-archive:${join(dir, 'out.tar')}`] }],
        inspect: async (dir) => ({ outputBytes: (await stat(join(dir, 'out.tar'))).size }),
      },
      {
        name: 'docker-archive+gzip',
        note: 'skopeo copy docker:// docker-archive:, then gzip -6',
        steps: ({ ref }, dir) => [
          { cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `docker-archive:${join(dir, 'out.tar')}:bench/big:1`] },
          { cmd: 'gzip', args: ['-6', join(dir, 'out.tar')] },
        ],
        inspect: async (dir) => ({ outputBytes: (await stat(join(dir, 'out.tar.gz'))).size }),
      },
      {
        name: 'floor (curl blobs)',
        note: 'one curl fetching config + layer blobs into one file',
        steps: ({ ref, fixture }, dir) => {
          const [hostPort, ...rest] = ref.split('/');
          const repo = rest.join('/').replace(/:[^:/]+$/, '');
          const urls = [fixture.config, ...fixture.layers].map((b) => `http://${hostPort}/v2/${repo}/blobs/${b.digest}`);
          return [{ cmd: 'curl', args: ['-sS', '--fail', '-L', ...urls], stdout: join(dir, 'blobs.bin') }];
        },
        async inspect(dir, _t, { fixture }) {
          const n = (await stat(join(dir, 'blobs.bin'))).size;
          const want = fixture.config.size + fixture.layers.reduce((a, l) => a + l.size, 0);
          if (n !== want) throw new Error(`curl wrote ${n} bytes, expected ${want}`);
          return { outputBytes: n };
        },
      },
    ],
    targets(m) {
      const ferry = m['ferry save'];
      const sk = m['skopeo oci-archive'];
      const da = m['docker-archive+gzip'];
      return [
        { what: 'ferry save within 1.3x of skopeo oci-archive', value: `${(ferry.seconds / sk.seconds).toFixed(2)}x`, ok: ferry.seconds <= 1.3 * sk.seconds },
        { what: 'ferry save >10x faster than docker-archive+gzip', value: `${(da.seconds / ferry.seconds).toFixed(1)}x faster`, ok: da.seconds > 10 * ferry.seconds },
        { what: 'ferry save peak RSS < 200 MB', value: `${(ferry.rssKB / 1024).toFixed(0)} MB`, ok: ferry.rssKB / 1024 < 200 },
      ];
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Report

function printTable(scenario, rows, targets, bytes) {
  const head = ['tool', 'median s', 'min-max s', 'MB/s', `vs ${scenario.baseline}`, 'peak RSS MB'];
  const base = rows.find((r) => r.name === scenario.baseline);
  const body = rows.map((r) => [
    r.name,
    r.median.toFixed(2),
    `${Math.min(...r.seconds).toFixed(2)}-${Math.max(...r.seconds).toFixed(2)}`,
    (bytes / MB / r.median).toFixed(0),
    base ? `${(r.median / base.median).toFixed(2)}x` : '-',
    (r.rssKB / 1024).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [
    '',
    `## ${scenario.name}: ${scenario.title}`,
    `image: ${fmtMB(bytes)} MB compressed; MB/s = compressed MB / median s; ratio = median / ${scenario.baseline}'s median`,
    '',
    line(head),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
    '',
  ];
  for (const r of rows) if (r.phases) out.push(`${r.name} phases (median): pull into cache ${r.phases.pull.toFixed(2)} s, write bundle ${r.phases.bundle.toFixed(2)} s`);
  out.push('', 'targets:');
  for (const t of targets) out.push(`  [${t.ok ? 'met ' : 'MISS'}] ${t.what}: ${t.value}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const s of scenarios) process.stdout.write(`${s.name.padEnd(10)} ${s.title}\n  ${s.variants.map((v) => v.name).join(', ')}\n`);
    return 0;
  }
  const chosen = opts.scenarios.length ? scenarios.filter((s) => opts.scenarios.includes(s.name)) : scenarios;
  const unknown = opts.scenarios.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknown.length) die(`unknown scenario ${unknown.join(', ')}; see --list`, 2);
  if (opts.ferry) FERRY = opts.ferry;
  const versions = checkTools();
  const build = FERRY === join(ROOT, 'bin', 'ferry') ? ferryBuild() : null;

  await mkdir(WORK, { recursive: true });
  const tmp = await mkdtemp(join(WORK, 'run-'));
  let registry;
  cleanups.push(() => {
    if (opts.keep) log(`bench: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  });

  // Shared, lazily created resources for scenarios.
  let fixturePromise;
  const pushedRefs = new Map();
  const ctx = {
    opts,
    fixture: () => (fixturePromise ??= buildFixture(opts.size)),
    async registry() {
      registry ??= await startRegistry(join(tmp, 'registry'));
      return registry;
    },
    async pushed(fixture, repo) {
      const key = `${fixture.dir}|${repo}`;
      if (!pushedRefs.has(key)) pushedRefs.set(key, pushFixture(fixture, await ctx.registry(), repo));
      return pushedRefs.get(key);
    },
  };

  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1) },
    versions,
    ferryBuild: build,
    options: { size: opts.size, runs: opts.runs },
    scenarios: {},
  };
  try {
    for (const sc of chosen) {
      const data = await sc.setup(ctx);
      const raw = Object.fromEntries(sc.variants.map((v) => [v.name, []]));
      log(`bench: ${sc.name}: ${opts.runs} run(s) of ${sc.variants.length} tools, interleaved`);
      for (let r = 1; r <= opts.runs; r++) {
        for (const v of sc.variants) {
          const dir = join(tmp, 'runs', `${sc.name}-${v.name.replace(/[^a-z0-9]+/gi, '-')}-${r}`);
          await mkdir(dir, { recursive: true });
          const t = await timeRun(v.steps(data, dir), { dir, watch: v.watch });
          const extra = v.inspect ? await v.inspect(dir, t, data) : {};
          raw[v.name].push({ seconds: t.seconds, rssKB: Math.max(...t.rssKB), rssKBPerStep: t.rssKB, ...extra });
          log(`bench:   run ${r}/${opts.runs} ${v.name.padEnd(20)} ${t.seconds.toFixed(2).padStart(7)} s  ${(Math.max(...t.rssKB) / 1024).toFixed(0).padStart(5)} MB RSS${extra.phases ? `  (pull ${extra.phases.pull.toFixed(2)} s, bundle ${extra.phases.bundle.toFixed(2)} s)` : ''}`);
          await rm(dir, { recursive: true, force: true });
          // Flush this run's writes so they do not slow the next one down.
          await runOk('sync', []);
        }
      }
      const rows = sc.variants.map((v) => {
        const runs = raw[v.name];
        const phases = runs.every((x) => x.phases) ? { pull: median(runs.map((x) => x.phases.pull)), bundle: median(runs.map((x) => x.phases.bundle)) } : undefined;
        return { name: v.name, note: v.note, seconds: runs.map((x) => x.seconds), median: median(runs.map((x) => x.seconds)), rssKB: Math.max(...runs.map((x) => x.rssKB)), ...(phases ? { phases } : {}) };
      });
      const byName = Object.fromEntries(rows.map((r) => [r.name, { seconds: r.median, rssKB: r.rssKB }]));
      const targets = sc.targets ? sc.targets(byName) : [];
      printTable(sc, rows, targets, data.bytes);
      const base = rows.find((r) => r.name === sc.baseline);
      results.scenarios[sc.name] = {
        title: sc.title,
        baseline: sc.baseline,
        bytes: data.bytes,
        fixture: data.fixture ? { size: data.fixture.size, version: data.fixture.version, compressedBytes: data.fixture.compressedBytes, uncompressedBytes: data.fixture.uncompressedBytes, layers: data.fixture.layers } : undefined,
        tools: Object.fromEntries(
          rows.map((r) => [r.name, { note: r.note, medianSeconds: r.median, MBps: data.bytes / MB / r.median, ratioVsBaseline: base ? r.median / base.median : null, peakRssMB: r.rssKB / 1024, phasesMedian: r.phases ?? null, runs: raw[r.name] }]),
        ),
        targets,
      };
    }
    if (build && ferryBuild().distBuilt !== build.distBuilt) {
      results.warnings = ['dist/ was rebuilt during the run: ferry numbers may mix two builds'];
      log(`\nbench: warning: ${results.warnings[0]}; run again`);
    }
    await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    log(`\nbench: raw numbers in ${RESULTS}`);
    return 0;
  } finally {
    if (registry) await registry.stop();
  }
}

main().then(
  (code) => {
    cleanupSync();
    process.exitCode = code;
  },
  (err) => {
    log(`bench: ${err.message ?? err}`);
    cleanupSync();
    process.exitCode = 1;
  },
);
