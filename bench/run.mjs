#!/usr/bin/env node
// ferry benchmark: ferry against skopeo, Docker and the classic docker-save route, on one machine,
// against private local registries, reported as ratios (absolute numbers depend on the box).
//
//   node bench/run.mjs [--size full|small] [--runs N] [--only save,push,load,export,reexport]
//                      [--extra-rounds N] [--load-size full|small] [--ferry PATH] [--keep] [--list]
//
// Scenarios: startup (--version of the release executable, the release .mjs and bin/ferry),
// save (ferry save vs skopeo oci-archive), push (ferry push vs skopeo copy
// oci-archive: -> docker://, into an empty registry), load (ferry load vs docker load -i, private
// dockerd), export (ferry export of 40 small images vs skopeo sync), reexport (the same again,
// nothing changed: time and the registry's access log).
//
// What it does (see bench/README.md):
//   1. starts its own registry (`docker-registry serve`, CNCF distribution, access log on) on
//      127.0.0.1:<free port>, storage in a temp dir under bench/.work/ (removed at the end, on
//      failure and on SIGINT too); push gets a fresh second registry per run, load its own
//      containerd + dockerd;
//   2. builds the fixtures without ferry: OCI layouts written here (tar layers gzip'd, config and
//      manifest JSON), cached in bench/.work/fixture/, and pushes them with `skopeo copy oci:...`;
//   3. runs every scenario's variants in turn (interleaved, each run in a fresh empty dir), N times
//      (more when runs spread widely), timing wall-clock seconds, CPU seconds and peak RSS
//      (/usr/bin/time -f '%M %U %S') of every command;
//   4. prints a table (median seconds, MB/s of compressed image bytes, ratio vs the baseline, CPU,
//      peak RSS) and the targets, and writes raw numbers to bench/results.json.
// Missed targets do not fail the run (no timing assertions); a failing tool or a wrong result does
// (exit 1).
//
// Plain JavaScript ESM, Node >= 20, no dependencies. Debian packages needed: docker-registry,
// skopeo, gzip, curl, tar, time, coreutils; for load also docker.io, containerd, mount (as root).

import { spawn, spawnSync } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const WORK = join(BENCH_DIR, '.work');
let FERRY = join(ROOT, 'bin', 'ferry');
const RESULTS = join(BENCH_DIR, 'results.json');

/** Bump when the fixture's recipe changes: cached fixtures with another version are rebuilt. */
const FIXTURE_VERSION = 'v3';
const MB = 1e6;
/** A tool whose runs spread more than this (max/min), and by more than NOISY_S seconds, is noisy: extra rounds (--extra-rounds). */
const NOISY = 1.3;
const NOISY_S = 0.15;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Options

const USAGE = `usage: node bench/run.mjs [options]

  --size full|small   fixture size: full ~1 GB uncompressed / ~370 MB gzip (default), small ~1/10
  --runs N            timed runs per tool (default 3; the median is reported)
  --only A,B,...      run only these scenarios (default: all); see --list
  --scenario NAME     the same, one at a time (repeatable)
  --extra-rounds N    when a tool's runs spread more than 1.3x (max/min) and 0.15 s, run up to
                      N more interleaved rounds of that scenario (default 1; 0 turns it off)
  --load-size full|small  the fixture the load scenario uses (default: --size); small when vfs
                      makes a full load take over a minute
  --list              list the scenarios and exit
  --ferry PATH        the ferry to run (default bin/ferry of this checkout), e.g. to compare builds
  --keep              keep the temp dir (registry storage, outputs, logs) for inspection
  -h, --help          this text
`;

function parseArgs(argv) {
  const o = { size: 'full', loadSize: undefined, runs: 3, extraRounds: 1, scenarios: [], keep: false, list: false };
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
    else if (name === '--only') o.scenarios.push(...val().split(',').map((x) => x.trim()).filter(Boolean));
    else if (name === '--extra-rounds') o.extraRounds = Number(val());
    else if (name === '--load-size') o.loadSize = val();
    else if (name === '--ferry') o.ferry = resolve(val());
    else if (a === '--keep') o.keep = true;
    else if (a === '--list') o.list = true;
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else die(`unknown option ${a}\n\n${USAGE}`, 2);
  }
  if (!['full', 'small'].includes(o.size)) die(`--size must be full or small, got "${o.size}"`, 2);
  o.loadSize ??= o.size;
  if (!['full', 'small'].includes(o.loadSize)) die(`--load-size must be full or small, got "${o.loadSize}"`, 2);
  if (!Number.isInteger(o.extraRounds) || o.extraRounds < 0 || o.extraRounds > 10) die(`--extra-rounds must be a whole number from 0 to 10`, 2);
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
      const stdoutBytes = Buffer.concat(chunks.out);
      resolvePromise({ code, signal, stdout: stdoutBytes.toString(), stdoutBytes, stderr: Buffer.concat(chunks.err).toString() });
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
  // Only for the load scenario (a private Docker engine).
  { name: 'dockerd', pkg: 'docker.io', probe: ['--version'], for: 'load' },
  { name: 'docker', pkg: 'docker.io', probe: ['--version'], for: 'load' },
  { name: 'containerd', pkg: 'containerd', probe: ['--version'], for: 'load' },
  { name: 'umount', pkg: 'mount', probe: ['--version'], for: 'load' },
];

/** Checks that every tool the chosen scenarios need runs; exits with one message naming the missing Debian packages. */
function checkTools(chosenNames) {
  const missing = [];
  const versions = {};
  for (const t of TOOLS.filter((x) => !x.for || chosenNames.includes(x.for))) {
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
  versions.ferry = fv.stdout.split('\n')[0].trim();
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

/**
 * Identifies the ferry build under test (the checkout `root`, where bin/ferry is): git HEAD (and
 * whether src/ is dirty) when `root` is a git work tree's top, and dist/'s newest file.
 */
function ferryBuild(root = ROOT) {
  const git = (args) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const top = git(['rev-parse', '--show-toplevel']);
  const isRepo = top.status === 0 && resolve(top.stdout.trim()) === resolve(root);
  const head = isRepo ? git(['rev-parse', '--short', 'HEAD']) : null;
  const dirty = isRepo ? git(['status', '--porcelain', '--', 'src']) : null;
  const distMtime = newestMtime(join(root, 'dist'), '.js');
  // A copy made with `git archive` can say which commit it is in a SNAPSHOT_OF file.
  const snapshot = join(root, 'SNAPSHOT_OF');
  const snapshotOf = existsSync(snapshot) ? readFileSync(snapshot, 'utf8').trim() : undefined;
  return { root, ...(snapshotOf ? { snapshotOf } : {}), gitHead: head?.status === 0 ? head.stdout.trim() : null, srcDirty: dirty?.status === 0 ? dirty.stdout.trim() !== '' : null, distBuilt: distMtime ? new Date(distMtime).toISOString() : null };
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

/**
 * One request of the registry's access log (gorilla's combined format, which distribution writes
 * for every request): `127.0.0.1 - - [date] "HEAD /v2/x/manifests/1 HTTP/1.1" 200 0 "" "ua"`.
 */
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) HTTP\/[\d.]+" (\d{3}) \S+ "[^"]*" "([^"]*)"/;

function parseAccessLog(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const m = ACCESS_LINE.exec(line);
    if (m) out.push({ method: m[1], path: m[2], status: Number(m[3]), agent: m[4] });
  }
  return out;
}

/**
 * Starts `docker-registry serve` on 127.0.0.1:<free port> with storage in `dir`; resolves when /v2/
 * answers. Its access log (one line per request) goes to `registry.log`: `logOffset()` and
 * `requestsSince(offset)` give the requests a command made.
 */
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
    logOffset: () => statSync(logFile).size,
    /** The requests logged after `offset`, once the log has stopped growing (writes are piped). */
    async requestsSince(offset) {
      let size = -1;
      for (let i = 0; i < 40; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const now = statSync(logFile).size;
        if (now === size) break;
        size = now;
      }
      return parseAccessLog(readFileSync(logFile).subarray(offset).toString('utf8'));
    },
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
  // Old versions of this fixture go (the forty-images fixture has its own versions, FORTY_VERSION).
  for (const old of readdirSync(join(WORK, 'fixture'))) if (old.startsWith('.tmp-') || (/^v\d+-(full|small)$/.test(old) && !old.startsWith(`${FIXTURE_VERSION}-`))) rmSync(join(WORK, 'fixture', old), { recursive: true, force: true });
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
// Fixture: forty small images (export scenarios), one OCI layout with forty tagged manifests

/** Bump when the forty-images recipe changes. */
const FORTY_VERSION = 'forty-v1';
/**
 * Forty images of three layers each, every layer its own (no sharing): a tiny one, a small one
 * and a larger one, each one file of random bytes plus a little text. KiB of file data; image i
 * scales them by 1 + (i % 5) / 10 so sizes differ.
 */
const FORTY = { count: 40, layersKiB: [4, 32, 256] };

async function buildForty() {
  const dir = join(WORK, 'fixture', FORTY_VERSION);
  const marker = join(dir, 'fixture.json');
  if (existsSync(marker)) {
    const f = JSON.parse(await readFile(marker, 'utf8'));
    log(`bench: fixture ${FORTY_VERSION} cached: ${f.images.length} images, ${fmtMB(f.compressedBytes)} MB gzip`);
    return { ...f, dir, layout: join(dir, 'layout') };
  }
  await mkdir(join(WORK, 'fixture'), { recursive: true });
  for (const old of readdirSync(join(WORK, 'fixture'))) if (/^forty-v\d+$/.test(old) && old !== FORTY_VERSION) rmSync(join(WORK, 'fixture', old), { recursive: true, force: true });
  const tmp = await mkdtemp(join(WORK, 'fixture', '.tmp-forty-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  const layout = join(tmp, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data) => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const created = new Date(TAR_MTIME * 1000).toISOString();
  const images = [];
  const index = [];
  for (let i = 0; i < FORTY.count; i++) {
    const name = `img-${String(i).padStart(2, '0')}`;
    const layers = [];
    for (const [k, kib] of FORTY.layersKiB.entries()) {
      const spec = { files: [[`opt/${name}/layer-${k}.bin`, 'random', (kib * (1 + (i % 5) / 10)) / 1024], [`opt/${name}/layer-${k}.txt`, 'text', 1 / 1024]] };
      const chunks = [];
      for await (const c of syntheticTar(spec, 1, 100000 + i * 10 + k)) chunks.push(c);
      const tar = Buffer.concat(chunks);
      const blob = await put(gzipSync(tar, { level: 6 }));
      layers.push({ ...blob, diffId: `sha256:${createHash('sha256').update(tar).digest('hex')}` });
    }
    const config = await put(
      Buffer.from(
        JSON.stringify({
          created,
          architecture: 'amd64',
          os: 'linux',
          config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: [`/opt/${name}/run`] },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
          history: layers.map((_l, k) => ({ created, created_by: `ferry bench forty: ${name} layer ${k}` })),
        }),
      ),
    );
    const manifest = await put(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
          layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: l.digest, size: l.size })),
        }),
      ),
    );
    index.push({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': name } });
    images.push({ name, manifest, config, layers: layers.map(({ digest, size }) => ({ digest, size })), bytes: manifest.size + config.size + layers.reduce((n, l) => n + l.size, 0) });
  }
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: index }));
  const info = { version: FORTY_VERSION, images, compressedBytes: images.reduce((n, im) => n + im.bytes, 0) };
  await writeFile(join(tmp, 'fixture.json'), `${JSON.stringify(info, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log(`bench: fixture ${FORTY_VERSION} built: ${images.length} images of ${FORTY.layersKiB.length} layers, ${fmtMB(info.compressedBytes)} MB gzip`);
  return { ...info, dir, layout: join(dir, 'layout') };
}

/** Pushes the forty images to `registry` as `<prefix>/img-NN:1` (two skopeo copies at a time); resolves their references. */
async function pushForty(forty, registry, prefix) {
  const t0 = Date.now();
  const refs = await parallel(
    2,
    forty.images.map((im) => async () => {
      const ref = `${registry.host}/${prefix}/${im.name}:1`;
      await runOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${forty.layout}:${im.name}`, `docker://${ref}`]);
      return ref;
    }),
  );
  log(`bench: pushed ${refs.length} small images to ${registry.host}/${prefix}/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return refs;
}

// ---------------------------------------------------------------------------------------------
// A private Docker engine (load scenario): its own containerd and dockerd, vfs storage

/** Mount points at or under `dir`, deepest first (dockerd bind-mounts its data root). */
function mountsUnder(dir) {
  let text = '';
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(`${dir}/`)))
    // mountinfo escapes spaces etc. as \040; our paths have none.
    .map((m) => m.replace(/\\(\d{3})/g, (_x, o) => String.fromCharCode(parseInt(o, 8))));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

function unmountUnder(dir) {
  for (const m of mountsUnder(dir)) {
    const r = spawnSync('umount', [m], { encoding: 'utf8' });
    if (r.status !== 0) spawnSync('umount', ['-l', m]);
  }
}

/** GET `path` on the engine's unix socket; resolves the status code (or throws). */
function enginePing(socketPath) {
  return new Promise((res, rej) => {
    const req = httpRequest({ socketPath, path: '/_ping', method: 'GET', timeout: 2000 }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/**
 * Starts containerd and dockerd of our own: everything (sockets, data, state) under `dir`, vfs
 * storage, no networking. dockerd would quietly use /run/containerd/containerd.sock when it
 * exists, so it gets our containerd's socket. Resolves { host, env, docker(args), stop() }.
 */
async function startDockerd(dir) {
  // A unix socket path must fit in 108 bytes.
  if (Buffer.byteLength(join(dir, 'containerd.sock.ttrpc')) > 100) dir = await mkdtemp(join(tmpdir(), 'ferry-bench-docker-'));
  await mkdir(dir, { recursive: true });
  const ctrSock = join(dir, 'containerd.sock');
  const sock = join(dir, 'docker.sock');
  const host = `unix://${sock}`;
  const stopped = [];
  const stopSync = () => {
    unmountUnder(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  cleanups.push(stopSync);
  const daemon = async (cmd, args, logName) => {
    const out = createWriteStream(join(dir, logName));
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
    live.add(child);
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    const exited = new Promise((r) => child.once('exit', (code, signal) => (live.delete(child), r({ code, signal }))));
    child.exitedPromise = exited;
    return child;
  };
  // Our own containerd config: the system one (/etc/containerd/config.toml) enables CRI and
  // points plugins at /var/lib/containerd.
  await writeFile(join(dir, 'containerd.toml'), ['version = 2', 'disabled_plugins = ["io.containerd.grpc.v1.cri"]', '[plugins."io.containerd.internal.v1.opt"]', `  path = "${join(dir, 'opt')}"`, ''].join('\n'));
  const ctr = await daemon('containerd', ['--config', join(dir, 'containerd.toml'), '--address', ctrSock, '--root', join(dir, 'ctrd'), '--state', join(dir, 'ctrd-state')], 'containerd.log');
  const waitFor = async (what, test, child, logName) => {
    const deadline = Date.now() + 30000;
    let exited = false;
    child.exitedPromise.then(() => (exited = true));
    for (;;) {
      if (exited) throw new Error(`${what} exited at start:\n${tailFile(join(dir, logName))}`);
      if (await test().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} did not come up within 30 s:\n${tailFile(join(dir, logName))}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await waitFor('containerd', async () => existsSync(ctrSock), ctr, 'containerd.log');
  // Not /etc/docker/daemon.json: only the flags below.
  await writeFile(join(dir, 'daemon.json'), '{}\n');
  const dockerd = await daemon(
    'dockerd',
    ['--storage-driver=vfs', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--bridge=none', '-H', host, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'exec'), '--pidfile', join(dir, 'pid'), '--containerd', ctrSock, '--config-file', join(dir, 'daemon.json')],
    'dockerd.log',
  );
  await waitFor('dockerd', async () => (await enginePing(sock)) === 200, dockerd, 'dockerd.log');
  stopped.push(dockerd, ctr);
  const env = childEnv({ DOCKER_HOST: host });
  const docker = (args) => run('docker', args, { capture: true, env });
  return {
    dir,
    host,
    env,
    docker,
    async stop() {
      for (const child of stopped) {
        if (child.exitCode === null && child.signalCode === null) {
          killGroup(child, 'SIGTERM');
          const t = setTimeout(() => killGroup(child, 'SIGKILL'), 20000);
          await child.exitedPromise;
          clearTimeout(t);
        }
      }
      stopSync();
      const i = cleanups.indexOf(stopSync);
      if (i >= 0) cleanups.splice(i, 1);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Timing

/**
 * Runs `steps` ([{ cmd, args, stdout?, env? }]) one after another in `dir` and times them together
 * (wall clock). Each step runs under `/usr/bin/time -f '%M %U %S'`, so peak RSS is known per
 * step and CPU seconds (user + system) in all.
 * `watch` names a file in `dir` whose first appearance is timestamped (phase boundaries); `poll`
 * ({ name: () => boolean }) is checked every 25 ms and timestamped the first time it is true.
 * Resolves { seconds, rssKB: [per step], cpuSeconds, marks: { name: seconds } }; throws if a step fails.
 */
async function timeRun(steps, { dir, watch: watchNames = [], poll = {}, env } = {}) {
  const marks = {};
  const t0 = process.hrtime.bigint();
  const since = () => Number(process.hrtime.bigint() - t0) / 1e9;
  let watcher;
  if (watchNames.length) {
    watcher = watch(dir, (_ev, name) => {
      if (name && watchNames.includes(name) && !(name in marks)) marks[name] = since();
    });
  }
  const pollTimer = Object.keys(poll).length
    ? setInterval(() => {
        for (const [name, test] of Object.entries(poll)) {
          try {
            if (!(name in marks) && test()) marks[name] = since();
          } catch {
            /* not there yet */
          }
        }
      }, 25)
    : undefined;
  const rssKB = [];
  let cpuSeconds = 0;
  try {
    for (const [i, s] of steps.entries()) {
      const rssFile = join(dir, `.rss-${i}`);
      const errFile = join(dir, `.stderr-${i}`);
      const r = await run('/usr/bin/time', ['-f', '%M %U %S', '-o', rssFile, '--', s.cmd, ...s.args], { cwd: dir, env: s.env ?? env ?? childEnv(), stdout: s.stdout ?? join(dir, `.stdout-${i}`), stderr: errFile });
      if (r.code !== 0) throw new Error(`${basename(s.cmd)} ${s.args.join(' ')} failed (${r.signal ?? `exit ${r.code}`}):\n${tailFile(errFile)}`);
      const [rss, user, sys] = readFileSync(rssFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
      rssKB.push(rss);
      cpuSeconds += user + sys;
    }
  } finally {
    watcher?.close();
    if (pollTimer) clearInterval(pollTimer);
  }
  return { seconds: since(), rssKB, cpuSeconds, marks };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmtMB = (bytes) => (bytes / MB).toFixed(1);

// ---------------------------------------------------------------------------------------------
// Scenario helpers

/** sha256 of the manifest bytes a registry serves for `ref` (skopeo inspect --raw). */
async function manifestDigest(ref) {
  const r = await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`], { capture: true, raw: true });
  if (r.code !== 0) throw new Error(`skopeo inspect --raw docker://${ref} failed:\n${tail(r.stderr)}`);
  return `sha256:${createHash('sha256').update(r.stdoutBytes).digest('hex')}`;
}

/** Counts of requests by "METHOD kind" (kind: manifests, blobs, uploads, base, other). */
function requestSummary(requests) {
  const counts = {};
  for (const q of requests) {
    const kind = /\/blobs\/uploads\//.test(q.path) ? 'uploads' : /\/manifests\//.test(q.path) ? 'manifests' : /\/blobs\//.test(q.path) ? 'blobs' : q.path.replace(/\?.*/, '') === '/v2/' ? 'base' : 'other';
    const k = `${q.method} ${kind}`;
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

const fmtCounts = (c) => Object.entries(c).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';

/** The ferry --json report a step wrote; throws unless its status is one of `ok`. */
async function ferryReport(file, ok = ['ok']) {
  const report = JSON.parse(await readFile(file, 'utf8'));
  if (!ok.includes(report.status)) throw new Error(`ferry reported status ${report.status}: ${JSON.stringify(report).slice(0, 2000)}`);
  return report;
}

/** Removes every image from the private engine (untimed, between load runs), then flushes writes. */
async function clearEngine(engine, ref) {
  await engine.docker(['rmi', '-f', ref]);
  const r = await engine.docker(['image', 'prune', '-af']);
  if (r.code !== 0) throw new Error(`docker image prune failed:\n${tail(r.stderr)}`);
  const left = await engine.docker(['images', '-aq']);
  if (left.stdout.trim()) throw new Error(`the private engine still has images after prune: ${left.stdout.trim().split('\n').join(' ')}`);
  await runOk('sync', []);
}

async function checkLoaded(engine, ref, imageId) {
  const r = await engine.docker(['image', 'inspect', '--format', '{{.Id}}', ref]);
  if (r.code !== 0) throw new Error(`after the load, the engine has no ${ref}:\n${tail(r.stderr)}`);
  if (r.stdout.trim() !== imageId) throw new Error(`after the load, ${ref} has ID ${r.stdout.trim()}, expected ${imageId}`);
}

const node = process.execPath;
const ferryExportSteps = (dir) => [{ cmd: node, args: [FERRY, 'export', join(dir, 'forty.yaml'), '-o', join(dir, 'forty.tar.gz'), '--cache-dir', join(dir, 'cache'), '--json'], stdout: join(dir, 'report.json') }];
const skopeoSyncSteps = (dir) => [{ cmd: 'skopeo', args: ['--insecure-policy', 'sync', '--src', 'yaml', '--dest', 'dir', '--src-tls-verify=false', join(dir, 'forty-sync.yaml'), join(dir, 'out')] }];

/** Checks skopeo sync's dir destination: one directory with a manifest.json per image. */
async function checkSynced(dir, count) {
  const found = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.name === 'manifest.json') found.push(d);
    }
  };
  walk(join(dir, 'out'));
  if (found.length !== count) throw new Error(`skopeo sync wrote ${found.length} images, expected ${count}`);
  return { images: found.length };
}

/** A new registry with empty storage under `dir`, and the access-log offset after its start-up probe. */
async function emptyRegistry(dir) {
  const registry = await startRegistry(join(dir, 'registry'));
  await registry.requestsSince(0);
  return { registry, offset: registry.logOffset() };
}

// ---------------------------------------------------------------------------------------------
// Scenarios. Each has variants (one per tool). Per timed run, in a fresh empty `dir`:
//   prepare(data, dir)               untimed; its result is `prep` below
//   steps(data, dir, prep)           the commands timed together
//   poll(data, dir, prep)            optional { mark: () => boolean } checked every 25 ms (phases)
//   inspect(dir, timing, data, prep) checks outputs; returns extra numbers for results.json
//                                    (`phases`: { key: seconds }, labelled by phaseLabels)
//   cleanup(data, dir, prep)         untimed, always
// A variant with `runs: N` runs in the first N rounds only (a slow reference).
// setup(ctx) runs once before the timed runs; targets(medians) turns medians (and every run's
// extra numbers, `.runs`) into met/MISS lines; `info: true` lines are reported, not judged.

/** Calls of `--version` per timed run of the startup scenario (one call is ~0.1 s: too short to time alone). */
const STARTUP_CALLS = 10;

/** The release artifacts (scripts/release.mjs, linux-x64 and .mjs) built into the bench's temp dir. */
async function buildRelease(dir) {
  const t0 = Date.now();
  await runOk(process.execPath, [join(ROOT, 'scripts', 'release.mjs'), '--out', dir, '--targets', 'linux-x64,mjs']);
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  log(`bench: built the release into ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { exe: join(dir, `ferry-${version}-linux-x64`), mjs: join(dir, `ferry-${version}.mjs`) };
}

/** A startup variant: STARTUP_CALLS runs of `argv --version`, each checked to name ferry. */
function startupVariant(name, note, argv) {
  return {
    name,
    note: `${note}; ${STARTUP_CALLS} calls per run`,
    steps: (data, dir) => Array.from({ length: STARTUP_CALLS }, (_, i) => ({ cmd: argv(data)[0], args: [...argv(data).slice(1), '--version'], stdout: join(dir, `out-${i}.txt`) })),
    async inspect(dir) {
      const out = await readFile(join(dir, 'out-0.txt'), 'utf8');
      if (!out.startsWith('ferry ')) throw new Error(`${name}: unexpected output ${JSON.stringify(out.slice(0, 200))}`);
      return {};
    },
  };
}

const scenarios = [
  {
    name: 'startup',
    title: `answer --version (${STARTUP_CALLS} calls per run): the release executable, the release .mjs, bin/ferry`,
    baseline: 'bin/ferry',
    async setup(ctx) {
      const release = await buildRelease(join(ctx.tmp, 'release'));
      return { ...release, bytes: 0, what: 'no image (process start only)' };
    },
    variants: [
      startupVariant('executable', 'ferry-<version>-linux-x64 (Node embedded, one bundle)', ({ exe }) => [exe]),
      startupVariant('node .mjs', 'node ferry-<version>.mjs (one bundle)', ({ mjs }) => [process.execPath, mjs]),
      startupVariant('bin/ferry', 'node bin/ferry (dist/, modules resolved from node_modules)', () => [process.execPath, FERRY]),
    ],
    targets(m) {
      const per = (n) => m[n].seconds / STARTUP_CALLS;
      return [
        { what: 'the release executable answers --version in under 0.15 s', value: `${per('executable').toFixed(3)} s per call`, ok: per('executable') < 0.15 },
        { what: 'node ferry.mjs --version', value: `${per('node .mjs').toFixed(3)} s per call`, info: true },
        { what: 'bin/ferry --version', value: `${per('bin/ferry').toFixed(3)} s per call`, info: true },
      ];
    },
  },
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
        phaseLabels: { pull: 'pull into cache', bundle: 'write bundle' },
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
        note: 'skopeo copy docker:// docker-archive:, then gzip -6 (one run: it is >10x slower, so noise does not matter)',
        runs: 1,
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
  {
    name: 'push',
    title: 'push the bundle into an empty registry',
    baseline: 'skopeo oci-archive',
    async setup(ctx) {
      const fixture = await ctx.fixture();
      const ref = await ctx.pushed(fixture, 'bench/big');
      const [bundle, ociArchive, sourceDigest] = await Promise.all([ctx.bundle(fixture, ref), ctx.ociArchive(fixture, ref), manifestDigest(ref)]);
      return { ref, bytes: fixture.compressedBytes, fixture, bundle, ociArchive, sourceDigest };
    },
    variants: [
      {
        name: 'ferry push',
        note: 'ferry push big.tar.gz --to REG2/bench; --cache-dir fresh; empty registry',
        prepare: (_data, dir) => emptyRegistry(dir),
        steps: ({ bundle }, dir, { registry }) => [
          { cmd: node, args: [FERRY, 'push', bundle, '--to', `${registry.host}/bench`, '--cache-dir', join(dir, 'cache'), '--mapping-file', join(dir, 'mapping.json'), '--json'], stdout: join(dir, 'report.json') },
        ],
        // ferry reads (and verifies) the whole bundle into its cache before its first request.
        poll: (_data, _dir, { registry }) => ({ upload: () => readFileSync(registry.log, 'utf8').includes('/blobs/') }),
        phaseLabels: { read: 'read bundle into cache', upload: 'upload' },
        async inspect(dir, t, { sourceDigest }, { registry, offset }) {
          const report = await ferryReport(join(dir, 'report.json'));
          const target = report.images[0].target.replace(/@sha256:[0-9a-f]{64}$/, '');
          const requests = requestSummary(await registry.requestsSince(offset));
          const digest = await manifestDigest(target);
          if (report.images[0].digest !== digest) throw new Error(`ferry push reported ${report.images[0].digest}, the registry serves ${digest}`);
          const u = t.marks.upload;
          return { target, digest, digestKept: digest === sourceDigest, requests, phases: u === undefined ? undefined : { read: u, upload: t.seconds - u } };
        },
        cleanup: (_data, _dir, prep) => prep?.registry.stop(),
      },
      {
        name: 'skopeo oci-archive',
        note: 'skopeo copy oci-archive:big-oci.tar docker://REG2/bench/big:1; empty registry',
        prepare: (_data, dir) => emptyRegistry(dir),
        steps: ({ ociArchive }, _dir, { registry }) => [{ cmd: 'skopeo', args: ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', `oci-archive:${ociArchive}`, `docker://${registry.host}/bench/big:1`] }],
        async inspect(_dir, _t, { sourceDigest }, { registry, offset }) {
          const target = `${registry.host}/bench/big:1`;
          const requests = requestSummary(await registry.requestsSince(offset));
          const digest = await manifestDigest(target);
          return { target, digest, digestKept: digest === sourceDigest, requests };
        },
        cleanup: (_data, _dir, prep) => prep?.registry.stop(),
      },
    ],
    targets(m, { sourceDigest }) {
      const ferry = m['ferry push'];
      const sk = m['skopeo oci-archive'];
      const kept = (runs) => runs.every((r) => r.digestKept);
      const digests = (runs) => [...new Set(runs.map((r) => r.digest.slice(0, 19)))].join(', ');
      return [
        { what: 'ferry push within 1.2x of skopeo oci-archive', value: `${(ferry.seconds / sk.seconds).toFixed(2)}x`, ok: ferry.seconds <= 1.2 * sk.seconds },
        { what: `ferry push keeps the manifest digest (source ${sourceDigest.slice(0, 19)})`, value: `pushed ${digests(ferry.runs)}`, ok: kept(ferry.runs) },
        { what: 'skopeo oci-archive copy keeps the manifest digest', value: `${kept(sk.runs) ? 'kept' : 'changed'}: pushed ${digests(sk.runs)}`, info: true },
        { what: 'registry requests, ferry push', value: fmtCounts(ferry.runs[0].requests), info: true },
        { what: 'registry requests, skopeo', value: fmtCounts(sk.runs[0].requests), info: true },
      ];
    },
  },
  {
    name: 'load',
    title: 'load the bundle into a private Docker engine (dockerd 20.10, vfs)',
    baseline: 'docker load',
    async setup(ctx) {
      const fixture = await ctx.fixture(ctx.opts.loadSize);
      const ref = await ctx.pushed(fixture, fixture.size === ctx.opts.size ? 'bench/big' : `bench/big-${fixture.size}`);
      const [bundle, engine] = await Promise.all([ctx.bundle(fixture, ref), ctx.docker()]);
      const v = await engine.docker(['version', '--format', '{{.Server.Version}} (API {{.Server.APIVersion}}), client {{.Client.Version}}']);
      return { ref, bytes: fixture.compressedBytes, fixture, bundle, engine, imageId: fixture.config.digest, engineVersion: v.stdout.trim() };
    },
    variants: [
      {
        name: 'ferry load',
        note: 'DOCKER_HOST=private engine ferry load big.tar.gz',
        prepare: ({ engine, ref }) => clearEngine(engine, ref),
        steps: ({ bundle, engine }, dir) => [{ cmd: node, args: [FERRY, 'load', bundle, '--json'], env: engine.env, stdout: join(dir, 'report.json') }],
        async inspect(dir, _t, { engine, ref, imageId }) {
          const report = await ferryReport(join(dir, 'report.json'));
          if (!report.loaded?.length) throw new Error(`ferry load loaded nothing: ${JSON.stringify(report)}`);
          await checkLoaded(engine, ref, imageId);
          return {};
        },
        cleanup: ({ engine, ref }) => clearEngine(engine, ref),
      },
      {
        name: 'docker load',
        note: 'docker load -i big.tar.gz (CLI 28.x, the same engine)',
        prepare: ({ engine, ref }) => clearEngine(engine, ref),
        steps: ({ bundle, engine }) => [{ cmd: 'docker', args: ['load', '-i', bundle], env: engine.env }],
        async inspect(_dir, _t, { engine, ref, imageId }) {
          await checkLoaded(engine, ref, imageId);
          return {};
        },
        cleanup: ({ engine, ref }) => clearEngine(engine, ref),
      },
    ],
    targets(m, { engineVersion, fixture }) {
      const ferry = m['ferry load'];
      const dl = m['docker load'];
      const slowest = Math.max(...ferry.runs.map((r) => r.seconds), ...dl.runs.map((r) => r.seconds));
      return [
        { what: 'ferry load within 1.1x of docker load', value: `${(ferry.seconds / dl.seconds).toFixed(2)}x`, ok: ferry.seconds <= 1.1 * dl.seconds },
        { what: `engine ${engineVersion}; image: the ${fixture.size} fixture`, value: `slowest load ${slowest.toFixed(1)} s${slowest > 60 && fixture.size === 'full' ? ' (> 60 s: consider --load-size small)' : ''}`, info: true },
      ];
    },
  },
  {
    name: 'export',
    title: `export ${FORTY.count} small images listed in a manifest file (cold cache)`,
    baseline: 'skopeo sync',
    setup: (ctx) => ctx.forty(),
    variants: [
      {
        name: 'ferry export',
        note: 'ferry export forty.yaml --cache-dir fresh',
        prepare: ({ manifestYaml }, dir) => writeFile(join(dir, 'forty.yaml'), manifestYaml),
        steps: (_data, dir) => ferryExportSteps(dir),
        watch: ['forty.tar.gz.partial'],
        phaseLabels: { pull: 'pull into cache', bundle: 'write bundle' },
        async inspect(dir, t, { refs }) {
          const report = await ferryReport(join(dir, 'report.json'));
          if (report.images?.length !== refs.length) throw new Error(`ferry export reported ${report.images?.length} images, expected ${refs.length}`);
          const p = t.marks['forty.tar.gz.partial'];
          return { outputBytes: (await stat(join(dir, 'forty.tar.gz'))).size, phases: p === undefined ? undefined : { pull: p, bundle: t.seconds - p } };
        },
      },
      {
        name: 'skopeo sync',
        note: 'skopeo sync --src yaml --dest dir',
        prepare: ({ syncYaml }, dir) => writeFile(join(dir, 'forty-sync.yaml'), syncYaml),
        steps: (_data, dir) => skopeoSyncSteps(dir),
        inspect: (dir, _t, { refs }) => checkSynced(dir, refs.length),
      },
    ],
    targets(m) {
      const ferry = m['ferry export'];
      const sk = m['skopeo sync'];
      return [{ what: 'ferry export faster than skopeo sync (ratio < 1)', value: `${(ferry.seconds / sk.seconds).toFixed(2)}x`, ok: ferry.seconds < sk.seconds }];
    },
  },
  {
    name: 'reexport',
    title: `re-export the ${FORTY.count} images right after an export, nothing changed (warm cache)`,
    baseline: 'skopeo sync (again)',
    setup: (ctx) => ctx.forty(),
    variants: [
      {
        name: 'ferry export (warm)',
        note: 'ferry export forty.yaml again, same cache, bundle and lock',
        async prepare({ manifestYaml, registry }, dir) {
          await writeFile(join(dir, 'forty.yaml'), manifestYaml);
          const steps = ferryExportSteps(dir);
          for (const s of steps) await runOk(s.cmd, s.args, { cwd: dir });
          await registry.requestsSince(0);
          return { offset: registry.logOffset() };
        },
        steps: (_data, dir) => ferryExportSteps(dir),
        async inspect(dir, _t, { refs, registry }, { offset }) {
          const report = await ferryReport(join(dir, 'report.json'), ['ok', 'unchanged']);
          const requests = await registry.requestsSince(offset);
          const gets = requests.filter((q) => q.method === 'GET' && /\/(manifests|blobs)\//.test(q.path)).length;
          const unchanged = report.images?.filter((i) => i.status === 'unchanged').length ?? 0;
          return { status: report.status, unchanged, images: refs.length, gets, requests: requestSummary(requests) };
        },
      },
      {
        // skopeo sync has no "nothing changed" mode: into the directory it synced to before it
        // refuses ("Refusing to overwrite destination directory"), so a nightly job syncs everything
        // again into a new one.
        name: 'skopeo sync (again)',
        note: 'skopeo sync again, everything, into a new dir (it refuses to overwrite the last one)',
        prepare: ({ syncYaml }, dir) => writeFile(join(dir, 'forty-sync.yaml'), syncYaml),
        steps: (_data, dir) => skopeoSyncSteps(dir),
        inspect: (dir, _t, { refs }) => checkSynced(dir, refs.length),
      },
      {
        name: 'floor (curl HEADs)',
        note: `one curl sending a HEAD per tag (${FORTY.count})`,
        steps: ({ refs }, dir) => [
          {
            cmd: 'curl',
            args: ['-sS', '--fail', '-I', '-H', 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json', ...refs.map((r) => {
              const [host, ...rest] = r.split('/');
              const path = rest.join('/');
              const i = path.lastIndexOf(':');
              return `http://${host}/v2/${path.slice(0, i)}/manifests/${path.slice(i + 1)}`;
            })],
            stdout: join(dir, 'heads.txt'),
          },
        ],
      },
    ],
    targets(m, { refs }) {
      const ferry = m['ferry export (warm)'];
      const sk = m['skopeo sync (again)'];
      const gets = Math.max(...ferry.runs.map((r) => r.gets));
      const unchanged = Math.min(...ferry.runs.map((r) => r.unchanged));
      return [
        { what: `ferry re-export of ${refs.length} unchanged images under 1 s`, value: `${ferry.seconds.toFixed(2)} s`, ok: ferry.seconds < 1 },
        { what: 'ferry re-export sends no GET of a manifest or blob (registry access log)', value: `${gets} GETs; requests per run: ${fmtCounts(ferry.runs[0].requests)}`, ok: gets === 0 },
        { what: 'ferry reports every image unchanged', value: `${unchanged} of ${refs.length}; status ${[...new Set(ferry.runs.map((r) => r.status))].join(', ')}`, ok: unchanged === refs.length },
        { what: 'ferry re-export vs skopeo sync run again', value: `${(ferry.seconds / sk.seconds).toFixed(2)}x`, info: true },
      ];
    },
  },
];

// ---------------------------------------------------------------------------------------------
// Report

function printTable(scenario, rows, targets, bytes, what = 'image') {
  const head = ['tool', 'median s', 'min-max s', 'MB/s', `vs ${scenario.baseline}`, 'CPU s', 'peak RSS MB'];
  const base = rows.find((r) => r.name === scenario.baseline);
  const body = rows.map((r) => [
    r.name,
    r.median.toFixed(2),
    `${Math.min(...r.seconds).toFixed(2)}-${Math.max(...r.seconds).toFixed(2)}`,
    (bytes / MB / r.median).toFixed(0),
    base ? `${(r.median / base.median).toFixed(2)}x` : '-',
    r.cpu.toFixed(2),
    (r.rssKB / 1024).toFixed(0),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const out = [
    '',
    `## ${scenario.name}: ${scenario.title}`,
    `${what}: ${fmtMB(bytes)} MB compressed; MB/s = compressed MB / median s; ratio = median / ${scenario.baseline}'s median; CPU s = user + system of the tool's own processes (median)`,
    '',
    line(head),
    `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
    ...body.map(line),
    '',
  ];
  for (const r of rows) if (r.phases) out.push(`${r.name} phases (median): ${Object.entries(r.phases).map(([k, v]) => `${r.phaseLabels?.[k] ?? k} ${v.toFixed(2)} s`).join(', ')}`);
  for (const r of rows) if (r.noisy) out.push(`note: ${r.name} runs spread ${r.noisy.toFixed(2)}x (max/min): other load on the machine? rerun this scenario (--only ${scenario.name} --runs 5)`);
  out.push('', 'targets:');
  for (const t of targets) out.push(`  [${t.info ? 'info' : t.ok ? 'met ' : 'MISS'}] ${t.what}: ${t.value}`);
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
  const versions = checkTools(chosen.map((s) => s.name));
  const ferryRoot = resolve(dirname(FERRY), '..');
  const build = ferryBuild(ferryRoot);

  await mkdir(WORK, { recursive: true });
  const tmp = await mkdtemp(join(WORK, 'run-'));
  let registry;
  cleanups.push(() => {
    if (opts.keep) log(`bench: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  });

  // Shared, lazily created resources for scenarios (each made once per bench run).
  const once = new Map();
  const lazy = (key, make) => {
    if (!once.has(key)) once.set(key, make());
    return once.get(key);
  };
  const stops = [];
  const ctx = {
    opts,
    tmp,
    fixture: (size = opts.size) => lazy(`fixture|${size}`, () => buildFixture(size)),
    async registry() {
      registry ??= await lazy('registry', () => startRegistry(join(tmp, 'registry')));
      return registry;
    },
    pushed: (fixture, repo) => lazy(`pushed|${fixture.dir}|${repo}`, async () => pushFixture(fixture, await ctx.registry(), repo)),
    /** The fixture as a ferry bundle (`ferry save`, once): the input of push and load. */
    bundle: (fixture, ref) =>
      lazy(`bundle|${ref}`, async () => {
        const dir = join(tmp, 'shared', `bundle-${fixture.size}`);
        await mkdir(dir, { recursive: true });
        const t0 = Date.now();
        await runOk(node, [FERRY, 'save', ref, '-o', join(dir, 'big.tar.gz'), '--cache-dir', join(dir, 'cache'), '-q']);
        await rm(join(dir, 'cache'), { recursive: true, force: true });
        log(`bench: made the bundle ${join(dir, 'big.tar.gz')} (ferry save) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        return join(dir, 'big.tar.gz');
      }),
    /** The fixture as an oci-archive (skopeo copy docker:// oci-archive:, once): skopeo's push input. */
    ociArchive: (fixture, ref) =>
      lazy(`oci-archive|${ref}`, async () => {
        const dir = join(tmp, 'shared', `oci-archive-${fixture.size}`);
        await mkdir(dir, { recursive: true });
        const out = join(dir, 'big-oci.tar');
        await runOk('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci-archive:${out}`]);
        return out;
      }),
    docker: () =>
      lazy('docker', async () => {
        const t0 = Date.now();
        const engine = await startDockerd(join(tmp, 'docker'));
        stops.push(() => engine.stop());
        log(`bench: private dockerd up at ${engine.host} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        return engine;
      }),
    /** The forty small images, pushed, and the two manifest files that list them. */
    forty: () =>
      lazy('forty', async () => {
        const fixture = await buildForty();
        const reg = await ctx.registry();
        const refs = await pushForty(fixture, reg, 'bench/forty');
        const manifestYaml = [`bundle: forty`, `images:`, ...refs.map((r) => `  - ${r}`), `registries:`, `  ${JSON.stringify(reg.host)}: { insecure: true }`, ''].join('\n');
        const repos = refs.map((r) => r.slice(reg.host.length + 1).replace(/:1$/, ''));
        const syncYaml = [`${JSON.stringify(reg.host)}:`, `  tls-verify: false`, `  images:`, ...repos.map((r) => `    ${r}: ["1"]`), ''].join('\n');
        return { refs, registry: reg, manifestYaml, syncYaml, bytes: fixture.compressedBytes, forty: fixture, what: `${refs.length} images (3 layers each)` };
      }),
  };

  const results = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1) },
    versions,
    ferryBuild: build,
    options: { size: opts.size, loadSize: opts.loadSize, runs: opts.runs, extraRounds: opts.extraRounds },
    scenarios: {},
  };
  const started = Date.now();
  try {
    for (const sc of chosen) {
      const scStart = Date.now();
      const data = await sc.setup(ctx);
      const raw = Object.fromEntries(sc.variants.map((v) => [v.name, []]));
      log(`bench: ${sc.name}: ${opts.runs} round(s) of ${sc.variants.length} tools, interleaved`);
      const round = async (r, label) => {
        for (const v of sc.variants) {
          if (v.runs !== undefined && raw[v.name].length >= v.runs) continue;
          const dir = join(tmp, 'runs', `${sc.name}-${v.name.replace(/[^a-z0-9]+/gi, '-')}-${r}`);
          await mkdir(dir, { recursive: true });
          let prep;
          try {
            prep = v.prepare ? await v.prepare(data, dir) : undefined;
            const t = await timeRun(v.steps(data, dir, prep), { dir, watch: v.watch, poll: v.poll?.(data, dir, prep) });
            const extra = v.inspect ? await v.inspect(dir, t, data, prep) : {};
            raw[v.name].push({ seconds: t.seconds, cpuSeconds: t.cpuSeconds, rssKB: Math.max(...t.rssKB), rssKBPerStep: t.rssKB, ...extra });
            const phases = extra.phases ? `  (${Object.entries(extra.phases).map(([k, x]) => `${k} ${x.toFixed(2)} s`).join(', ')})` : '';
            log(`bench:   run ${label.padEnd(4)} ${v.name.padEnd(20)} ${t.seconds.toFixed(2).padStart(7)} s  cpu ${t.cpuSeconds.toFixed(2).padStart(6)} s  ${(Math.max(...t.rssKB) / 1024).toFixed(0).padStart(5)} MB RSS${phases}`);
          } finally {
            if (v.cleanup) await v.cleanup(data, dir, prep);
          }
          await rm(dir, { recursive: true, force: true });
          // Flush this run's writes so they do not slow the next one down.
          await runOk('sync', []);
        }
      };
      for (let r = 1; r <= opts.runs; r++) await round(r, `${r}/${opts.runs}`);
      // Other work on the machine (e2e tests) disturbs single runs: when a tool's runs spread
      // widely, run more rounds and take the median of all.
      const spread = (name) => Math.max(...raw[name].map((x) => x.seconds)) / Math.min(...raw[name].map((x) => x.seconds));
      const isNoisy = (name) => spread(name) > NOISY && Math.max(...raw[name].map((x) => x.seconds)) - Math.min(...raw[name].map((x) => x.seconds)) > NOISY_S;
      for (let extra = 1; extra <= opts.extraRounds; extra++) {
        const noisy = sc.variants.filter((v) => v.runs === undefined && isNoisy(v.name));
        if (!noisy.length) break;
        log(`bench:   noisy (${noisy.map((v) => `${v.name} ${spread(v.name).toFixed(2)}x`).join(', ')}): one more round`);
        await round(opts.runs + extra, `+${extra}`);
      }
      const rows = sc.variants.map((v) => {
        const runs = raw[v.name];
        const keys = runs.every((x) => x.phases) ? Object.keys(runs[0].phases) : [];
        const phases = keys.length ? Object.fromEntries(keys.map((k) => [k, median(runs.map((x) => x.phases[k]))])) : undefined;
        const sp = spread(v.name);
        return { name: v.name, note: v.note, seconds: runs.map((x) => x.seconds), median: median(runs.map((x) => x.seconds)), cpu: median(runs.map((x) => x.cpuSeconds)), rssKB: Math.max(...runs.map((x) => x.rssKB)), phaseLabels: v.phaseLabels, ...(phases ? { phases } : {}), ...(isNoisy(v.name) ? { noisy: sp } : {}) };
      });
      const byName = Object.fromEntries(rows.map((r) => [r.name, { seconds: r.median, rssKB: r.rssKB, runs: raw[r.name] }]));
      const targets = sc.targets ? sc.targets(byName, data) : [];
      printTable(sc, rows, targets, data.bytes, data.what);
      const base = rows.find((r) => r.name === sc.baseline);
      results.scenarios[sc.name] = {
        title: sc.title,
        baseline: sc.baseline,
        bytes: data.bytes,
        wallSeconds: (Date.now() - scStart) / 1000,
        fixture: data.fixture ? { size: data.fixture.size, version: data.fixture.version, compressedBytes: data.fixture.compressedBytes, uncompressedBytes: data.fixture.uncompressedBytes, layers: data.fixture.layers } : data.forty ? { version: data.forty.version, images: data.forty.images.length, compressedBytes: data.forty.compressedBytes } : undefined,
        tools: Object.fromEntries(
          rows.map((r) => [r.name, { note: r.note, medianSeconds: r.median, medianCpuSeconds: r.cpu, MBps: data.bytes / MB / r.median, ratioVsBaseline: base ? r.median / base.median : null, peakRssMB: r.rssKB / 1024, phasesMedian: r.phases ?? null, spread: spread(r.name), runs: raw[r.name] }]),
        ),
        targets,
      };
    }
    if (build.distBuilt && ferryBuild(ferryRoot).distBuilt !== build.distBuilt) {
      results.warnings = ['dist/ was rebuilt during the run: ferry numbers may mix two builds'];
      log(`\nbench: warning: ${results.warnings[0]}; run again`);
    }
    results.wallSeconds = (Date.now() - started) / 1000;
    await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    log(`\nbench: ${chosen.length} scenario(s) in ${(results.wallSeconds / 60).toFixed(1)} min; raw numbers in ${RESULTS}`);
    return 0;
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err) => log(`bench: stopping: ${err.message}`));
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
